"""GET a path from a named backend and assert on the status and the parsed body.

The body is parsed as JSON, plain text, or Prometheus text format. In the last case the document
is ``{metric_name: [{labels, value}, ...]}`` so assertions can use JMESPath's ``sum()`` and
``length()`` on a metric's samples.
"""

from __future__ import annotations

from typing import Any, Literal

from prometheus_client.parser import text_string_to_metric_families
from pydantic import Field, field_validator

from bot.backends import BackendResponse, decode_json
from bot.checks.base import CheckBase, CheckContext, CheckOutcome, CheckStatus, evaluate_assertions
from bot.errors import BackendError
from bot.i18n import both

__all__ = ["BACKEND_NAME", "HttpCheck", "parse_prometheus_text", "run", "validate_backend_path"]

# A check names a backend configured in settings; a URL or host name cannot match this.
BACKEND_NAME = r"^[a-z0-9]([-a-z0-9_]*[a-z0-9])?$"


def validate_backend_path(path: str) -> str:
    """Accept only an absolute path on a backend: never a host, a scheme or a parent reference."""
    if not path.startswith("/") or path.startswith("//"):
        raise ValueError(f"path must start with a single '/': {path!r}")
    if "://" in path or ".." in path.split("/") or any(char.isspace() for char in path) or "?" in path or "#" in path:
        raise ValueError(f"path must be a plain path on the backend without host, query or '..': {path!r}")
    return path


class HttpCheck(CheckBase):
    """Assertions on ``{status, body}`` of a GET to a configured backend."""

    kind: Literal["http"]
    backend: str = Field(pattern=BACKEND_NAME, description="Backend name from settings: prometheus, tempo, grafana, otel-collector.")
    path: str = Field(description="Absolute path on the backend, e.g. /api/v1/status/flags.")
    params: dict[str, str] = Field(default_factory=dict, description="Query parameters.")
    format: Literal["json", "text", "prometheus"] = "json"
    statuses: list[int] = Field(
        default_factory=lambda: [200], description="Statuses whose body is asserted on; any other is an error."
    )

    @field_validator("path")
    @classmethod
    def _plain_path(cls, value: str) -> str:
        return validate_backend_path(value)


async def run(check: HttpCheck, ctx: CheckContext) -> CheckOutcome:
    timeout = check.timeout_s or ctx.settings.checks.default_timeout_s
    response = await ctx.backends.get(check.backend, check.path, params=list(check.params.items()), timeout_s=timeout)
    if response.status not in check.statuses:
        reason = both("evidence.http_status", backend=check.backend, path=check.path, status=response.status)
        return CheckOutcome(CheckStatus.ERROR, reason=reason)

    document = {"status": response.status, "body": _parse(check.format, response)}
    return CheckOutcome.from_evidence(evaluate_assertions(check.expect, document))


def _parse(format: str, response: BackendResponse) -> Any:
    if format == "json":
        return decode_json(response)
    if format == "prometheus":
        return parse_prometheus_text(response)
    return response.text()


def parse_prometheus_text(response: BackendResponse) -> dict[str, list[dict[str, Any]]]:
    """Parse Prometheus text exposition format into ``{sample_name: [{labels, value}]}``."""
    samples: dict[str, list[dict[str, Any]]] = {}
    try:
        for family in text_string_to_metric_families(response.text()):
            for sample in family.samples:
                samples.setdefault(sample.name, []).append({"labels": dict(sample.labels), "value": sample.value})
    except ValueError as exc:
        raise BackendError(
            f"{response.backend}: GET {response.path} is not Prometheus text format: {exc}",
            backend=response.backend,
            path=response.path,
        ) from exc
    return samples
