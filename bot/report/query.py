"""Render named query results for people: ``12.3 req/s``, ``0.52 %``, ``p95 183 ms``.

The text form lists one line per series and the PromQL that produced it. The JSON form keeps the
number (null for NaN and infinities, which JSON cannot carry) beside the text a person reads.
"""

from __future__ import annotations

import json
import math
from typing import Any

from bot.i18n import tr
from bot.queries import Objective, QueryDefinition, QueryResult, Series, Unit

__all__ = ["format_value", "query_to_dict", "render_query_json", "render_query_list", "render_query_text"]

_OPERATORS = {"<": "<", "<=": "≤", ">": ">", ">=": "≥"}


def format_value(value: float | None, unit: Unit, lang: str) -> str:
    """Render a value in its unit; NaN (no requests in the window) and +Inf get words instead."""
    if value is None:
        return "-"
    if math.isnan(value):
        return tr(lang, "query.no_requests")
    if math.isinf(value):
        return tr(lang, "query.infinite") if value > 0 else "-∞"

    if unit == "requests-per-second":
        return f"{_number(value)} req/s"
    if unit == "seconds":
        if abs(value) < 1:
            return f"{_number(value * 1000)} ms"
        return f"{_number(value)} s"
    percent = value * 100 if unit == "ratio" else value
    # Availability near 100 % needs the third decimal: 99.95 % and 99.9 % are different budgets.
    if abs(percent) >= 99:
        return f"{_strip(f'{percent:.3f}')} %"
    return f"{_number(percent)} %"


def _number(value: float) -> str:
    """Round for reading: whole numbers from 100, one decimal from 10, two from 1, else two significant digits."""
    magnitude = abs(value)
    if magnitude == 0:
        return "0"
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return _strip(f"{value:.1f}")
    if magnitude >= 1:
        return _strip(f"{value:.2f}")
    places = 1 - math.floor(math.log10(magnitude))
    return _strip(f"{value:.{places}f}")


def _strip(text: str) -> str:
    return text.rstrip("0").rstrip(".") if "." in text else text


def _display(series: Series, definition: QueryDefinition, lang: str) -> str:
    text = format_value(series.value, definition.unit, lang)
    finite = series.value is not None and math.isfinite(series.value)
    return f"{definition.stat} {text}" if definition.stat and finite else text


def _objective_text(objective: Objective, unit: Unit, lang: str) -> str:
    return f"{_OPERATORS[objective.op]} {format_value(objective.value, unit, lang)}"


def _labels_text(labels: dict[str, str], result: QueryResult, lang: str) -> str:
    if labels:
        return ", ".join(f"{key}={value}" for key, value in sorted(labels.items()))
    service = result.query.service
    return tr(lang, "query.service", service=service) if service else tr(lang, "query.all_services")


def render_query_text(result: QueryResult, lang: str) -> str:
    """Render a header, one line per series (with the objective when there is one) and the PromQL."""
    prepared = result.query
    definition = prepared.definition
    scope = tr(lang, "query.service", service=prepared.service) if prepared.service else tr(lang, "query.all_services")
    lines = [tr(lang, "query.header", title=definition.title.get(lang), scope=scope, window=prepared.window)]

    if result.error is not None:
        lines.append("  " + tr(lang, "query.failed", name=definition.name, message=result.error))
    elif not result.series:
        lines.append("  " + tr(lang, "query.no_series"))
    else:
        labels = [_labels_text(series.labels, result, lang) for series in result.series]
        width = max(len(text) for text in labels)
        for text, series in zip(labels, result.series):
            line = f"  {text.ljust(width)}  {_display(series, definition, lang)}"
            if definition.objective is not None:
                line += f"  ({_objective_line(definition, series, lang)})"
            lines.append(line)

    lines.append("")
    lines.append("PromQL:")
    lines.extend(f"  {line}" for line in prepared.promql.splitlines())
    return "\n".join(lines)


def _objective_line(definition: QueryDefinition, series: Series, lang: str) -> str:
    objective = definition.objective
    assert objective is not None
    target = tr(lang, "query.objective", objective=_objective_text(objective, definition.unit, lang))
    met = objective.met(series.value)
    if met is None:
        return target
    return f"{target}: {tr(lang, 'query.objective_met' if met else 'query.objective_missed')}"


def query_to_dict(result: QueryResult, lang: str) -> dict[str, Any]:
    """Return the result as plain data in ``lang``; values that JSON cannot carry become null."""
    prepared = result.query
    definition = prepared.definition
    objective = definition.objective
    return {
        "name": definition.name,
        "title": definition.title.get(lang),
        "unit": definition.unit,
        "service": prepared.service,
        "window": prepared.window,
        "promql": prepared.promql,
        "objective": None
        if objective is None
        else {"op": objective.op, "value": objective.value, "display": _objective_text(objective, definition.unit, lang)},
        "series": [
            {
                "labels": dict(series.labels),
                "value": series.value if series.value is not None and math.isfinite(series.value) else None,
                "display": _display(series, definition, lang),
                "objective_met": objective.met(series.value) if objective is not None else None,
            }
            for series in result.series
        ],
        "error": result.error,
    }


def render_query_json(result: QueryResult, lang: str) -> str:
    return json.dumps(query_to_dict(result, lang), ensure_ascii=False, indent=2)


def render_query_list(definitions: dict[str, QueryDefinition], lang: str, *, as_json: bool = False) -> str:
    """List the query names with their titles, units and default windows."""
    if as_json:
        rows = [
            {
                "name": item.name,
                "title": item.title.get(lang),
                "unit": item.unit,
                "window": item.window,
                "service_required": item.service_required,
            }
            for item in definitions.values()
        ]
        return json.dumps(rows, ensure_ascii=False, indent=2)
    width = max(len(name) for name in definitions)
    lines = [tr(lang, "query.list_header")]
    lines.extend(f"  {item.name.ljust(width)}  {item.title.get(lang)} ({item.window})" for item in definitions.values())
    return "\n".join(lines)
