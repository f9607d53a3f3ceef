"""Read a Kubernetes object (or a labelled list of them) and assert on its fields."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from bot.checks.base import CheckBase, CheckContext, CheckOutcome, Evidence, evaluate_assertions
from bot.errors import ClusterNotFound
from bot.i18n import both

__all__ = ["K8sObjectCheck", "run"]


class K8sObjectCheck(CheckBase):
    """Assertions on one object by name, or on ``{items, count}`` of a label-selected list."""

    kind: Literal["k8s_object"]
    resource: Literal[
        "deployment", "statefulset", "daemonset", "service", "endpoints", "configmap", "pod", "pvc", "event"
    ]
    name: str | None = Field(default=None, description="Object name; with no name the check lists objects.")
    selector: str | None = Field(default=None, description="Label selector for a list, e.g. app=tempo.")
    namespace: str | None = Field(default=None, description="Namespace; the configured one when unset.")
    not_found: Literal["fail", "error"] = Field(
        default="error", description="What a missing object makes of the check: a finding (fail) or an error."
    )

    @model_validator(mode="after")
    def _name_or_selector(self) -> "K8sObjectCheck":
        if self.name and self.selector:
            raise ValueError("give either name or selector, not both")
        return self


async def run(check: K8sObjectCheck, ctx: CheckContext) -> CheckOutcome:
    namespace = check.namespace or ctx.namespace
    cluster = ctx.cluster
    if cluster is None:
        raise ClusterNotFound("no cluster configured")

    if check.name:
        try:
            document: Any = await cluster.get(check.resource, check.name, namespace)
        except ClusterNotFound:
            if check.not_found == "error":
                raise
            text = both("evidence.object_not_found", kind=check.resource, name=f"{namespace}/{check.name}")
            return CheckOutcome.from_evidence([Evidence(text=text, ok=False)])
    else:
        items = await cluster.list(check.resource, namespace, label_selector=check.selector)
        document = {"items": items, "count": len(items)}

    return CheckOutcome.from_evidence(evaluate_assertions(check.expect, document))
