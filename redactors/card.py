"""Dataset card (README.md with Hugging Face card YAML) for an output directory.

The YAML ``configs`` block lets ``datasets.load_dataset(output_dir)`` find the shards (and
the splits); the text tells ML teams what the data is, how it was made, and what it is not.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import yaml

from redactors.epoch import card_description
from redactors.io import sha256_file
from redactors.manifest import Manifest
from redactors.output import CARD, MANIFEST
from redactors.report import Report


def _data_files(manifest: Manifest) -> list[dict[str, str]]:
    splits = manifest.splits()
    if not splits:
        return [{"split": "train", "path": "shards/*.parquet"}]
    return [{"split": split, "path": f"shards/{split}-*.parquet"} for split in splits]


def split_warnings(configured: dict[str, float] | None, manifest: Manifest) -> list[str]:
    """A warning for each split ``output.splits`` names that has no shard in the output (no
    consented user hashed into it, or all its records were removed)."""
    present = set(manifest.splits())
    return [
        f"split {split!r} is configured (output.splits) but came out empty: no consented "
        "user was assigned to it, or all their records were removed"
        for split in configured or {}
        if split not in present
    ]


def render_card(
    manifest: Manifest,
    manifest_sha256: str,
    report: Report,
    time_range: tuple[str | None, str | None],
) -> str:
    header = {
        "pretty_name": f"{report.run.run_name} (redacted)",
        "license": "other",
        "configs": [{"config_name": "default", "data_files": _data_files(manifest)}],
        "tags": ["pii-redacted", "consent-filtered"],
    }
    header.update(_version_info(manifest))
    totals = report.totals
    consent = report.consent
    canaries = report.canaries
    risk = report.residual_risk
    measured = risk.status == "measured"
    leaked = risk.records_with_hits if measured else "n/a"
    scanned = risk.records_scanned if measured else "n/a"
    entity_lines = "\n".join(
        f"| `{entity}` | {item.operator} | {item.count} |"
        for entity, item in totals.entities.items()
    )
    recall_lines = "\n".join(
        f"| `{entity}` | {recall} |" for entity, recall in canaries.recall_by_entity.items()
    )
    split_lines = (
        "\n".join(
            f"- `{split}`: {sum(s.rows for s in manifest.shards if s.split == split)} rows"
            for split in manifest.splits()
        )
        or "- one split (`train`): no split was configured"
    )
    if report.warnings:
        split_lines += "\n\n" + "\n".join(f"**Warning:** {warning}." for warning in report.warnings)
    sources = ", ".join(f"`{name}`" for name in report.sources)
    return f"""---
{yaml.safe_dump(header, sort_keys=False).strip()}
---

# {report.run.run_name}: redacted training shards

Messages and posts of users who consented, with personal data masked. Made by `redact run`
(run `{manifest.run_id}`, manifest sha256 `{manifest_sha256}`).

## Load it

```python
datasets.load_dataset("<this directory>")                      # Hugging Face, card configs
polars.scan_parquet("<this directory>/shards/*.parquet")       # polars
duckdb.read_parquet("<this directory>/shards/*.parquet")       # DuckDB
redactors.loaders.torch_dataset("<this directory>", split="train")  # PyTorch IterableDataset
```
{_version_text(manifest)}
Columns: `record_id`, `source`, `text` (or `text_<column>`), `created_at` (UTC),
`pii_masked` (masked spans in the record). No user id, raw or hashed.

## What is in it

- Sources: {sources}; records created {time_range[0]} to {time_range[1]}.
- Records: {totals.records_in} in, {totals.records_quarantined} quarantined
  (unusable rows: null id, user or time, ...), {totals.records_dropped} dropped for consent,
  {totals.records_skipped_empty} without text, {totals.records_deduplicated} exact
  duplicates of a redacted text removed (first copy kept), **{totals.records_out} out**.
- Splits (by a keyed hash of the user: one person is never in two splits):
{split_lines}

## Consent

Policy `{consent.policy}`; excluded regions: {", ".join(consent.excluded_regions) or "none"}.
Registry sha256 `{consent.registry["sha256"][:16]}…` ({consent.registry["users"]} users).
Records of users without a current consent are not here; mentions of them in other people's
text are masked as `<NON_CONSENTED_USER>`. Consent withdrawn later is applied to this output by
`redact forget` (see `manifest.json` history).
{consent_levels_paragraph(manifest, report)}
## Personal data

Detected with Presidio and spaCy `{report.run.model["name"]}`
{report.run.model["version"]} plus chat-specific recognizers, then masked:

| entity | how | masked |
|---|---|---:|
{entity_lines}

`pseudonym` replaces a value with a consistent realistic surrogate (same value, same surrogate,
across the whole dataset; reserved ranges such as example.com, 555-01xx), `tag` with
`<ENTITY>`, `hash` with a keyed hash, `mask` with `#`.

Measured in this run on {canaries.count} generated canary records (recall):

| entity | recall |
|---|---:|
{recall_lines}

Leak re-scan of the output: {leaked} of
{scanned} records still held a PII-like value (strict detectors).

## Known limitations

- English only; detection of person names is statistical and misses some (lower-case names,
  names that are ordinary words, non-Latin names). On the project's labelled test set, person
  name recall is about 0.95, and far lower on hand-written hard cases (see the project README).
- Surrogates keep the text natural but are not real: do not use them as facts.
- Pseudonymous data is still personal data under GDPR-style laws: keep access restricted.

## Licence and use

Internal training data, for the purposes the users consented to. Do not redistribute, do not
try to re-identify people, and rebuild or `redact forget` when consent changes.
"""


def _version_info(manifest: Manifest) -> dict[str, object]:
    """The card's ``dataset_info``: its description names this version, and ``datasets``
    keys its cache on it, so a cache made from an older version is never served."""
    if manifest.output_id is None or manifest.consent_epoch is None:
        return {}
    location = manifest.location or ""
    description = card_description(manifest.output_id, manifest.consent_epoch, location)
    return {"dataset_info": {"config_name": "default", "description": description}}


def _version_text(manifest: Manifest) -> str:
    if manifest.output_id is None:
        return ""
    return f"""
This is version `{manifest.output_id}` of this output, **consent epoch
{manifest.consent_epoch}**: the epoch advances whenever a run or `redact forget` changes the
shards (every shard's Parquet metadata carries its version as `redact.output_id`). Loading
as above always gives this version (the `datasets` cache is keyed by it; the
`redactors.loaders` helpers refuse a copy older than the output it was taken from). After a
withdrawal, load again; check a copy you keep with
`redact verify COPY --against <this directory>`.
"""


def write_card(directory: Path, manifest: Manifest, report: Report) -> None:
    """Render README.md for an output directory whose manifest.json is already written."""
    files = [directory / shard.path for shard in manifest.shards]
    first = last = None
    if files:
        span = (
            pl.scan_parquet(files)
            .select(
                pl.col("created_at").min().alias("first"), pl.col("created_at").max().alias("last")
            )
            .collect()
        )
        first, last = str(span["first"][0]), str(span["last"][0])
    card = render_card(manifest, sha256_file(directory / MANIFEST), report, (first, last))
    (directory / CARD).write_text(card, encoding="utf-8")


def consent_levels_paragraph(manifest: Manifest, report: Report) -> str:
    """Which consent the shards rest on, per level (after forgets: the newest files)."""
    levels = manifest.consent_provenance or report.consent.levels
    if not levels:
        return ""
    policy = manifest.consent_policy
    lines = ["", "The shards rest on this consent, per level (newest applied):", ""]
    names = {"record": "record deletions", "org": "organizations", "user": "users"}
    for name in ("record", "org", "user"):
        level = levels.get(name)
        if level is None:
            continue
        source = level.get("registry") or level.get("deletions")
        if source is None:
            lines.append(f"- {names[name]}: no deletions file (only the export's own flags)")
            continue
        rule = ""
        if name == "org":
            rule = f", policy `{policy.org_policy}`"
        if name != "record" and level.get("purpose"):
            rule += f", purpose `{level['purpose']}`"
        lines.append(
            f"- {names[name]}: sha256 `{str(source['sha256'])[:16]}…`, as of "
            f"{source.get('as_of')}, {source.get('ids')} ids{rule}"
        )
    return "\n".join(lines) + "\n"
