"""Check kinds: each module defines a parameters model and an async ``run``.

``Check`` is the union of the kinds' models, discriminated by ``kind``; ``RUNNERS`` maps a kind to
its ``run`` function. Every kind only reads.
"""

from __future__ import annotations

from typing import Annotated, Any, Awaitable, Callable, Union

from pydantic import Field

from bot.checks import config, http, k8s_object, pod_logs, promql, service_ref
from bot.checks import combined
from bot.checks import config_by_label, mount_ref
from bot.checks import workload_env
from bot.checks.base import CheckBase, CheckContext, CheckOutcome, CheckStatus, Evidence

__all__ = ["KINDS", "RUNNERS", "Check", "CheckBase", "CheckContext", "CheckOutcome", "CheckStatus", "Evidence"]

Check = Annotated[
    Union[
        k8s_object.K8sObjectCheck,
        pod_logs.PodLogsCheck,
        config.ConfigCheck,
        http.HttpCheck,
        promql.PromqlCheck,
        service_ref.ServiceRefCheck,
        combined.CombinedCheck,
        config_by_label.ConfigByLabelCheck,
        mount_ref.MountRefCheck,
        workload_env.WorkloadEnvCheck,
    ],
    Field(discriminator="kind"),
]

RUNNERS: dict[str, Callable[[Any, CheckContext], Awaitable[CheckOutcome]]] = {
    "k8s_object": k8s_object.run,
    "pod_logs": pod_logs.run,
    "config": config.run,
    "http": http.run,
    "promql": promql.run,
    "service_ref": service_ref.run,
    "combined": combined.run,
    "config_by_label": config_by_label.run,
    "mount_ref": mount_ref.run,
    "workload_env": workload_env.run,
}

KINDS = tuple(RUNNERS)
