"""Consent over time: lineage, `forget`, and property tests over random registries/exports.

Runs use the library directly (the same functions the Prefect flow maps) with the session's
real redactor; one test goes through the real `redact-forget` flow.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redactors.config import CanaryConfig, RunConfig, load_config
from redactors.consent import ConsentGate
from redactors.errors import SecretError
from redactors.forget import forget
from redactors.run import run_local
from redactors.state import UnitStore, state_dir
from redactors.unit import Engines

from .conftest import SECRET_A, SECRET_B

T0 = datetime(2026, 1, 1, tzinfo=UTC)
EU_LIKE = {"DE", "FR"}


def write_registry(path: Path, rows: list[tuple]) -> None:
    pl.DataFrame(
        rows,
        schema={
            "user_id": pl.String,
            "status": pl.String,
            "region": pl.String,
            "updated_at": pl.Datetime("us", "UTC"),
            "handle": pl.String,
            "display_name": pl.String,
        },
        orient="row",
    ).write_parquet(path)


def write_messages(path: Path, rows: list[tuple[str, str, str]], row_group_rows: int) -> None:
    pl.DataFrame(
        {
            "message_id": [r[0] for r in rows],
            "user_id": [r[1] for r in rows],
            "ts": [T0 + timedelta(minutes=i) for i in range(len(rows))],
            "text": [r[2] for r in rows],
        },
        schema={
            "message_id": pl.String,
            "user_id": pl.String,
            "ts": pl.Datetime("us", "UTC"),
            "text": pl.String,
        },
    ).write_parquet(path, row_group_size=row_group_rows)


def make_config(
    root: Path,
    *,
    policy="opt_in",
    excluded=("DE", "FR"),
    unit_rows=2,
    entities=("EMAIL_ADDRESS",),
    mentions=True,
) -> Path:
    config = {
        "run_name": "forget-test",
        "sources": [
            {
                "name": "messages",
                "path": "messages.parquet",
                "id_column": "message_id",
                "user_column": "user_id",
                "time_column": "ts",
                "text_columns": ["text"],
            }
        ],
        "consent": {
            "registry": "registry.parquet",
            "policy": policy,
            "excluded_regions": list(excluded),
            "mask_non_consented_mentions": mentions,
        },
        # No NER here: names stay in the text unless the consent-derived matcher masks them.
        "detection": {"entities": list(entities)},
        "masking": {"operators": {"NON_CONSENTED_USER": {"type": "tag"}}},
        "output": {"shard_max_rows": 1000, "dedup": "none"},
        "runner": {"unit_rows": unit_rows, "batch_rows": 1000},
    }
    path = root / "run.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def snapshot(output: Path) -> dict[str, tuple[int, int, bytes]]:
    """shard path -> (inode, mtime_ns, bytes)."""
    return {
        str(p.relative_to(output)): (p.stat().st_ino, p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted((output / "shards").iterdir())
    }


def shard_rows(output: Path) -> pl.DataFrame:
    files = sorted((output / "shards").glob("*.parquet"))
    if not files:
        return pl.DataFrame(schema={"record_id": pl.String, "text": pl.String})
    return pl.concat([pl.read_parquet(f) for f in files])


REGISTRY_V1 = [
    ("UALMA0001", "opted_in", "US", T0, "alma.q", "Alma Quist"),
    ("UBORIS002", "opted_in", "US", T0, "boris", "Boris Petrov"),
    ("UCARLA003", "opted_in", "GB", T0, "carla", "Carla Mendez"),
]
MESSAGES = [  # unit_rows=2: units (shards) are [A, A], [B, B], [C, C]
    ("m1", "UALMA0001", "my notes from today"),
    ("m2", "UALMA0001", "mail me at alma@example.org"),
    ("m3", "UBORIS002", "ask Alma Quist, or @alma.q, or <@UALMA0001>"),
    ("m4", "UBORIS002", "lunch?"),
    ("m5", "UCARLA003", "on it"),
    ("m6", "UCARLA003", "shipped"),
]


@pytest.fixture
def built(tmp_path):
    write_registry(tmp_path / "registry.parquet", REGISTRY_V1)
    write_messages(tmp_path / "messages.parquet", MESSAGES, row_group_rows=2)
    config_path = make_config(tmp_path)
    output = tmp_path / "out"
    run_local(load_config(config_path), str(config_path), output, SECRET_A)
    return tmp_path, output


def test_lineage_holds_pseudonymous_keys_not_ids(built):
    _, output = built
    lineage = pl.read_parquet(output / "lineage" / "lineage.parquet")
    assert lineage.height == 6
    assert set(lineage.columns) == {"shard", "row", "record_id", "user_key", "org_key"}
    assert lineage.group_by("shard").agg(pl.col("row").sort())["row"].to_list() == [[0, 1]] * 3
    assert lineage["user_key"].n_unique() == 3
    raw = (output / "lineage" / "lineage.parquet").read_bytes()
    assert not [uid for uid, *_ in REGISTRY_V1 if uid.encode() in raw]
    manifest = json.loads((output / "manifest.json").read_text())
    assert manifest["lineage"]["rows"] == 6
    assert not any(p.name == "lineage" for p in (output / "shards").iterdir())


def test_user_who_opts_out_after_a_run_is_forgotten(built):
    root, output = built
    before = snapshot(output)
    assert "Alma Quist" in shard_rows(output).filter(pl.col("record_id") == "m3")["text"][0]
    write_registry(
        root / "v2.parquet",
        [
            *REGISTRY_V1,
            ("UALMA0001", "opted_out", "US", T0 + timedelta(days=9), "alma.q", "Alma Quist"),
        ],
    )
    report = forget(output, root / "v2.parquet", SECRET_A)

    after = snapshot(output)
    rows = shard_rows(output)
    assert set(rows["record_id"]) == {"m3", "m4", "m5", "m6"}  # Alma's records are gone
    text = rows.filter(pl.col("record_id") == "m3")["text"][0]
    assert "Alma" not in text and "alma.q" not in text and "UALMA0001" not in text
    assert text.count("<NON_CONSENTED_USER>") == 3
    # Alma's shard held nothing else: removed. Boris's rewritten. Carla's untouched.
    alma, boris, carla = sorted(before)
    assert alma not in after
    assert after[boris][2] != before[boris][2]
    assert after[carla] == before[carla]  # same inode, mtime and bytes
    assert report["records_removed"] == 2 and report["users_forgotten"] == 1
    assert report["records_removed_by_reason"] == {"opted_out": 2}
    assert report["mentions_masked"] == 3
    assert report["shards_rewritten"] == 1 and report["shards_removed"] == 1

    manifest = json.loads((output / "manifest.json").read_text())
    assert [s["path"] for s in manifest["shards"]] == [boris, carla]
    for shard in manifest["shards"]:
        assert (output / shard["path"]).stat().st_size == shard["bytes"]
    assert manifest["history"][-1]["action"] == "forget"
    assert manifest["totals"]["rows"] == 4 and manifest["lineage"]["rows"] == 4
    m3 = rows.filter(pl.col("record_id") == "m3")
    assert m3["pii_masked"][0] == 3
    for name in ("manifest.json", "forget_report.json"):
        content = (output / name).read_text()
        assert not [v for row in REGISTRY_V1 for v in (row[0], row[4], row[5]) if v in content]

    run_report = json.loads((output / "report.json").read_text())
    assert run_report["after_forget"]["shards"]["rows"] == 4
    assert "Consent withdrawn since this run" in (output / "report.html").read_text()

    # Nothing left to do: nothing changes, not even the manifest.
    manifest_stat = (output / "manifest.json").stat()
    again = forget(output, root / "v2.parquet", SECRET_A)
    assert again["changed"] is False
    assert snapshot(output) == after
    assert (output / "manifest.json").stat().st_mtime_ns == manifest_stat.st_mtime_ns


def test_forget_removes_by_position_when_record_ids_repeat(tmp_path):
    """Two users' messages share an id in one shard: only the opted-out user's row goes."""
    write_registry(tmp_path / "registry.parquet", REGISTRY_V1)
    write_messages(
        tmp_path / "messages.parquet",
        [("m1", "UALMA0001", "from alma"), ("m1", "UBORIS002", "from boris")],
        2,
    )
    config_path = make_config(tmp_path, unit_rows=10)
    output = tmp_path / "out"
    run_local(load_config(config_path), str(config_path), output, SECRET_A)
    write_registry(
        tmp_path / "v2.parquet",
        [
            *REGISTRY_V1,
            ("UBORIS002", "opted_out", "US", T0 + timedelta(days=1), "boris", "Boris Petrov"),
        ],
    )
    forget(output, tmp_path / "v2.parquet", SECRET_A)
    assert shard_rows(output)["text"].to_list() == ["from alma"]
    lineage = pl.read_parquet(output / "lineage" / "lineage.parquet")
    assert lineage["row"].to_list() == [0] and lineage.height == 1


def test_allow_list_never_unmasks_people_who_said_no(tmp_path):
    write_registry(
        tmp_path / "registry.parquet",
        [*REGISTRY_V1[1:], ("UALMA0001", "opted_out", "US", T0, "alma.q", "Alma Quist")],
    )
    write_messages(tmp_path / "messages.parquet", [("m1", "UBORIS002", "ask Alma Quist")], 1)
    config_path = make_config(tmp_path)
    config = load_config(config_path).model_copy(
        update={
            "detection": load_config(config_path).detection.model_copy(
                update={"allow_list": ["Alma Quist"]}
            )
        }
    )
    run_local(config, str(config_path), tmp_path / "out", SECRET_A)
    assert shard_rows(tmp_path / "out")["text"].to_list() == ["ask <NON_CONSENTED_USER>"]


def test_forget_needs_the_secret_the_output_was_built_with(built):
    root, output = built
    with pytest.raises(SecretError, match="not the secret this output was built with"):
        forget(output, root / "registry.parquet", SECRET_B)


def test_unchanged_registry_changes_nothing(built):
    root, output = built
    before = snapshot(output)
    assert forget(output, root / "registry.parquet", SECRET_A)["changed"] is False
    assert snapshot(output) == before


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_forget_flow_runs_in_prefect(built):
    from pipelines.forget import forget_flow

    root, output = built
    write_registry(
        root / "v2.parquet",
        [
            *REGISTRY_V1,
            ("UCARLA003", "deleted", "GB", T0 + timedelta(days=3), "carla", "Carla Mendez"),
        ],
    )
    os.environ["REDACT_SECRET"] = SECRET_A
    try:
        report = forget_flow(output=str(output), registry=str(root / "v2.parquet"))
    finally:
        os.environ.pop("REDACT_SECRET")
    assert report["records_removed_by_reason"] == {"deleted": 2}
    assert set(shard_rows(output)["record_id"]) == {"m1", "m2", "m3", "m4"}


# ---- property tests -------------------------------------------------------------------

USERS = [f"U{i:08d}" for i in range(6)]
STATUSES = ["opted_in", "opted_out", "deleted"]
REGIONS = ["US", "GB", "DE", "FR", None]
TEXTS = ["ok", "thanks!", "mail me at someone@example.org", "", "see you at 5"]


def registry_rows():
    """0-3 rows per user, distinct times per user (an ambiguous registry is refused)."""
    row = st.tuples(st.sampled_from(STATUSES), st.sampled_from(REGIONS))
    return st.fixed_dictionaries({u: st.lists(row, max_size=3) for u in USERS})


def to_rows(spec: dict, day0: int = 0) -> list[tuple]:
    return [
        (user, status, region, T0 + timedelta(days=day0 + i), None, None)
        for user, decisions in spec.items()
        for i, (status, region) in enumerate(decisions)
    ]


def allowed(rows: list[tuple], user: str, policy: str, excluded: set[str]) -> bool:
    """Independent oracle of the consent policy."""
    mine = sorted((r for r in rows if r[0] == user), key=lambda r: r[3])
    if not mine:
        return policy == "opt_out" and not excluded
    _, status, region, *_ = mine[-1]
    if status in ("opted_out", "deleted"):
        return False
    return not (excluded and (region is None or region in excluded))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    first=registry_rows(),
    later=registry_rows(),
    messages=st.lists(
        st.tuples(st.sampled_from([*USERS, "UGHOST000"]), st.sampled_from(TEXTS)),
        min_size=1,
        max_size=25,
    ),
    policy=st.sampled_from(["opt_in", "opt_out"]),
    exclude=st.booleans(),
    row_group_rows=st.integers(1, 6),
    unit_rows=st.integers(1, 8),
)
def test_no_unconsented_record_ever_in_a_shard_and_forget_touches_exactly_the_affected_shards(
    tmp_path_factory, redactor, first, later, messages, policy, exclude, row_group_rows, unit_rows
):
    root = tmp_path_factory.mktemp("prop")
    excluded = EU_LIKE if exclude else set()
    rows_v1 = to_rows(first)
    rows_v2 = rows_v1 + to_rows(later, day0=10)  # later decisions supersede earlier ones
    write_registry(root / "registry.parquet", rows_v1)
    write_registry(root / "v2.parquet", rows_v2)
    records = [(f"m{i:03d}", user, text) for i, (user, text) in enumerate(messages)]
    write_messages(root / "messages.parquet", records, row_group_rows)
    config_path = make_config(
        root, policy=policy, excluded=sorted(excluded), unit_rows=unit_rows, mentions=False
    )
    # Canaries are not what this measures, and a check per example is slow.
    config: RunConfig = load_config(config_path).model_copy(
        update={"canaries": CanaryConfig(count=0)}
    )
    output = root / "out"

    # the run: the flow's sequence, with the session's real redactor
    gate = ConsentGate.load(config.consent, root / "registry.parquet")
    engines = Engines(gate=gate, redactor=redactor, key=SECRET_A.encode())
    run_local(config, str(config_path), output, SECRET_A, engines=engines)

    expected = {
        rid for rid, user, text in records if text and allowed(rows_v1, user, policy, excluded)
    }
    assert set(shard_rows(output)["record_id"]) == expected

    before = snapshot(output)
    lineage = pl.read_parquet(output / "lineage" / "lineage.parquet")
    forget(output, root / "v2.parquet", SECRET_A)

    still = {
        rid
        for rid, user, _ in records
        if rid in expected and allowed(rows_v2, user, policy, excluded)
    }
    assert set(shard_rows(output)["record_id"]) == still
    removed = expected - still
    affected = set(lineage.filter(pl.col("record_id").is_in(sorted(removed)))["shard"])
    after = snapshot(output)
    for shard, state in before.items():
        if shard in affected:
            assert shard not in after or after[shard][2] != state[2], shard
        else:
            assert after.get(shard) == state, shard


def test_engines_refuse_a_registry_that_changed_since_preflight(built):
    from redactors.errors import ConsentError
    from redactors.unit import build_engines

    root, _ = built
    config = load_config(root / "run.yaml")
    with pytest.raises(ConsentError, match="changed since this run started"):
        build_engines(config, SECRET_A, registry_sha256="0" * 64)


def test_concurrent_writers_of_one_output_are_refused(built):
    from redactors.errors import OutputError
    from redactors.output import output_lock

    root, output = built
    before = snapshot(output)
    with output_lock(output.resolve()):
        with pytest.raises(OutputError, match="being written by another run or forget"):
            run_local(load_config(root / "run.yaml"), str(root / "run.yaml"), output, SECRET_A)
        with pytest.raises(OutputError, match="being written by another run or forget"):
            forget(output, root / "registry.parquet", SECRET_A)
    assert snapshot(output) == before
    # released: the next writer goes ahead
    assert forget(output, root / "registry.parquet", SECRET_A)["changed"] is False


def test_forget_clears_the_state_store_so_no_run_brings_records_back(built):
    """The store keeps units as they were first written (with the forgotten person's
    records); forget deletes it, and the next run redoes every unit from the inputs."""
    root, output = built
    assert UnitStore.for_output(output).units.is_dir()
    write_registry(
        root / "v2.parquet",
        [
            *REGISTRY_V1,
            ("UALMA0001", "opted_out", "US", T0 + timedelta(days=9), "alma.q", "Alma Quist"),
        ],
    )
    assert forget(output, root / "v2.parquet", SECRET_A)["changed"] is True
    assert not state_dir(output).exists()
    config_path = root / "run.yaml"
    shutil.copy(root / "v2.parquet", root / "registry.parquet")
    report = run_local(load_config(config_path), str(config_path), output, SECRET_A)
    assert report["incremental"]["units_reused"] == 0
    assert report["incremental"]["rebuild_reasons"] == [
        "no stored units (state deleted, or cleared by a forget)"
    ]
    assert "m1" not in set(shard_rows(output)["record_id"])
