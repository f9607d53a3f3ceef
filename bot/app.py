"""Composition root: build the clients, playbooks and matcher from settings, and close them."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from typing import AsyncIterator

from bot.backends import BackendClient
from bot.checks import CheckContext
from bot.cluster import ClusterReader, connect, in_cluster
from bot.config import Settings
from bot.errors import ClusterError
from bot.http import build_async_client
from bot.playbooks.loader import PlaybookSet, load_playbooks
from bot.playbooks.matcher import Matcher
from bot.playbooks.template import variables_from
from bot.rbac import Permission, blocked_checks, required_permissions

__all__ = ["Catalog", "Runtime", "check_access", "known_variables", "load_catalog", "open_runtime", "review_access"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Catalog:
    """The loaded playbooks, a matcher over them, and the checks that missing permissions block.

    ``blocked`` maps ``playbook/check`` ids to the permissions they lack; ``review_access`` fills
    it when the Slack app starts, and it is empty until then.
    """

    playbooks: PlaybookSet
    matcher: Matcher
    blocked: dict[str, list[Permission]] = field(default_factory=dict)


@dataclass(frozen=True)
class Runtime:
    """Clients for one cluster, ready to run checks."""

    settings: Settings
    cluster: ClusterReader
    backends: BackendClient

    def context(self, namespace: str | None = None) -> CheckContext:
        namespace = namespace or self.settings.cluster.namespace
        variables = variables_from(namespace, self.settings.targets, {})
        return CheckContext(settings=self.settings, cluster=self.cluster, backends=self.backends, variables=variables, namespace=namespace)


def known_variables(settings: Settings) -> set[str]:
    """Return the placeholder names that settings define (inputs add their own per playbook)."""
    return set(variables_from(settings.cluster.namespace, settings.targets, {}))


def load_catalog(settings: Settings) -> Catalog:
    """Load and validate the playbooks, and index them for matching; raises PlaybookError."""
    playbooks = load_playbooks(settings.playbooks.dirs, known_variables=known_variables(settings))
    logger.info("loaded %d playbooks from %s", len(playbooks), ", ".join(str(path) for path in settings.playbooks.dirs))
    return Catalog(playbooks=playbooks, matcher=Matcher(playbooks))


@asynccontextmanager
async def open_runtime(settings: Settings) -> AsyncIterator[Runtime]:
    """Connect to the cluster and open the backend HTTP client; close both on exit."""
    cluster = connect(settings.cluster)
    http = build_async_client(timeout_s=settings.checks.default_timeout_s)
    backends = BackendClient(
        settings.backends,
        namespace=settings.cluster.namespace,
        checks=settings.checks,
        http=http,
        cluster=cluster,
        direct=in_cluster() and settings.cluster.mode != "kubeconfig",
    )
    try:
        yield Runtime(settings=settings, cluster=cluster, backends=backends)
    finally:
        await http.aclose()
        await cluster.close()


async def check_access(runtime: Runtime, catalog: Catalog) -> dict[str, list[Permission]]:
    """Ask the API server which needed permissions this identity has; log and return blocked checks."""
    needed = required_permissions(catalog.playbooks)
    namespace = runtime.settings.cluster.namespace
    allowed = {}
    for permission in needed:
        allowed[permission] = await runtime.cluster.can_i(
            permission.verb, permission.resource, group=permission.api_group, namespace=namespace
        )
    blocked = blocked_checks(needed, allowed)
    for check, missing in sorted(blocked.items()):
        logger.warning("check %s will fail: missing permission %s in namespace %s", check, ", ".join(map(str, missing)), namespace)
    if not blocked:
        logger.info("all %d permissions the playbooks need are granted in namespace %s", len(needed), namespace)
    return blocked


async def review_access(runtime: Runtime, catalog: Catalog) -> Catalog:
    """Return ``catalog`` with ``blocked`` filled by asking the API server which permissions this identity has.

    A review that cannot complete, because the API server is unreachable or forbids the review, is
    logged and leaves ``blocked`` empty. Each check then reports its missing permission when it runs.
    """
    try:
        blocked = await check_access(runtime, catalog)
    except ClusterError as exc:
        logger.warning("could not ask the API server which permissions otelbot has; checks report missing ones when they run: %s", exc)
        return catalog
    return replace(catalog, blocked=blocked)
