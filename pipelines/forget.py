"""The `redact-forget` Prefect flow: apply a newer consent registry to an existing output."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from pipelines.redact import SECRET_ENV
from redactors.forget import forget


def _markdown(report: dict[str, Any]) -> str:
    if not report["changed"]:
        return (
            "# Forget: nothing to do\n\nNo shard holds records or mentions of users whose "
            "consent is now missing."
        )
    reasons = "\n".join(
        f"| {reason} | {count} |" for reason, count in report["records_removed_by_reason"].items()
    )
    return (
        f"# Forget `{report['id']}`\n\n"
        f"| records removed | users | mentions masked | shards rewritten | shards removed |\n"
        f"|---:|---:|---:|---:|---:|\n"
        f"| {report['records_removed']} | {report['users_forgotten']} | "
        f"{report['mentions_masked']} | {report['shards_rewritten']} | "
        f"{report['shards_removed']} |\n\n| reason | records |\n|---|---:|\n{reasons}\n"
        + _downstream(report)
    )


def _downstream(report: dict[str, Any]) -> str:
    items = report.get("downstream_copies_to_refresh") or []
    lines = "".join(f"- {item}\n" for item in items)
    return f"\n## Downstream copies to refresh\n\n{lines}" if lines else ""


@flow(name="redact-forget", log_prints=False)
def forget_flow(
    output: str,
    registry: str | None = None,
    org_registry: str | None = None,
    deletions: str | None = None,
) -> dict[str, Any]:
    """Remove records of users and orgs whose consent is withdrawn and tombstoned records,
    and mask mentions of those users."""
    logger = get_run_logger()
    report = forget(
        Path(output),
        None if registry is None else Path(registry),
        os.environ.get(SECRET_ENV),
        org_registry_path=None if org_registry is None else Path(org_registry),
        deletions_path=None if deletions is None else Path(deletions),
    )
    logger.info(
        "forget on %s: %d record(s) removed, %d mention(s) masked, %d shard(s) rewritten",
        output,
        report["records_removed"],
        report["mentions_masked"],
        report["shards_rewritten"],
    )
    slug = re.sub(r"[^a-z0-9-]+", "-", Path(output).name.lower()).strip("-") or "output"
    create_markdown_artifact(key=f"forget-report-{slug}", markdown=_markdown(report))
    return report
