"""Run a playbook: its checks concurrently, then the causes their results imply.

Each check runs as soon as the checks it ``needs`` have passed, under its own timeout. A check
that cannot run (timeout, API error, unreachable backend) becomes a finding with status ``error``
and a reason; it never stops the others. A check whose dependency did not pass is ``skipped``.
"""

from __future__ import annotations

import asyncio
import re
import logging
import time
import uuid
from datetime import datetime, timezone
from typing import Awaitable, Callable

from jmespath.exceptions import JMESPathError

from bot.checks import RUNNERS, Check, CheckContext, CheckOutcome, CheckStatus, Evidence
from bot.diagnosis import Candidate, CauseFinding, Diagnosis, Finding, Verdict
from bot.errors import BackendError, BackendTimeout, ClusterError, ClusterForbidden, ClusterNotFound, ConfigError
from bot.i18n import LocalizedText, both
from bot.playbooks.schema import Playbook
from bot.playbooks.template import render, render_tree, variables_from
from bot.logs import RUN_ID
from bot.redact import redact

__all__ = ["FindingCallback", "resolve_inputs", "run_playbook"]

logger = logging.getLogger(__name__)

FindingCallback = Callable[[Finding], Awaitable[None]]


def resolve_inputs(playbook: Playbook, given: dict[str, str]) -> dict[str, str]:
    """Validate the request's inputs against the playbook, filling defaults.

    Raises ConfigError naming a missing or invalid value and how to give it.
    """
    values: dict[str, str] = {}
    for spec in playbook.inputs:
        value = given.get(spec.name) or spec.default
        if value is None:
            raise ConfigError.of("input_missing", playbook=playbook.id, name=spec.name)
        if not re.fullmatch(spec.pattern, value):
            raise ConfigError.of("input_invalid", name=spec.name, value=repr(value), pattern=spec.pattern)
        values[spec.name] = value
    return values


async def run_playbook(
    playbook: Playbook,
    ctx: CheckContext,
    *,
    query: str = "",
    inputs: dict[str, str] | None = None,
    candidates: list[Candidate] | None = None,
    on_finding: FindingCallback | None = None,
    run_id: str | None = None,
) -> Diagnosis:
    """Run every check of ``playbook`` and return the diagnosis."""
    started = time.perf_counter()
    run_id = run_id or uuid.uuid4().hex[:12]
    RUN_ID.set(run_id)
    values = resolve_inputs(playbook, inputs or {})
    variables = variables_from(ctx.namespace, ctx.settings.targets, values)
    run_ctx = CheckContext(settings=ctx.settings, cluster=ctx.cluster, backends=ctx.backends, variables=variables, namespace=ctx.namespace)
    diagnosis = Diagnosis(
        run_id=run_id,
        query=redact(query),
        playbook_id=playbook.id,
        playbook_title=playbook.title,
        namespace=ctx.namespace,
        inputs=values,
        started_at=datetime.now(timezone.utc),
        candidates=candidates or [],
    )

    findings = await _run_checks(playbook, run_ctx, on_finding)
    diagnosis.findings = [findings[check.id] for check in playbook.checks]
    statuses = {check_id: finding.status for check_id, finding in findings.items()}
    diagnosis.causes = [_cause_finding(cause, variables) for cause in playbook.causes if cause.when.holds(statuses)]
    diagnosis.commands = [_fill(command, variables) for command in playbook.commands]
    diagnosis.verdict = _verdict(diagnosis)
    diagnosis.duration_ms = int((time.perf_counter() - started) * 1000)

    logger.info(
        "diagnosis run_id=%s playbook=%s verdict=%s causes=%s duration_ms=%d",
        diagnosis.run_id,
        playbook.id,
        diagnosis.verdict,
        ",".join(cause.cause_id for cause in diagnosis.causes) or "-",
        diagnosis.duration_ms,
    )
    return diagnosis


async def _run_checks(playbook: Playbook, ctx: CheckContext, on_finding: FindingCallback | None) -> dict[str, Finding]:
    loop = asyncio.get_running_loop()
    done: dict[str, asyncio.Future[Finding]] = {check.id: loop.create_future() for check in playbook.checks}

    async def run_one(check: Check) -> None:
        needed = [await done[name] for name in check.needs]
        blocked = [finding.check_id for finding in needed if finding.status is not CheckStatus.PASS]
        if blocked:
            title = _fill_text(check.title, ctx.variables)
            finding = Finding(check.id, title, CheckStatus.SKIPPED, reason=both("reason.skipped", checks=", ".join(blocked)))
        else:
            finding = await _run_check(check, ctx)
        done[check.id].set_result(finding)
        if on_finding is not None:
            try:
                await on_finding(finding)
            except Exception:  # a progress update must never fail the diagnosis
                logger.warning("progress callback failed for check %s", check.id, exc_info=True)

    await asyncio.gather(*(run_one(check) for check in playbook.checks))
    return {check_id: future.result() for check_id, future in done.items()}


async def _run_check(check: Check, ctx: CheckContext) -> Finding:
    started = time.perf_counter()
    timeout = check.timeout_s or ctx.settings.checks.default_timeout_s
    try:
        rendered = type(check).model_validate(render_tree(check.model_dump(exclude_unset=True), ctx.variables))
        outcome = await asyncio.wait_for(RUNNERS[check.kind](rendered, ctx), timeout=timeout)
    except Exception as exc:  # every failure to run becomes an error finding; see _reason
        outcome = CheckOutcome(CheckStatus.ERROR, reason=_reason(exc, timeout))
        if outcome.reason is not None and not isinstance(exc, (ClusterError, BackendError, TimeoutError, JMESPathError)):
            logger.error("check %s failed unexpectedly", check.id, exc_info=True)
        else:
            logger.warning("check %s error: %s", check.id, exc)
    duration_ms = int((time.perf_counter() - started) * 1000)
    evidence = [_redacted_evidence(item) for item in outcome.evidence]
    reason = _redacted_text(outcome.reason) if outcome.reason is not None else None
    title = _fill_text(check.title, ctx.variables)
    return Finding(check.id, title, outcome.status, evidence, reason, duration_ms)


def _redacted_text(text: LocalizedText) -> LocalizedText:
    return LocalizedText(ko=redact(text.ko), en=redact(text.en))


def _redacted_evidence(item: Evidence) -> Evidence:
    """Mask credentials in what a check observed; evidence quotes configs, env, logs and bodies."""
    detail = redact(item.detail) if item.detail else item.detail
    return Evidence(text=_redacted_text(item.text), ok=item.ok, detail=detail)


def _reason(exc: Exception, timeout: float) -> LocalizedText:
    if isinstance(exc, (TimeoutError, BackendTimeout)):
        return both("reason.timeout", seconds=f"{timeout:g}")
    if isinstance(exc, ClusterForbidden):
        return both("reason.forbidden", verb=exc.verb, resource=exc.resource, message=str(exc))
    if isinstance(exc, ClusterNotFound):
        return both("reason.not_found", message=str(exc))
    if isinstance(exc, ClusterError):
        return both("reason.cluster", message=str(exc))
    if isinstance(exc, BackendError):
        return both("reason.backend", message=str(exc))
    if isinstance(exc, KeyError):
        return both("reason.placeholder", name=str(exc).strip("'"))
    if isinstance(exc, JMESPathError):
        return both("reason.expression", message=str(exc))
    return both("reason.internal", error=type(exc).__name__)


def _cause_finding(cause, variables: dict[str, str]) -> CauseFinding:
    return CauseFinding(
        cause_id=cause.id,
        title=cause.title,
        explanation=cause.explanation,
        patch_path=_fill(cause.patch.path, variables),
        patch_format=cause.patch.format,
        patch_content=_fill(cause.patch.content, variables),
        patch_note=_fill_text(cause.patch.note, variables) if cause.patch.note else None,
        verify=[_fill(command, variables) for command in cause.verify],
    )


def _fill_text(text: LocalizedText, variables: dict[str, str]) -> LocalizedText:
    return LocalizedText(ko=_fill(text.ko, variables), en=_fill(text.en, variables))


def _fill(text: str, variables: dict[str, str]) -> str:
    try:
        return render(text, variables)
    except KeyError:
        return text


def _verdict(diagnosis: Diagnosis) -> Verdict:
    statuses = {finding.status for finding in diagnosis.findings}
    if diagnosis.causes or CheckStatus.FAIL in statuses:
        return Verdict.PROBLEM
    if CheckStatus.ERROR in statuses:
        return Verdict.INCONCLUSIVE
    return Verdict.HEALTHY
