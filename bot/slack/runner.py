"""Run diagnoses for Slack: post the report, update it as checks finish, and recheck it.

A report's context lives in a ``RunRecord`` in the state store, named by an opaque run id that is
the only thing a button carries. A run holds a lock on its message (``message:CHANNEL:TS``), so a
Recheck pressed while checks are running is refused instead of starting a second run, on this
replica or any other that shares the store. The full evidence of each run is appended to the
thread's history for Show evidence. Every log line of a run carries its run id (``RUN_ID``).
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import StrEnum
from typing import Callable

from bot.app import Catalog, Runtime
from bot.checks import CheckStatus
from bot.config import Settings
from bot.diagnosis import Candidate, Diagnosis, Finding
from bot.engine import FindingCallback, run_playbook
from bot.logs import RUN_ID
from bot.metrics import ErrorKind, Metrics
from bot.playbooks.schema import Playbook
from bot.report.blocks import (
    Alternative,
    Message,
    Recheck,
    ReportContext,
    compare_statuses,
    escape,
    evidence_document,
    render_evidence,
    render_progress,
    render_report,
)
from bot.selection import extract_inputs
from bot.slack.client import SlackCallError, SlackClient
from bot.slack.messages import Choice, failed, interrupted, notice
from bot.slack.progress import ProgressMessage
from bot.state import RunRecord, StateStore

__all__ = ["DiagnosisRunner", "Origin", "Outcome", "RUN_ID_PATTERN", "input_problem"]

logger = logging.getLogger(__name__)

RUN_ID_PATTERN = re.compile(r"^[0-9a-f]{16}$")
HISTORY_MAX_ENTRIES = 20
ALTERNATIVES_MAX = 2
# How long a diagnosis cancelled at shutdown may take to replace its running view.
INTERRUPTED_UPDATE_S = 3.0


@dataclass(frozen=True)
class Origin:
    """Source of a request: channel, user, and the thread for the report (empty: the report starts its own)."""

    channel: str
    user: str
    thread_ts: str = ""


class Outcome(StrEnum):
    """Result of a button press. Every value but DONE is the catalog key of the notice the presser gets."""

    DONE = "done"
    EXPIRED = "slack.expired"
    BUSY = "slack.busy"
    ALREADY_STARTED = "slack.already_started"


class DiagnosisRunner:
    """Run playbooks on behalf of Slack users and keep their report messages current."""

    def __init__(
        self,
        *,
        settings: Settings,
        catalog: Catalog,
        runtime: Runtime,
        store: StateStore,
        slack: SlackClient,
        metrics: Metrics,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._settings = settings
        self._catalog = catalog
        self._runtime = runtime
        self._store = store
        self._slack = slack
        self._metrics = metrics
        self._clock = clock
        self._slots = asyncio.Semaphore(settings.slack.max_concurrent_runs)

    @property
    def _retention_s(self) -> int:
        return self._settings.state.retention_s

    def new_record(self, origin: Origin, playbook: Playbook, *, query: str, inputs: dict[str, str], lang: str) -> RunRecord:
        now = self._clock()
        return RunRecord(
            run_id=secrets.token_hex(8),
            playbook_id=playbook.id,
            query=query,
            inputs=dict(inputs),
            namespace=self._settings.cluster.namespace,
            lang=lang,
            requester=origin.user,
            channel=origin.channel,
            thread_ts=origin.thread_ts,
            created_at=now,
            updated_at=now,
        )

    async def start(
        self, origin: Origin, playbook: Playbook, *, query: str, inputs: dict[str, str], lang: str, others: list[Candidate]
    ) -> None:
        """Post the report message as "running N checks", then run the checks and update it.

        The report offers ``others`` with Run buttons. The record of such a run is made when its button is pressed.
        """
        record = self.new_record(origin, playbook, query=query, inputs=inputs, lang=lang)
        RUN_ID.set(record.run_id)
        record.choices = [candidate.playbook_id for candidate in others[:ALTERNATIVES_MAX]]
        record.message_ts = await self._slack.post(origin.channel, self._progress(record, playbook, {}, None), thread_ts=origin.thread_ts)
        record.thread_ts = origin.thread_ts or record.message_ts
        await self._store.save_run(record, self._retention_s)
        await self._run(record, playbook, recheck_by=None)

    async def offer(self, origin: Origin, candidates: list[Candidate], *, query: str, lang: str, render: Callable[[list[Choice]], Message]) -> None:
        """Post a message offering ``candidates`` with Run buttons, which all name one stored record."""
        first = self._catalog.playbooks.get(candidates[0].playbook_id) if candidates else None
        if first is None:
            return
        record = self.new_record(origin, first, query=query, inputs={}, lang=lang)
        record.offer = True
        record.choices = [candidate.playbook_id for candidate in candidates]
        choices = [Choice(candidate.playbook_id, candidate.title, candidate.score, record.run_id) for candidate in candidates]

        record.message_ts = await self._slack.post(origin.channel, render(choices), thread_ts=origin.thread_ts)
        record.thread_ts = origin.thread_ts or record.message_ts
        await self._store.save_run(record, self._retention_s)

    async def run_choice(self, run_id: str, index: int | None, *, user: str, lang: str) -> Outcome:
        """Run the ``index``-th playbook that the message of ``run_id`` offers, once.

        The report replaces an offer's message. For a report's other choices, it starts a message
        of its own in the thread. ``index`` None (an action id without the choice) runs nothing.
        """
        record, _ = await self._load(run_id)
        if record is None:
            return Outcome.EXPIRED
        if index is None or index >= len(record.choices):
            logger.warning("invalid Run button: choice %s is not one of the %d choices of run %s; ignoring it", index, len(record.choices), run_id)
            return Outcome.EXPIRED
        playbook = self._catalog.playbooks.get(record.choices[index])
        if playbook is None:
            logger.warning("run %s offers playbook %s, which is no longer loaded", run_id, record.choices[index])
            return Outcome.EXPIRED
        once = f"start:{run_id}" if record.offer else f"start:{run_id}:{index}"
        if not await self._store.claim(once, self._retention_s):
            return Outcome.ALREADY_STARTED

        chosen = self._record_for_choice(record, playbook, user=user, lang=lang)
        if not chosen.message_ts:
            chosen.message_ts = await self._slack.post(chosen.channel, self._progress(chosen, playbook, {}, None), thread_ts=chosen.thread_ts)
        await self._store.save_run(chosen, self._retention_s)
        return await self._run(chosen, playbook, recheck_by=None, show_progress=True)

    def _record_for_choice(self, offering: RunRecord, playbook: Playbook, *, user: str, lang: str) -> RunRecord:
        """Return the record of the run that a Run button on ``offering``'s message starts for ``user``."""
        origin = Origin(offering.channel, user, offering.thread_ts)
        record = self.new_record(origin, playbook, query=offering.query, inputs=extract_inputs(offering.query, playbook), lang=lang)
        if offering.offer:
            record.message_ts = offering.message_ts
        return record

    async def recheck(self, run_id: str, *, user: str) -> Outcome:
        """Run the report's playbook again with the same inputs and update the same message."""
        record, playbook = await self._load(run_id)
        if record is None or playbook is None or not record.message_ts or record.offer:
            return Outcome.EXPIRED
        return await self._run(record, playbook, recheck_by=user, show_progress=True)

    async def show_evidence(self, run_id: str, *, user: str, lang: str) -> Outcome:
        """Post the full evidence of the report's latest run and the commands to verify by hand in its thread."""
        record, _ = await self._load(run_id)
        if record is None:
            return Outcome.EXPIRED
        entries = await self._store.history(_thread_key(record))
        documents = [entry for entry in entries if entry.get("kind") == "evidence" and entry.get("run_id") == run_id]
        if not documents:
            return Outcome.EXPIRED
        await self._slack.post_all(record.channel, render_evidence(documents[-1], lang, user=user), thread_ts=record.thread_ts)
        return Outcome.DONE

    async def _load(self, run_id: str) -> tuple[RunRecord | None, Playbook | None]:
        if not RUN_ID_PATTERN.match(run_id):
            logger.warning("button carried a malformed run id (%d characters); ignoring it", len(run_id))
            return None, None
        RUN_ID.set(run_id)
        record = await self._store.load_run(run_id)
        if record is None:
            logger.info("button for unknown or expired run %s", run_id)
            return None, None
        playbook = self._catalog.playbooks.get(record.playbook_id)
        if playbook is None:
            logger.warning("run %s names playbook %s, which is no longer loaded", run_id, record.playbook_id)
        return record, playbook

    async def _run(
        self,
        record: RunRecord,
        playbook: Playbook,
        *,
        recheck_by: str | None,
        show_progress: bool = False,
    ) -> Outcome:
        lock = f"message:{record.channel}:{record.message_ts}"
        token = await self._store.acquire_lock(lock, self._settings.slack.run_lock_s)
        if token is None:
            logger.info("run %s is already running on message %s; refusing a second run", record.run_id, record.message_ts)
            return Outcome.BUSY

        RUN_ID.set(record.run_id)
        try:
            async with self._slots:
                with self._metrics.diagnoses_in_flight.track_inprogress():
                    await self._diagnose(record, playbook, recheck_by=recheck_by, show_progress=show_progress)
        finally:
            await self._store.release_lock(lock, token)
        return Outcome.DONE

    async def _diagnose(
        self, record: RunRecord, playbook: Playbook, *, recheck_by: str | None, show_progress: bool
    ) -> None:
        progress = ProgressMessage(
            self._slack,
            channel=record.channel,
            ts=record.message_ts,
            render=lambda done: self._progress(record, playbook, done, recheck_by),
            interval_s=self._settings.slack.progress_interval_s,
        )
        problem = input_problem(playbook, record.inputs)
        if problem is not None:
            await self._slack.update(record.channel, record.message_ts, notice(record.lang, problem[0], **problem[1]))
            return
        if show_progress:
            await progress.show()

        try:
            diagnosis = await run_playbook(
                playbook, self._runtime.context(record.namespace), query=record.query, inputs=record.inputs,
                on_finding=self._observed(playbook, progress.note), run_id=record.run_id,
            )
        except asyncio.CancelledError:
            await self._interrupted(record, progress)
            raise
        except Exception as exc:  # a report must end in a message, whatever stopped the run
            await progress.close()
            logger.error("diagnosis failed: run_id=%s playbook=%s channel=%s message_ts=%s", record.run_id, record.playbook_id, record.channel, record.message_ts, exc_info=True)
            self._metrics.count_error(ErrorKind.DIAGNOSIS)
            self._metrics.diagnoses.labels(playbook=record.playbook_id, verdict="failed").inc()
            await self._slack.update(record.channel, record.message_ts, failed(record.lang, error=type(exc).__name__, run_id=record.run_id))
            return
        await progress.close()
        self._metrics.diagnoses.labels(playbook=record.playbook_id, verdict=diagnosis.verdict.value).inc()

        await self._publish(record, diagnosis, recheck_by=recheck_by)

    async def _interrupted(self, record: RunRecord, progress: ProgressMessage) -> None:
        """Replace the running view of a diagnosis cancelled at shutdown, so the message does not show it running forever."""
        logger.warning(
            "diagnosis cancelled before it finished, because the bot is shutting down: run_id=%s playbook=%s channel=%s message_ts=%s",
            record.run_id, record.playbook_id, record.channel, record.message_ts,
        )
        self._metrics.diagnoses.labels(playbook=record.playbook_id, verdict="interrupted").inc()
        try:
            await asyncio.wait_for(progress.close(), timeout=INTERRUPTED_UPDATE_S)
            await asyncio.wait_for(
                self._slack.update(record.channel, record.message_ts, interrupted(record.lang, run_id=record.run_id)), timeout=INTERRUPTED_UPDATE_S
            )
        except (SlackCallError, asyncio.TimeoutError) as exc:
            logger.warning("could not mark run %s as interrupted in message %s of channel %s: %s", record.run_id, record.message_ts, record.channel, str(exc) or "timed out")

    async def _publish(self, record: RunRecord, diagnosis: Diagnosis, *, recheck_by: str | None) -> None:
        statuses = {finding.check_id: finding.status.value for finding in diagnosis.findings}
        recheck = None
        if recheck_by is not None:
            recheck = Recheck(recheck_by, datetime.now(timezone.utc), compare_statuses(record.last_statuses, statuses))
        context = ReportContext(
            requester=record.requester, request=record.query or record.playbook_id, run_id=record.run_id,
            alternatives=self._alternatives(record), recheck=recheck, degraded=self._store.degraded,
        )
        rendered = render_report(diagnosis, record.lang, context)

        await self._slack.update(record.channel, record.message_ts, rendered.message)
        await self._slack.post_all(record.channel, rendered.overflow, thread_ts=record.thread_ts)

        entry = {"kind": "evidence", **evidence_document(diagnosis), "run_id": record.run_id}
        await self._store.append_history(_thread_key(record), entry, max_entries=HISTORY_MAX_ENTRIES, ttl_s=self._retention_s)
        record.last_statuses = statuses
        record.last_verdict = diagnosis.verdict.value
        record.updated_at = self._clock()
        record.rechecks += 1 if recheck_by is not None else 0
        await self._store.save_run(record, self._retention_s)

        logger.info(
            "slack report run_id=%s playbook=%s channel=%s message_ts=%s verdict=%s recheck=%s duration_ms=%d",
            record.run_id, record.playbook_id, record.channel, record.message_ts, diagnosis.verdict.value,
            recheck_by is not None, diagnosis.duration_ms,
        )

    def _alternatives(self, record: RunRecord) -> tuple[Alternative, ...]:
        """Return the report's other choices that are still loaded, in the order of their buttons."""
        found = ((index, self._catalog.playbooks.get(playbook_id)) for index, playbook_id in enumerate(record.choices))
        return tuple(Alternative(playbook.id, playbook.title, index) for index, playbook in found if playbook is not None)

    def _observed(self, playbook: Playbook, then: FindingCallback) -> FindingCallback:
        """Wrap ``then`` so each finding's duration is recorded by check kind and status first."""
        kinds = {check.id: check.kind for check in playbook.checks}

        async def observe(finding: Finding) -> None:
            if finding.status is not CheckStatus.SKIPPED:
                kind = kinds.get(finding.check_id, "unknown")
                self._metrics.check_duration.labels(kind=kind, status=finding.status.value).observe(finding.duration_ms / 1000)
            await then(finding)

        return observe

    def _progress(self, record: RunRecord, playbook: Playbook, done: dict[str, Finding], recheck_by: str | None) -> Message:
        return render_progress(
            title=playbook.title,
            checks=[(check.id, check.title) for check in playbook.checks],
            done=done,
            lang=record.lang,
            requester=record.requester,
            request=record.query or record.playbook_id,
            recheck_by=recheck_by,
        )


def input_problem(playbook: Playbook, inputs: dict[str, str]) -> tuple[str, dict[str, str]] | None:
    """Return the catalog key and fields of what is wrong with the inputs, or None when they are valid.

    Mirrors ``bot.engine.resolve_inputs`` with the Slack wording of the two problems.
    """
    for spec in playbook.inputs:
        value = inputs.get(spec.name) or spec.default
        if value is None:
            return "slack.missing_input", {"id": playbook.id, "name": spec.name}
        if not re.fullmatch(spec.pattern, value):
            return "slack.invalid_input", {"name": spec.name, "value": escape(value)}
    return None


def _thread_key(record: RunRecord) -> str:
    return f"{record.channel}:{record.thread_ts}"
