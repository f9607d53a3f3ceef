"""The ``otelbot`` command line.

Exit codes of ``diagnose`` and ``demo``: 0 no problem found, 1 a problem found, 2 usage or
configuration error (also: no playbook matches), 3 inconclusive because checks could not run.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Optional

import typer

from bot.app import Catalog, known_variables, load_catalog, open_runtime
from bot.config import Settings, load_settings
from bot.diagnosis import Diagnosis, Verdict
from bot.engine import run_playbook
from bot.errors import ConfigError, OtelbotError, PlaybookError
from bot.i18n import tr
from bot.logs import configure_logging
from bot.playbooks.loader import lint as lint_playbooks
from bot.playbooks.schema import Playbook
from bot.report.json import render_json
from bot.report.text import render_text
from bot.selection import clean_request_text, extract_inputs, select_playbook

__all__ = ["app", "main"]

logger = logging.getLogger(__name__)

EXIT_CODES = {Verdict.HEALTHY: 0, Verdict.PROBLEM: 1, Verdict.INCONCLUSIVE: 3}
EXIT_USAGE = 2
EXIT_CRASH = 70  # EX_SOFTWARE from sysexits.h

app = typer.Typer(
    help="Diagnose an OpenTelemetry monitoring stack on Kubernetes with read-only playbooks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
playbooks_app = typer.Typer(help="List, show, lint and describe playbooks.", no_args_is_help=True)
app.add_typer(playbooks_app, name="playbooks")

ConfigOption = typer.Option(None, "--config", help="Settings YAML file; OTELBOT_CONFIG when unset.", exists=False)
LangOption = typer.Option(None, "--lang", help="Language of the report: ko or en (default from settings: ko).")
JsonOption = typer.Option(False, "--json", help="Print the machine-readable report (docs/report-format.md).")


def main() -> None:
    """Entry point of the console script."""
    # The report already carries every check's reason; stderr gets errors unless asked for more.
    configure_logging(level=os.environ.get("OTELBOT_LOG_LEVEL", "ERROR"))
    try:
        app()
    except Exception:  # a bug: mark it with an exit code that no verdict uses
        logger.critical("otelbot crashed; this is a bug, please report it with the traceback below", exc_info=True)
        sys.exit(EXIT_CRASH)


def _fail(error: OtelbotError, lang: str | None = None) -> typer.Exit:
    """Print ``error`` on stderr and return the usage exit. A ConfigError is shown in ``lang``.

    Before the settings are read, ``lang`` is None and the language is ``OTELBOT_LANG``, else Korean.
    """
    if lang is None:
        lang = "en" if os.environ.get("OTELBOT_LANG") == "en" else "ko"
    message = error.message(lang) if isinstance(error, ConfigError) else str(error)
    typer.echo(f"{tr(lang, 'errors.prefix')}: {message}", err=True)
    return typer.Exit(EXIT_USAGE)


def _lang(settings: Settings, lang: Optional[str]) -> str:
    if lang is None:
        return settings.lang
    if lang not in ("ko", "en"):
        raise _fail(ConfigError.of("invalid_lang", lang=repr(lang)), settings.lang)
    return lang


def _settings(config: Optional[Path], lang: Optional[str] = None, **cluster: Any) -> Settings:
    """Read the settings; ``lang`` (the --lang option) picks the language of a settings error."""
    overrides = {key: value for key, value in cluster.items() if value is not None}
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        raise _fail(exc, lang if lang in ("ko", "en") else None) from exc
    if overrides:
        settings = settings.model_copy(update={"cluster": settings.cluster.model_copy(update=overrides)})
    return settings


def _catalog(settings: Settings, lang: str | None = None) -> Catalog:
    try:
        return load_catalog(settings)
    except PlaybookError as exc:
        raise _fail(exc, lang or settings.lang) from exc


async def _diagnose(settings: Settings, playbook: Playbook, *, text: str, inputs: dict[str, str], candidates: list) -> Diagnosis:
    async with open_runtime(settings) as runtime:
        return await run_playbook(playbook, runtime.context(), query=text, inputs=inputs, candidates=candidates)


def _run_diagnosis(settings: Settings, text: str, *, playbook_id: str | None, lang: str, as_json: bool, inputs: dict[str, str], sample: bool = False) -> None:
    text = clean_request_text(text, max_chars=settings.matching.max_text_chars)
    catalog = _catalog(settings, lang)
    try:
        selection = select_playbook(catalog, text, settings.matching, playbook_id=playbook_id)
    except ConfigError as exc:
        raise _fail(exc, lang) from exc
    if selection.playbook is None:
        typer.echo(tr(lang, "report.no_match", query=text), err=True)
        raise typer.Exit(EXIT_USAGE)

    found = extract_inputs(text, selection.playbook)
    found.update({key: value for key, value in inputs.items() if value})
    try:
        diagnosis = asyncio.run(_diagnose(settings, selection.playbook, text=text, inputs=found, candidates=selection.candidates))
    except OtelbotError as exc:
        raise _fail(exc, lang) from exc
    diagnosis.sample = sample
    typer.echo(render_json(diagnosis, lang) if as_json else render_text(diagnosis, lang))
    raise typer.Exit(EXIT_CODES[diagnosis.verdict])


@app.command()
def diagnose(
    text: str = typer.Argument(..., help="Symptom phrase or pasted log line, e.g. 'why no spanmetrics'."),
    playbook: Optional[str] = typer.Option(None, "--playbook", help="Run this playbook id instead of matching the text."),
    kubeconfig: Optional[Path] = typer.Option(None, "--kubeconfig", help="kubeconfig file; KUBECONFIG or ~/.kube/config when unset."),
    context: Optional[str] = typer.Option(None, "--context", help="kubeconfig context; the current one when unset."),
    namespace: Optional[str] = typer.Option(None, "--namespace", "-n", help="Namespace of the monitoring stack."),
    workload: Optional[str] = typer.Option(None, "--workload", help="Workload for playbooks about one service, e.g. user-service."),
    config: Optional[Path] = ConfigOption,
    lang: Optional[str] = LangOption,
    as_json: bool = JsonOption,
) -> None:
    """Match the symptom to a playbook, run its read-only checks and print the diagnosis."""
    mode = "kubeconfig" if kubeconfig or context else None
    settings = _settings(config, lang, kubeconfig=kubeconfig, context=context, namespace=namespace, mode=mode)
    inputs = {"workload": workload or "", "service": workload or ""}
    _run_diagnosis(settings, text, playbook_id=playbook, lang=_lang(settings, lang), as_json=as_json, inputs=inputs)


@app.command()
def demo(
    text: str = typer.Argument("why no spanmetrics", help="Symptom to diagnose on the bundled sample cluster."),
    lang: Optional[str] = LangOption,
    as_json: bool = JsonOption,
) -> None:
    """Diagnose a symptom on a bundled sample cluster (Prometheus without the remote-write receiver)."""
    from bot.sandbox import DATA_DIR, Sandbox

    base = _settings(None, lang)
    with Sandbox(DATA_DIR / "stack", DATA_DIR / "demo") as sandbox:
        cluster = base.cluster.model_copy(update={"kubeconfig": sandbox.kubeconfig, "context": None, "mode": "kubeconfig", "namespace": sandbox.namespace})
        settings = base.model_copy(update={"cluster": cluster})
        _run_diagnosis(settings, text, playbook_id=None, lang=_lang(settings, lang), as_json=as_json, inputs={}, sample=True)


@app.command()
def match(
    text: str = typer.Argument(..., help="Symptom phrase or pasted log line."),
    config: Optional[Path] = ConfigOption,
    lang: Optional[str] = LangOption,
    as_json: bool = JsonOption,
) -> None:
    """Rank the playbooks for a phrase, with scores in [0, 1]; exit with 1 when none reaches the threshold."""
    settings = _settings(config, lang)
    language = _lang(settings, lang)
    catalog = _catalog(settings, language)
    text = clean_request_text(text, max_chars=settings.matching.max_text_chars)
    ranked = catalog.matcher.rank(text, limit=5)
    threshold = settings.matching.threshold
    if as_json:
        rows = [{"playbook": item.playbook_id, "score": item.score, "via": item.via, "above_threshold": item.score >= threshold} for item in ranked]
        typer.echo(json.dumps({"query": text, "threshold": threshold, "matches": rows}, ensure_ascii=False, indent=2))
    else:
        above = [item for item in ranked if item.score >= threshold]
        if not above:
            typer.echo(tr(language, "report.no_match", query=text))
        else:
            typer.echo(tr(language, "report.match_header", query=text))
            for item in above:
                title = catalog.playbooks.get(item.playbook_id).title.get(language)
                typer.echo(f"  {item.score:.2f}  {item.playbook_id:32} {title}")
    if not any(item.score >= threshold for item in ranked):
        raise typer.Exit(1)


@playbooks_app.command("list")
def playbooks_list(config: Optional[Path] = ConfigOption, lang: Optional[str] = LangOption, as_json: bool = JsonOption) -> None:
    """List the loaded playbooks."""
    settings = _settings(config, lang)
    language = _lang(settings, lang)
    catalog = _catalog(settings, language)
    playbooks = sorted(catalog.playbooks, key=lambda item: item.id)
    if as_json:
        rows = [{"id": item.id, "title": item.title.get(language), "source": item.source, "checks": len(item.checks), "causes": [cause.id for cause in item.causes]} for item in playbooks]
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for item in playbooks:
        typer.echo(f"{item.id:34} {item.title.get(language)}")


@playbooks_app.command("show")
def playbooks_show(playbook_id: str = typer.Argument(..., metavar="ID"), config: Optional[Path] = ConfigOption) -> None:
    """Print one playbook as the loader validated it (YAML)."""
    import yaml

    settings = _settings(config)
    catalog = _catalog(settings)
    playbook = catalog.playbooks.get(playbook_id)
    if playbook is None:
        raise _fail(ConfigError.of("unknown_playbook", id=repr(playbook_id)), settings.lang)
    data = playbook.model_dump(mode="json", exclude_defaults=True)
    typer.echo(yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=120))


@playbooks_app.command("lint")
def playbooks_lint(
    paths: Optional[list[Path]] = typer.Argument(None, help="Files or directories; the configured playbook directories when omitted."),
    config: Optional[Path] = ConfigOption,
    lang: Optional[str] = LangOption,
) -> None:
    """Validate playbook files and print every problem with its file and line."""
    settings = _settings(config, lang)
    language = _lang(settings, lang)
    targets = paths or list(settings.playbooks.dirs)
    missing = [str(path) for path in targets if not path.exists()]
    if missing:
        raise _fail(ConfigError.of("paths_not_found", paths=", ".join(missing)), language)
    valid, problems = lint_playbooks(targets, known_variables=known_variables(settings))
    for problem in problems:
        typer.echo(str(problem), err=True)
    if problems:
        typer.echo(tr(language, "cli.lint_failed", count=len(problems)), err=True)
        raise typer.Exit(1)
    typer.echo(tr(language, "cli.lint_ok", count=len(valid)))


@playbooks_app.command("schema")
def playbooks_schema() -> None:
    """Print the JSON Schema of the playbook format, for editors."""
    typer.echo(json.dumps(Playbook.model_json_schema(), indent=2, ensure_ascii=False))


@app.command()
def rbac(
    cluster_wide: bool = typer.Option(False, "--cluster-wide", help="Print a ClusterRole instead of a namespaced Role."),
    name: str = typer.Option("otelbot-read", "--name", help="Name of the Role."),
    namespace: Optional[str] = typer.Option(None, "--namespace", "-n", help="Namespace of the Role (default from settings)."),
    check: bool = typer.Option(False, "--check", help="Ask the configured cluster which of the permissions this identity has."),
    kubeconfig: Optional[Path] = typer.Option(None, "--kubeconfig", help="kubeconfig file for --check."),
    config: Optional[Path] = ConfigOption,
    lang: Optional[str] = LangOption,
) -> None:
    """Print the read-only Role the loaded playbooks need, or check it against the cluster."""
    import yaml

    from bot.app import check_access
    from bot.rbac import render_role, required_permissions

    settings = _settings(config, lang, kubeconfig=kubeconfig, namespace=namespace, mode="kubeconfig" if kubeconfig else None)
    language = _lang(settings, lang)
    catalog = _catalog(settings, language)
    if not check:
        role = render_role(required_permissions(catalog.playbooks), name=name, namespace=settings.cluster.namespace, cluster_wide=cluster_wide)
        typer.echo(yaml.safe_dump(role, sort_keys=False))
        return

    async def review() -> dict:
        async with open_runtime(settings) as runtime:
            return await check_access(runtime, catalog)

    try:
        blocked = asyncio.run(review())
    except OtelbotError as exc:
        raise _fail(exc, language) from exc
    for check_id, missing in sorted(blocked.items()):
        typer.echo(tr(language, "cli.rbac_blocked", check=check_id, permissions=", ".join(map(str, missing))))
    if blocked:
        raise typer.Exit(1)
    typer.echo(tr(language, "cli.rbac_granted"))


@app.command()
def serve(config: Optional[Path] = ConfigOption) -> None:
    """Run the Slack app (Socket Mode or HTTP mode, from slack.mode) until SIGTERM or SIGINT."""
    from bot.slack import serve as serve_slack

    settings = _settings(config)
    configure_logging(level=settings.log_level, format=settings.log_format)
    try:
        asyncio.run(serve_slack(settings))
    except OtelbotError as exc:
        raise _fail(exc, settings.lang) from exc


@app.command()
def query(
    name: Optional[str] = typer.Argument(None, help="Query name; `list` or nothing lists the names."),
    service: Optional[str] = typer.Option(None, "--service", help="Service to look at (service_name, client or server label), e.g. user-service; every service when unset."),
    window: Optional[str] = typer.Option(None, "--window", help="Range of rate() as a PromQL duration, e.g. 5m or 1h; the query's own default when unset."),
    kubeconfig: Optional[Path] = typer.Option(None, "--kubeconfig", help="kubeconfig file; KUBECONFIG or ~/.kube/config when unset."),
    context: Optional[str] = typer.Option(None, "--context", help="kubeconfig context; the current one when unset."),
    namespace: Optional[str] = typer.Option(None, "--namespace", "-n", help="Namespace of the monitoring stack."),
    config: Optional[Path] = ConfigOption,
    lang: Optional[str] = LangOption,
    as_json: bool = JsonOption,
) -> None:
    """Run a named PromQL query (rates, error rates, latency, service graph, SLOs) and print the values for people.

    Exit codes: 0 printed (also when the result is empty), 2 unknown name or invalid --service or --window, 3 Prometheus could not be reached or rejected the query.
    """
    from bot.queries import load_queries, prepare_query, run_query
    from bot.report.query import render_query_json, render_query_list, render_query_text

    mode = "kubeconfig" if kubeconfig or context else None
    settings = _settings(config, lang, kubeconfig=kubeconfig, context=context, namespace=namespace, mode=mode)
    language = _lang(settings, lang)
    try:
        definitions = load_queries(settings.queries.file)
    except ConfigError as exc:
        raise _fail(exc, language) from exc
    if name is None or name == "list":
        typer.echo(render_query_list(definitions, language, as_json=as_json))
        return
    try:
        prepared = prepare_query(definitions, name, service=service, window=window, max_window=settings.queries.max_window)
    except ConfigError as exc:
        raise _fail(exc, language) from exc

    async def execute():
        async with open_runtime(settings) as runtime:
            timeout = settings.checks.default_timeout_s
            return await run_query(runtime.context(), prepared, backend=settings.queries.backend, timeout_s=timeout)

    try:
        result = asyncio.run(execute())
    except OtelbotError as exc:
        raise _fail(exc, language) from exc
    failed = result.error is not None
    typer.echo(render_query_json(result, language) if as_json else render_query_text(result, language), err=failed and not as_json)
    if failed:
        raise typer.Exit(EXIT_CODES[Verdict.INCONCLUSIVE])


if __name__ == "__main__":
    main()
