"""Run a PromQL instant query and assert on the result.

The document is ``{count, value, values, series, names}``: the number of series, the first value,
all values, each series' labels and the metric names present.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from bot.backends import decode_json
from bot.checks.base import CheckBase, CheckContext, CheckOutcome, CheckStatus, evaluate_assertions
from bot.checks.http import BACKEND_NAME
from bot.i18n import both

__all__ = ["PromqlCheck", "query", "run"]


class PromqlCheck(CheckBase):
    """Assertions on the result of an instant query."""

    kind: Literal["promql"]
    query: str = Field(min_length=1, description="PromQL expression; {service} and {window} placeholders are filled.")
    backend: str = Field(default="prometheus", pattern=BACKEND_NAME, description="Backend that serves /api/v1/query.")


async def query(ctx: CheckContext, expression: str, *, backend: str = "prometheus", timeout_s: float) -> dict[str, Any] | str:
    """Run an instant query; return the result document, or Prometheus' error message as a string."""
    response = await ctx.backends.get(backend, "/api/v1/query", params=[("query", expression)], timeout_s=timeout_s)
    payload = decode_json(response) if response.body else {}
    if response.status != 200 or payload.get("status") != "success":
        return str(payload.get("error") or f"HTTP {response.status}")
    return result_document(payload.get("data") or {})


def result_document(data: dict[str, Any]) -> dict[str, Any]:
    """Turn ``data`` of a query response into the document assertions run on."""
    result_type = data.get("resultType")
    result = data.get("result")
    if result_type == "scalar" or result_type == "string":
        value = _number(result[1]) if isinstance(result, list) and len(result) == 2 else None
        return {"count": 1, "value": value, "values": [value], "series": [], "names": []}
    series = [item.get("metric") or {} for item in result or []]
    values = [_number((item.get("value") or [None, None])[1]) for item in result or []]
    names = sorted({labels.get("__name__") for labels in series if labels.get("__name__")})
    return {"count": len(series), "value": values[0] if values else None, "values": values, "series": series, "names": names}


def _number(raw: Any) -> float | None:
    try:
        return float(raw)
    except (TypeError, ValueError):
        return None


async def run(check: PromqlCheck, ctx: CheckContext) -> CheckOutcome:
    timeout = check.timeout_s or ctx.settings.checks.default_timeout_s
    document = await query(ctx, check.query, backend=check.backend, timeout_s=timeout)
    if isinstance(document, str):
        reason = both("evidence.promql_failed", query=check.query, message=document)
        return CheckOutcome(CheckStatus.ERROR, reason=reason)
    return CheckOutcome.from_evidence(evaluate_assertions(check.expect, document))
