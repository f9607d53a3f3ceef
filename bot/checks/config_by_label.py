"""Parse the keys of every ConfigMap a label selector picks, and assert on each parsed document.

Made for sets of ConfigMaps that only a label ties together, such as Grafana dashboards labelled
``grafana_dashboard: "1"``. A key that does not parse is reported with its ConfigMap, key, line
and column. Evidence lists each failure with its ``CONFIGMAP/KEY`` and ends with a count of the
keys that met every assertion, so a healthy set of forty dashboards stays one line long.
"""

from __future__ import annotations

import fnmatch
from typing import Literal

from pydantic import Field

from bot.checks.base import CheckBase, CheckContext, CheckOutcome, Evidence, evaluate_assertions
from bot.checks.config import ParseFailure, excerpt, parse_document, parse_failure_text
from bot.errors import ClusterNotFound
from bot.i18n import LocalizedText, both

__all__ = ["ConfigByLabelCheck", "run"]


class ConfigByLabelCheck(CheckBase):
    """Assertions on the parsed content of each matching key of each ConfigMap a selector picks."""

    kind: Literal["config_by_label"]
    selector: str = Field(min_length=1, description="Label selector of the ConfigMaps, e.g. grafana_dashboard=1.")
    key: str = Field(default="*", description="Data key, or a glob such as *.json; other keys are ignored.")
    format: Literal["auto", "yaml", "json"] = Field(default="auto", description="auto picks JSON for .json keys, YAML otherwise.")
    namespace: str | None = None
    invalid: Literal["fail", "note"] = Field(
        default="fail",
        description="What the check reports for a key that does not parse: a failure, or a note when another check owns parsing.",
    )
    missing: Literal["fail", "error"] = Field(
        default="error", description="What the check reports when no ConfigMap has a matching key: a failure, or an error."
    )


async def run(check: ConfigByLabelCheck, ctx: CheckContext) -> CheckOutcome:
    namespace = check.namespace or ctx.namespace
    if ctx.cluster is None:
        raise ClusterNotFound("no cluster configured")

    configmaps = await ctx.cluster.list("configmap", namespace, label_selector=check.selector)
    entries = [
        (configmap["metadata"]["name"], key, text)
        for configmap in sorted(configmaps, key=lambda item: item["metadata"]["name"])
        for key, text in sorted((configmap.get("data") or {}).items())
        if fnmatch.fnmatchcase(key, check.key)
    ]
    if not entries:
        text = both("evidence.configs_none", namespace=namespace, selector=check.selector, config_key=check.key)
        if check.missing == "error":
            raise ClusterNotFound(text.en)
        return CheckOutcome.from_evidence([Evidence(text=text, ok=False)])

    evidence: list[Evidence] = []
    passed = 0
    for name, key, text in entries:
        try:
            document = parse_document(text, key=key, format=check.format)
        except ParseFailure as exc:
            evidence.append(_parse_failure(check, namespace, name, key, text, exc))
            continue
        failed = [item for item in evaluate_assertions(check.expect, document) if item.ok is False]
        evidence.extend(_located(item, f"{name}/{key}") for item in failed)
        passed += not failed

    names = {name for name, _, _ in entries}
    summary = both("evidence.configs_summary", passed=passed, total=len(entries), configmaps=len(names), selector=check.selector)
    evidence.append(Evidence(text=summary))
    return CheckOutcome.from_evidence(evidence)


def _parse_failure(
    check: ConfigByLabelCheck, namespace: str, name: str, key: str, text: str, exc: ParseFailure
) -> Evidence:
    message = parse_failure_text(name, key, namespace, exc)
    ok = False if check.invalid == "fail" else None
    return Evidence(text=message, ok=ok, detail=excerpt(text, exc.line))


def _located(item: Evidence, location: str) -> Evidence:
    text = LocalizedText(ko=f"{location}: {item.text.ko}", en=f"{location}: {item.text.en}")
    return Evidence(text=text, ok=item.ok, detail=item.detail)
