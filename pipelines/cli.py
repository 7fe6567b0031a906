"""`redact` command line. Sets offline-safe Prefect defaults before Prefect is imported."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

# No telemetry: these are the only outside calls Prefect makes (../shared/FIELD-NOTES.md).
# setdefault: an operator's own settings win.
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "90")

from redactors.config import RunConfig, load_config
from redactors.errors import RedactError

if TYPE_CHECKING:
    from prefect import Flow

app = typer.Typer(
    name="redact",
    help="Consent-gated PII redaction of chat/post exports into training shards.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """Consent-gated PII redaction of chat/post exports into training shards."""


@contextlib.contextmanager
def _shared_api_server(needed: bool) -> Iterator[None]:
    """Worker processes need one Prefect API to report to. Without a configured server each
    would start its own temporary one (+10 s each, one SQLite file): start one here and
    point this process and its workers (through the environment) at it."""
    if not needed or os.environ.get("PREFECT_API_URL"):
        yield
        return
    from prefect.server.api.server import SubprocessASGIServer
    from prefect.settings import PREFECT_API_URL, temporary_settings

    server = SubprocessASGIServer()
    server.start(timeout=int(os.environ["PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS"]))
    os.environ["PREFECT_API_URL"] = server.api_url
    try:
        with temporary_settings({PREFECT_API_URL: server.api_url}):
            yield
    finally:
        from prefect.logging.handlers import APILogWorker

        APILogWorker.drain_all(timeout=10)  # send the run's last logs before the server goes
        os.environ.pop("PREFECT_API_URL", None)
        server.stop()


def _fail(message: str) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code=2)


def _flow_with_runner(
    run_config: RunConfig, runner: str | None, workers: int | None, dask_address: str | None
) -> tuple[str, Flow[..., dict[str, Any]]]:
    """The `redact-run` flow with the task runner chosen by the options, else the config."""
    from pipelines.redact import redact_flow, task_runner_for

    kind = runner or run_config.runner.kind
    if kind not in ("threads", "processes", "dask"):
        _fail(f"--runner must be threads, processes or dask, not {kind!r}")
    task_runner = task_runner_for(
        kind,
        workers or run_config.runner.workers,
        dask_address or run_config.runner.dask_address,
    )
    return kind, redact_flow.with_options(task_runner=task_runner)


@app.command()
def run(
    config: Annotated[Path, typer.Option("--config", "-c", help="YAML run config")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="output directory (overrides config)")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="workers (overrides runner.workers)")] = None,
    runner: Annotated[
        str | None, typer.Option(help="threads | processes | dask (overrides runner.kind)")
    ] = None,
    dask_address: Annotated[
        str | None, typer.Option(help="existing Dask scheduler (overrides runner.dask_address)")
    ] = None,
    rebuild: Annotated[
        bool, typer.Option(help="redo every work unit (ignore the units earlier runs left)")
    ] = False,
    accept_risk: Annotated[
        str | None,
        typer.Option(
            "--accept-risk",
            help='publish even if release gates fail, for this reason ("...": recorded with '
            "your name in report and manifest)",
        ),
    ] = None,
) -> None:
    """Run the redaction flow once: exports -> consent gate -> Presidio -> shards + report.
    Work units an earlier (or killed) run finished under the same config and secret are
    reused after their checksums verify. A run whose verdict is FAIL publishes nothing and
    exits 2; its report is written next to the output."""
    if accept_risk is not None and not accept_risk.strip():
        _fail('--accept-risk needs a reason: --accept-risk "why publishing is acceptable"')
    try:
        run_config = load_config(config)
        kind, flow = _flow_with_runner(run_config, runner, workers, dask_address)
        with _shared_api_server(needed=kind != "threads"):
            report = flow(
                config_path=str(config),
                output=str(output) if output else None,
                rebuild=rebuild,
                **({"accept_risk": accept_risk.strip()} if accept_risk is not None else {}),
            )
    except RedactError as exc:
        _fail(str(exc))
        return
    from redactors.render import run_summary
    from redactors.report import Report

    for line in run_summary(Report.model_validate(report)):
        typer.echo(line)


NO_SERVER = (
    "`redact serve` needs a Prefect server: schedules are kept and fired by a server, not by "
    "the temporary one `redact run` starts. Start one with `prefect server start --host "
    "127.0.0.1` and point at it: `export PREFECT_API_URL=http://127.0.0.1:4200/api` (or "
    "`prefect config set PREFECT_API_URL=...`)."
)


@app.command()
def serve(
    config: Annotated[Path, typer.Option("--config", "-c", help="YAML run config")],
    cron: Annotated[str, typer.Option(help='when to run, a cron expression ("0 2 * * *")')],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="output directory (overrides config)")
    ] = None,
    timezone: Annotated[str, typer.Option(help="IANA time zone of the cron expression")] = "UTC",
    name: Annotated[
        str | None, typer.Option(help="deployment name (default: the config's run_name)")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="workers (overrides runner.workers)")] = None,
    runner: Annotated[
        str | None, typer.Option(help="threads | processes | dask (overrides runner.kind)")
    ] = None,
) -> None:
    """Serve the flow as Prefect deployment `redact-run/NAME` on a cron schedule until stopped.
    Its runs (scheduled or triggered) execute here, in subprocesses of this command. Needs a
    Prefect server (PREFECT_API_URL) and REDACT_SECRET in this command's environment."""
    import re

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.schedules import CronSchedule
    from prefect.schedules import Cron
    from prefect.settings import get_current_settings
    from pydantic import ValidationError

    from pipelines.redact import SECRET_ENV
    from redactors.engine import secret_key

    api_url = get_current_settings().api.url
    if not api_url:
        _fail(NO_SERVER)
    try:
        CronSchedule(cron=cron, timezone=timezone)
    except ValidationError as exc:
        _fail(f"--cron/--timezone: {exc.errors()[0]['msg'].removeprefix('Value error, ')}")
    try:
        run_config = load_config(config)
        if output is None and run_config.output.directory is None:
            _fail("no output directory: set output.directory or pass --output")
        secret_key(os.environ.get(SECRET_ENV), required=run_config.needs_secret())
        kind, flow = _flow_with_runner(run_config, runner, workers, None)
    except RedactError as exc:
        _fail(str(exc))
        return
    name = name or run_config.run_name
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
        _fail(f"--name: use letters, digits, '.', '_' and '-' only, not {name!r}")
    with get_client(sync_client=True) as client:
        unreachable = client.api_healthcheck()
    if unreachable is not None:
        _fail(
            f"no Prefect server answers at PREFECT_API_URL={api_url} "
            f"({type(unreachable).__name__}): start one (`prefect server start --host "
            "127.0.0.1`) or correct PREFECT_API_URL."
        )
    # Absolute paths: the deployment's parameters must not depend on where a run starts.
    parameters: dict[str, Any] = {"config_path": str(config.resolve())}
    if output is not None:
        parameters["output"] = str(output.resolve())
    typer.echo(
        f"serving redact-run/{name}: cron {cron!r} ({timezone}), runner {kind}, "
        f"config {parameters['config_path']}, API {api_url}"
    )
    flow.serve(name=name, schedule=Cron(cron, timezone=timezone), parameters=parameters)


@app.command()
def report(
    output: Annotated[Path, typer.Argument(help="an output of `redact run`")],
    compare: Annotated[
        Path | None, typer.Option(help="another output: show both runs side by side")
    ] = None,
    html: Annotated[
        Path | None,
        typer.Option(help="where to write the comparison (default ./report-compare.html)"),
    ] = None,
    threshold: Annotated[float, typer.Option(help="flag rates that moved by more than this")] = 0.5,
) -> None:
    """Re-render report.html from report.json, or compare two runs side by side (which is
    newer, where each lives, what changed in how they were made, counts and rates)."""
    from redactors.output import REPORT_HTML, REPORT_JSON
    from redactors.render import render_compare, render_html
    from redactors.report import Report, compare_reports, order_runs

    try:
        current = Report.read(output / REPORT_JSON)
        other = None if compare is None else Report.read(compare / REPORT_JSON)
    except (OSError, ValueError) as exc:
        _fail(f"cannot read a report: {exc}")
        return
    if other is None:
        target, page, flags = output / REPORT_HTML, render_html(current), []
    else:
        target = html or Path("report-compare.html")
        page = render_compare(current, other, str(output), str(compare), threshold)
        older, newer, _ = order_runs(current, other)
        flags = compare_reports(newer, older, threshold).flags
    temp = target.with_name(f".{target.name}.tmp")
    temp.write_text(page, encoding="utf-8")
    temp.replace(target)
    typer.echo(f"wrote {target}")
    if other is not None:
        newer_path = output if newer is current else compare
        typer.echo(f"  newer run: {newer.run.run_id} in {newer_path}")
    for flag in flags:
        typer.echo(f"  flagged: {flag}")


@app.command()
def forget(
    output: Annotated[Path, typer.Option("--output", "-o", help="an output of `redact run`")],
    registry: Annotated[
        Path | None, typer.Option("--registry", "-r", help="the newer consent registry")
    ] = None,
    org_registry: Annotated[
        Path | None, typer.Option("--org-registry", help="the newer org registry")
    ] = None,
    deletions: Annotated[
        Path | None,
        typer.Option("--deletions", help="tombstones: Parquet source, record_id, deleted_at"),
    ] = None,
) -> None:
    """Apply withdrawn consent and deletions to existing shards: remove the records of users
    and orgs no longer consented and tombstoned records, and mask mentions of those users;
    only affected shards are rewritten (atomically)."""
    from pipelines.forget import forget_flow

    if registry is None and org_registry is None and deletions is None:
        _fail("forget needs --registry, --org-registry or --deletions (or several)")
        return
    try:
        report = forget_flow(
            output=str(output),
            registry=None if registry is None else str(registry),
            org_registry=None if org_registry is None else str(org_registry),
            deletions=None if deletions is None else str(deletions),
        )
    except RedactError as exc:
        _fail(str(exc))
        return
    typer.echo("")
    if not report["changed"]:
        typer.echo(f"forget: nothing to do in {output}")
        return
    typer.echo(f"forget {report['id']} committed to {output}")
    typer.echo(
        f"  records removed:  {report['records_removed']} "
        f"({report['users_forgotten']} users) {report['records_removed_by_reason']}"
    )
    typer.echo(f"  mentions masked:  {report['mentions_masked']}")
    typer.echo(
        f"  shards rewritten: {report['shards_rewritten']}, removed: "
        f"{report['shards_removed']}; report: {output / 'forget_report.json'}"
    )
    typer.echo("  downstream copies to refresh:")
    for item in report.get("downstream_copies_to_refresh", []):
        typer.echo(f"    - {item}")


@app.command()
def verify(
    copy: Annotated[
        Path, typer.Argument(help="a copy: a folder of shards, or a datasets cache directory")
    ],
    against: Annotated[Path, typer.Option("--against", help="the output it was taken from")],
    ids: Annotated[
        Path | None,
        typer.Option(help="write the record ids the output no longer holds here (source, id)"),
    ] = None,
) -> None:
    """Is a copy of an output current? Counts the copy's records the output no longer holds
    (matched by record id; no text is printed). Exit 0: current, 1: not current."""
    from redactors.copies import verify_copy

    try:
        check = verify_copy(copy, against)
    except (RedactError, OSError, ValueError) as exc:
        _fail(f"cannot verify {copy}: {exc}")
        return
    for line in check.lines():
        typer.echo(line)
    if ids is not None:
        temp = ids.with_name(f".{ids.name}.tmp")
        temp.write_text(
            "".join(f"{source or ''}\t{record_id}\n" for source, record_id in check.removed),
            encoding="utf-8",
        )
        temp.replace(ids)
        typer.echo(f"  record ids written to {ids}")
    if not check.current:
        raise typer.Exit(code=1)


@app.command("eval")
def evaluate(
    config: Annotated[Path, typer.Option("--config", "-c", help="YAML run config")],
    labels: Annotated[Path, typer.Option(help="labelled JSONL: text + spans")],
    label_map: Annotated[Path | None, typer.Option(help="YAML gold_label: ENTITY mapping")] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="write metrics here")] = None,
    predictions: Annotated[
        Path | None, typer.Option(help="write redacted text + masked spans per line here")
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            help="'presidio': also score plain Presidio (all its entities) on the same file"
        ),
    ] = None,
) -> None:
    """Score the run's detection + masking (same config, same code path) on labelled text.

    Span recall is full coverage (every non-space character masked); per label, R counts a
    gold span found when masked whole by any masked span, R lab only by spans of its label."""
    import json
    import secrets as secrets_module

    from redactors.detector import build_presidio_baseline
    from redactors.engine import TextRedactor
    from redactors.evaluate import (
        as_spans,
        baseline_spans,
        format_table,
        load_label_map,
        load_labels,
        pipeline_predictions,
        score,
    )

    if baseline not in (None, "presidio"):
        _fail("--baseline takes only 'presidio'")
    try:
        run_config = load_config(config)
        docs = load_labels(labels)
        mapping = load_label_map(label_map)
        # Eval never needs the real secret: pseudonyms only change the redacted text.
        key = (os.environ.get("REDACT_SECRET") or secrets_module.token_hex(16)).encode()
        redactor = TextRedactor.build(run_config.detection, run_config.masking, key)
        predicted = pipeline_predictions(redactor, docs)
        result = score(docs, as_spans(predicted), mapping)
        if baseline:
            analyzer = build_presidio_baseline(run_config.detection)
            # Every entity plain Presidio reports counts as masked (it masks all it finds):
            # its LOCATION over a street address covers it, as in the redaction view.
            base = baseline_spans(analyzer, docs, None, run_config.detection.language)
            result["baseline"] = score(docs, base, mapping)
    except RedactError as exc:
        _fail(str(exc))
        return
    typer.echo(f"{labels}: {result['n_docs']} documents")
    typer.echo(format_table(result))
    if json_out:
        json_out.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    if predictions:
        with predictions.open("w", encoding="utf-8") as handle:
            for item in predicted:
                handle.write(json.dumps(item, ensure_ascii=False) + "\n")


def main() -> None:
    sys.exit(app())


if __name__ == "__main__":
    main()
