"""Settings: one pydantic-settings root, nested per subsystem.

Values come, highest priority first, from keyword arguments, ``OTELBOT_*`` environment variables
(nested with ``__``, e.g. ``OTELBOT_CLUSTER__NAMESPACE``), the YAML file named by ``--config`` or
``OTELBOT_CONFIG``, and the defaults below. The defaults describe the stack the bundled playbooks
were written for; every name can be changed without touching code.
"""

from __future__ import annotations

import os
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from bot.errors import ConfigError

__all__ = [
    "AccessSettings",
    "BackendSettings",
    "CheckSettings",
    "ClusterSettings",
    "Lang",
    "MatchSettings",
    "PlaybookSettings",
    "QuerySettings",
    "Settings",
    "SlackSettings",
    "StateSettings",
    "load_settings",
]

Lang = Literal["ko", "en"]

REPO_PLAYBOOKS = Path(__file__).resolve().parent.parent / "playbooks"
REPO_QUERIES = Path(__file__).resolve().parent.parent / "queries" / "queries.yaml"

_config_file: ContextVar[Path | None] = ContextVar("otelbot_config_file", default=None)


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class BackendSettings(_Section):
    """How to reach one monitoring backend over HTTP."""

    service: str = Field(description="Kubernetes Service name of the backend.")
    port: int = Field(ge=1, le=65535, description="Service port the backend listens on.")
    namespace: str | None = Field(
        default=None, description="Namespace of the Service; the cluster namespace when unset."
    )
    url: str | None = Field(
        default=None,
        description="Base URL that overrides service routing, e.g. a gateway such as "
        "http://localhost:8080/api/monitoring/prometheus.",
    )
    token: SecretStr | None = Field(
        default=None, description="Bearer token sent to this backend (e.g. a Grafana service account token)."
    )


def _default_backends() -> dict[str, BackendSettings]:
    return {
        "prometheus": BackendSettings(service="prometheus", port=9090),
        "tempo": BackendSettings(service="tempo", port=3200),
        "grafana": BackendSettings(service="grafana", port=3000),
        "otel-collector": BackendSettings(service="otel-collector", port=8888),
    }


# The target whose placeholders ({prometheus.service}, {collector.port}, ...) name each backend.
BACKEND_TARGETS = {"prometheus": "prometheus", "tempo": "tempo", "grafana": "grafana", "otel-collector": "collector"}


def _default_targets() -> dict[str, dict[str, str]]:
    return {
        "collector": {
            "deployment": "otel-collector",
            "container": "otel-collector",
            "configmap": "otel-collector-config",
            "config_key": "config.yaml",
            "service": "otel-collector",
        },
        "prometheus": {"deployment": "prometheus", "container": "prometheus", "service": "prometheus"},
        "tempo": {
            "deployment": "tempo",
            "container": "tempo",
            "configmap": "tempo",
            "config_key": "tempo.yaml",
            "service": "tempo",
            "pvc": "tempo",
            "overrides_configmap": "tempo",
            "overrides_key": "overrides.yaml",
        },
        "grafana": {
            "deployment": "grafana",
            "container": "grafana",
            "configmap": "grafana",
            "datasources_key": "datasources.yaml",
            "dashboards_key": "dashboards.yaml",
            "prometheus_uid": "prometheus",
            "tempo_uid": "tempo",
            "dashboard_selector": "grafana_dashboard=1",
            "dashboards_path": "/var/lib/grafana/dashboards/v3",
        },
        "chart": {"path": "k8s/helm/charts/wealist-monitoring"},
    }


class ClusterSettings(_Section):
    """Kubernetes API access: cluster, credentials, namespace and timeouts."""

    mode: Literal["auto", "kubeconfig", "in_cluster"] = Field(
        default="auto",
        description="auto uses the in-cluster service account inside a pod and a kubeconfig elsewhere.",
    )
    kubeconfig: Path | None = Field(default=None, description="Path to a kubeconfig file; KUBECONFIG or ~/.kube/config when unset.")
    context: str | None = Field(default=None, description="kubeconfig context to use; the current context when unset.")
    namespace: str = Field(default="wealist-prod", description="Namespace the monitoring stack runs in.")
    request_timeout_s: float = Field(default=10.0, gt=0, le=300, description="Timeout of one API request, in seconds.")
    max_workers: int = Field(default=16, ge=1, le=256, description="Threads that run blocking Kubernetes API reads.")


class CheckSettings(_Section):
    """Check execution: timeouts, retries and log limits."""

    default_timeout_s: float = Field(default=10.0, gt=0, le=300, description="Timeout of a check that sets none, in seconds.")
    retries: int = Field(default=2, ge=0, le=5, description="Retries of a backend GET that timed out or returned 5xx.")
    retry_backoff_s: float = Field(default=0.2, ge=0, le=10, description="First retry delay in seconds; doubles each retry.")
    max_log_lines: int = Field(default=500, ge=1, le=10000, description="Largest tail of pod logs a check may read.")


class MatchSettings(_Section):
    """Symptom matching: threshold, ambiguity margin and text length."""

    threshold: float = Field(default=0.3, ge=0, le=1, description="Score below which no playbook matches.")
    ambiguity_margin: float = Field(
        default=0.05, ge=0, le=1, description="Candidates within this score of the best make the match ambiguous."
    )
    max_text_chars: int = Field(default=2000, ge=16, le=40000, description="Longest symptom text considered; the rest is cut.")


class PlaybookSettings(_Section):
    """Playbook locations."""

    dirs: list[Path] = Field(
        default_factory=lambda: [REPO_PLAYBOOKS],
        description="Directories of playbook YAML files; a later directory's playbook replaces one with the same id.",
    )


class QuerySettings(_Section):
    """Named PromQL queries of `otelbot query`: their file and the backend that runs them."""

    file: Path = Field(default=REPO_QUERIES, description="YAML file of named queries.")
    backend: str = Field(default="prometheus", description="Backend that runs the queries (serves /api/v1/query).")
    max_window: str = Field(
        default="31d", pattern=r"^(\d+(ms|s|m|h|d|w|y))+$", description="Longest --window accepted, as a PromQL duration."
    )


class SlackSettings(_Section):
    """Slack app credentials and behaviour."""

    mode: Literal["socket", "http"] = Field(default="socket", description="Socket Mode needs no ingress; HTTP mode serves Events API requests.")
    bot_token: SecretStr | None = Field(default=None, description="Bot token (xoxb-); also read from SLACK_BOT_TOKEN.")
    app_token: SecretStr | None = Field(default=None, description="App-level token for Socket Mode (xapp-); also read from SLACK_APP_TOKEN.")
    signing_secret: SecretStr | None = Field(default=None, description="Signing secret for HTTP mode; also read from SLACK_SIGNING_SECRET.")
    api_url: str | None = Field(
        default=None,
        description="Base URL of the Slack Web API (default https://slack.com/api/), for a proxy or a local mock; "
        "also read from OTELBOT_SLACK_API_URL.",
    )
    port: int = Field(default=3000, ge=1, le=65535, description="Port of the HTTP server (Slack requests in HTTP mode, health and metrics in both).")
    incident_channels: list[str] = Field(
        default_factory=list, description="Channel ids or name patterns (e.g. inc-*) whose messages are matched passively."
    )
    incident_mode: Literal["suggest", "auto"] = Field(default="suggest", description="suggest posts a Run checks button; auto runs the checks at once.")
    incident_threshold: float = Field(default=0.5, ge=0, le=1, description="Score a passive match must reach before the bot speaks.")
    host: str = Field(default="0.0.0.0", description="Address the HTTP server listens on; 0.0.0.0 inside a pod, 127.0.0.1 for local runs.")
    request_timeout_s: float = Field(default=10.0, gt=0, le=120, description="Timeout of one Slack Web API call, in seconds.")
    api_rate_limit_retries: int = Field(
        default=3, ge=0, le=10, description="Retries of a Web API call that Slack rate-limited (HTTP 429), each after the Retry-After Slack sent."
    )
    api_rate_limit_max_wait_s: float = Field(
        default=30.0, ge=0, le=600, description="Longest Retry-After the bot waits for; a longer one fails the call at once, in seconds."
    )
    api_max_connections: int = Field(
        default=16, ge=1, le=100, description="Maximum open connections to the Slack Web API. Further calls wait for a free one."
    )
    connect_timeout_s: float = Field(default=30.0, gt=0, le=600, description="How long Socket Mode may take to connect at startup, in seconds.")
    progress_interval_s: float = Field(default=1.0, ge=0.1, le=60, description="Least time between two progress updates of one report, in seconds.")
    run_lock_s: int = Field(default=600, ge=10, le=3600, description="Longest a diagnosis may hold its report message before a Recheck can start anyway, in seconds.")
    max_concurrent_runs: int = Field(default=8, ge=1, le=128, description="Diagnoses one replica runs at the same time; further requests wait.")
    locale_cache_s: int = Field(default=3600, ge=0, le=86400, description="How long a user's Slack locale is cached, in seconds.")
    channel_cache_s: int = Field(default=600, ge=0, le=86400, description="How long a channel's name is cached for incident_channels patterns, in seconds.")
    shutdown_timeout_s: float = Field(default=30.0, gt=0, le=600, description="How long shutdown waits for running diagnoses, in seconds.")


class AccessSettings(_Section):
    """Access rules of the Slack app: allowed channels, users and user groups, direct messages, rate limits."""

    allowed_channels: list[str] = Field(
        default_factory=list,
        description="Channel ids or name patterns (e.g. C0123ABCD, inc-*) where the bot takes commands, mentions and "
        "button presses and listens to incident channels; empty allows every channel. Direct messages follow serve_dms.",
    )
    allowed_users: list[str] = Field(
        default_factory=list,
        description="User ids (U...) who may use the bot; when both this and allowed_usergroups are empty, everyone may.",
    )
    allowed_usergroups: list[str] = Field(
        default_factory=list,
        description="User group ids (S...) whose members may use the bot, read with usergroups.users.list (scope "
        "usergroups:read); when both this and allowed_users are empty, everyone may.",
    )
    serve_dms: bool = Field(
        default=False,
        description="Respond in direct messages and group DMs; when false they are refused, so reports that quote "
        "production configuration stay in channels.",
    )
    rate_limit_user_per_minute: int = Field(
        default=10, ge=0, le=10000, description="Commands, mentions and button presses one user may send per minute; 0 turns the limit off."
    )
    rate_limit_channel_per_minute: int = Field(
        default=30, ge=0, le=10000, description="Commands, mentions and button presses one channel may send per minute; 0 turns the limit off."
    )
    usergroup_cache_s: int = Field(default=300, ge=0, le=86400, description="How long the members of a user group are cached, in seconds.")


class StateSettings(_Section):
    """State store: Redis URL, timeouts and retention."""

    redis_url: SecretStr | None = Field(
        default=None,
        description="redis://, rediss:// or redis+sentinel://[:password@]host:port[,host:port]/service_name[/db] URL "
        "(also read from OTELBOT_REDIS_URL); in-process memory when unset.",
    )
    sentinel_password: SecretStr | None = Field(
        default=None,
        description="Password of the Sentinel processes, when they require one; the URL's password is sent to the Redis master only.",
    )
    retention_s: int = Field(default=7 * 24 * 3600, ge=60, description="How long recheck context is kept, in seconds.")
    connect_timeout_s: float = Field(default=1.0, gt=0, le=60, description="Timeout of opening a connection to Redis or a Sentinel, in seconds.")
    socket_timeout_s: float = Field(default=1.0, gt=0, le=60, description="Timeout of one Redis command's reply, in seconds.")
    probe_interval_s: float = Field(
        default=5.0, ge=0.1, le=300, description="While Redis is unreachable, seconds between pings that check whether it is back."
    )


class Settings(BaseSettings):
    """Root of otelbot's settings."""

    model_config = SettingsConfigDict(
        env_prefix="OTELBOT_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    lang: Lang = Field(default="ko", description="Language of replies when the user's locale does not choose one.")
    cluster: ClusterSettings = Field(default_factory=ClusterSettings, description="Kubernetes API access.")
    backends: dict[str, BackendSettings] = Field(default_factory=_default_backends, description="Monitoring backends by name.")
    targets: dict[str, dict[str, str]] = Field(
        default_factory=_default_targets,
        description="Names of the stack's workloads and ConfigMaps, used in playbooks as {collector.deployment} and so on.",
    )
    checks: CheckSettings = Field(default_factory=CheckSettings, description="Check execution.")
    matching: MatchSettings = Field(default_factory=MatchSettings, description="Symptom matching.")
    playbooks: PlaybookSettings = Field(default_factory=PlaybookSettings, description="Playbook locations.")
    queries: QuerySettings = Field(default_factory=QuerySettings, description="Named PromQL queries.")
    slack: SlackSettings = Field(default_factory=SlackSettings, description="Slack app.")
    access: AccessSettings = Field(default_factory=AccessSettings, description="Who may use the Slack app, where, and how often.")
    state: StateSettings = Field(default_factory=StateSettings, description="State store.")
    log_format: Literal["text", "json"] = Field(default="text", description="Log line format.")
    log_level: str = Field(default="INFO", description="Root log level.")

    @field_validator("targets", mode="before")
    @classmethod
    def _merge_targets(cls, value: Any) -> Any:
        """Merge given names into the defaults, so overriding one name keeps the others."""
        return _merged(_default_targets(), value)

    @field_validator("backends", mode="before")
    @classmethod
    def _merge_backends(cls, value: Any) -> Any:
        defaults = {name: backend.model_dump(exclude_none=True) for name, backend in _default_backends().items()}
        return _merged(defaults, value)

    @model_validator(mode="after")
    def _align_backends_and_targets(self) -> "Settings":
        """Give a backend and its target one Service name and port, whichever of the two the user changed.

        Checks reach a backend by ``backends.<name>``, but read its Service object and write the
        commands to verify by hand with ``targets.<target>.service`` and ``.port``, so they must agree.
        """
        defaults = _default_backends()
        for backend_name, target_name in BACKEND_TARGETS.items():
            backend, target = self.backends.get(backend_name), self.targets.get(target_name)
            if backend is None or target is None:
                continue
            default_service = defaults[backend_name].service
            if target.get("service", default_service) == default_service:
                target["service"] = backend.service
            elif backend.service == default_service:
                backend.service = target["service"]
            target["port"] = str(backend.port)
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, _YamlFileSource(settings_cls))


def _merged(defaults: dict[str, dict[str, Any]], value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    merged = {name: dict(entries) for name, entries in defaults.items()}
    for name, entries in value.items():
        if isinstance(entries, dict) and isinstance(merged.get(name), dict):
            merged[name].update(entries)
        else:
            merged[name] = entries
    return merged


class _YamlFileSource(PydanticBaseSettingsSource):
    """Settings from the YAML file chosen by ``load_settings``."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        path = _config_file.get()
        if path is None:
            return {}
        return _read_yaml_file(path)


def _read_yaml_file(path: Path) -> dict[str, Any]:
    try:
        # A stream, not a string, so a YAML error's position names the file.
        with path.open(encoding="utf-8") as stream:
            data = yaml.safe_load(stream)
    except FileNotFoundError as exc:
        raise ConfigError.of("config_not_found", path=path) from exc
    except yaml.YAMLError as exc:
        raise ConfigError.of("config_invalid_yaml", path=path, problem=exc) from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError.of("config_not_mapping", path=path, kind=type(data).__name__)
    return data


_SLACK_ENV = {"bot_token": "SLACK_BOT_TOKEN", "app_token": "SLACK_APP_TOKEN", "signing_secret": "SLACK_SIGNING_SECRET"}


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build settings from the config file, the environment and ``overrides``.

    Raises ConfigError naming the invalid value and the fix.
    """
    path = config_file or (Path(os.environ["OTELBOT_CONFIG"]) if os.environ.get("OTELBOT_CONFIG") else None)
    token = _config_file.set(path)
    try:
        settings = Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe_validation_error(exc, path)) from exc
    except SettingsError as exc:
        raise ConfigError(
            f"invalid settings from the environment: {exc}. Lists and maps in OTELBOT_* variables are JSON, "
            """e.g. OTELBOT_SLACK__INCIDENT_CHANNELS='["inc-*"]'."""
        ) from exc
    finally:
        _config_file.reset(token)
    return _with_redis_env(_with_slack_env(settings))


def _with_slack_env(settings: Settings) -> Settings:
    """Fill Slack credentials from Slack's conventional variable names, and ``api_url`` from
    ``OTELBOT_SLACK_API_URL``, when not set otherwise."""
    updates: dict[str, Any] = {
        field: SecretStr(os.environ[env])
        for field, env in _SLACK_ENV.items()
        if getattr(settings.slack, field) is None and os.environ.get(env)
    }
    if settings.slack.api_url is None and os.environ.get("OTELBOT_SLACK_API_URL"):
        updates["api_url"] = os.environ["OTELBOT_SLACK_API_URL"]
    if not updates:
        return settings
    return settings.model_copy(update={"slack": settings.slack.model_copy(update=updates)})


def _with_redis_env(settings: Settings) -> Settings:
    """Fill ``state.redis_url`` from ``OTELBOT_REDIS_URL`` when neither the file nor ``OTELBOT_STATE__REDIS_URL`` set it."""
    url = os.environ.get("OTELBOT_REDIS_URL")
    if settings.state.redis_url is not None or not url:
        return settings
    state = settings.state.model_copy(update={"redis_url": SecretStr(url)})
    return settings.model_copy(update={"state": state})


def _describe_validation_error(exc: ValidationError, path: Path | None) -> str:
    lines = []
    for error in exc.errors():
        location = ".".join(str(part) for part in error["loc"])
        secret = any(word in location for word in ("token", "secret", "password", "redis_url"))
        shown = "hidden" if secret else repr(error.get("input"))
        lines.append(f"{location}: {error['msg']} (got {shown})")
    origin = f" (from {path} and OTELBOT_* variables)" if path else " (from OTELBOT_* variables)"
    return "invalid settings" + origin + ":\n  " + "\n  ".join(lines)
