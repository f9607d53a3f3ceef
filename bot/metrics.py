"""The bot's own Prometheus metrics, served at ``/metrics`` by ``otelbot serve``.

``Metrics`` registers every metric on one ``CollectorRegistry`` that the composition root
creates, so two bots in one process (as in tests) never share counters. docs/operations.md lists
the metrics and their labels.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Callable

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

__all__ = ["ErrorKind", "Metrics"]

# Checks are mostly single API reads or HTTP GETs with a 10 s default timeout.
CHECK_BUCKETS_S = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
# Slack gives up on an acknowledgement after 3 s and retries the request.
ACK_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)


class ErrorKind(StrEnum):
    """Value of the ``kind`` label of ``otelbot_errors_total``."""

    SLACK_API = "slack_api"
    """A Web API call failed after its retries."""
    STATE_STORE = "state_store"
    """A Redis operation or ping failed; state went to, or stayed in, in-process memory."""
    DIAGNOSIS = "diagnosis"
    """A diagnosis ended with an exception instead of a report."""
    LISTENER = "listener"
    """A Bolt listener raised."""
    TASK = "task"
    """A background task ended with an exception."""


class Metrics:
    """The metric objects of one bot process, registered on ``registry``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        self.diagnoses = Counter(
            "otelbot_diagnoses",
            "Finished diagnoses by playbook and verdict: problem, healthy, inconclusive, failed (the run raised) "
            "or interrupted (shutdown cancelled it).",
            ["playbook", "verdict"],
            registry=registry,
        )
        self.check_duration = Histogram(
            "otelbot_check_duration_seconds",
            "Time from the start of a check to its finding, by check kind and finding status.",
            ["kind", "status"],
            buckets=CHECK_BUCKETS_S,
            registry=registry,
        )
        self.slack_ack = Histogram(
            "otelbot_slack_ack_seconds",
            "Time from receiving a Slack request to acknowledging it.",
            buckets=ACK_BUCKETS_S,
            registry=registry,
        )
        self.duplicates = Counter(
            "otelbot_slack_duplicates",
            "Slack requests ignored because this or another replica already handled them (Slack retries, double deliveries), "
            "by request kind: event, command or action.",
            ["kind"],
            registry=registry,
        )
        self.errors = Counter("otelbot_errors", "Errors the bot handled and kept running after, by kind.", ["kind"], registry=registry)
        self.degraded = Gauge(
            "otelbot_state_degraded", "1 while the state store serves from in-process memory because Redis failed, else 0.", registry=registry
        )
        self.diagnoses_in_flight = Gauge("otelbot_diagnoses_in_flight", "Diagnoses running on this replica.", registry=registry)

        for kind in ErrorKind:
            self.errors.labels(kind=kind.value)

    def count_error(self, kind: ErrorKind) -> None:
        self.errors.labels(kind=kind.value).inc()

    def watch_degraded(self, is_degraded: Callable[[], bool]) -> None:
        """Read the degraded gauge from ``is_degraded`` at every scrape."""
        self.degraded.set_function(lambda: 1.0 if is_degraded() else 0.0)

    def exposition(self) -> tuple[bytes, str]:
        """Return the text exposition of every metric and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
