"""Consent at every level (issue 23): organizations (org_column, consent.org_registry,
consent.org_policy), purpose-scoped registry rows (consent.purpose), and tombstones
(consent.deletions) through run, `redact forget`, incremental runs and rebuilds.

Gate tests use the library alone; runs use `run_local` with the session's real redactor (as
tests/test_forget.py does), one forget goes through the real `redact-forget` flow.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from redactors.config import ConsentConfig, RunConfig, load_config
from redactors.consent import ConsentGate, load_gate
from redactors.errors import ConfigError, ConsentError
from redactors.forget import forget
from redactors.run import run_local
from redactors.unit import Engines

from .conftest import SECRET_A

T0 = datetime(2026, 1, 1, tzinfo=UTC)
TS = pl.Datetime("us", "UTC")


def write_users(path: Path, rows: list[tuple]) -> None:
    """(user_id, status, region, updated_at[, purpose])"""
    with_purpose = any(len(row) == 5 for row in rows)
    schema = {"user_id": pl.String, "status": pl.String, "region": pl.String, "updated_at": TS}
    if with_purpose:
        schema["purpose"] = pl.String
        rows = [row if len(row) == 5 else (*row, None) for row in rows]
    pl.DataFrame(rows, schema=schema, orient="row").write_parquet(path)


def write_orgs(path: Path, rows: list[tuple]) -> None:
    """(org_id, status, region, updated_at, purpose)"""
    pl.DataFrame(
        rows,
        schema={
            "org_id": pl.String,
            "status": pl.String,
            "region": pl.String,
            "updated_at": TS,
            "purpose": pl.String,
        },
        orient="row",
    ).write_parquet(path)


def write_deletions(path: Path, rows: list[tuple[str, str]]) -> None:
    pl.DataFrame(
        [(source, rid, T0 + timedelta(days=300 + i)) for i, (source, rid) in enumerate(rows)],
        schema={"source": pl.String, "record_id": pl.String, "deleted_at": TS},
        orient="row",
    ).write_parquet(path)


def write_messages(path: Path, rows: list[tuple[str, str, str | None, str]], group: int) -> None:
    """(message_id, user_id, org_id, text)"""
    pl.DataFrame(
        {
            "message_id": [r[0] for r in rows],
            "user_id": [r[1] for r in rows],
            "org_id": [r[2] for r in rows],
            "ts": [T0 + timedelta(minutes=i) for i in range(len(rows))],
            "text": [r[3] for r in rows],
        },
        schema={
            "message_id": pl.String,
            "user_id": pl.String,
            "org_id": pl.String,
            "ts": TS,
            "text": pl.String,
        },
    ).write_parquet(path, row_group_size=group)


def make_config(
    root: Path,
    *,
    policy: str = "opt_in",
    org_policy: str = "opt_in",
    purpose: str | None = "training",
    orgs: bool = True,
    deletions: bool = True,
    unit_rows: int = 2,
    excluded: tuple[str, ...] = ("DE",),
) -> Path:
    consent: dict = {
        "registry": "users.parquet",
        "policy": policy,
        "excluded_regions": list(excluded),
        "mask_non_consented_mentions": False,
    }
    if orgs:
        consent |= {"org_registry": "orgs.parquet", "org_policy": org_policy}
    if purpose:
        consent["purpose"] = purpose
    if deletions:
        consent["deletions"] = "deletions.parquet"
    source = {
        "name": "messages",
        "path": "messages.parquet",
        "id_column": "message_id",
        "user_column": "user_id",
        "time_column": "ts",
        "text_columns": ["text"],
    }
    if orgs:
        source["org_column"] = "org_id"
    config = {
        "run_name": "levels-test",
        "sources": [source],
        "consent": consent,
        "detection": {"entities": ["EMAIL_ADDRESS"]},
        "output": {"shard_max_rows": 1000, "dedup": "none"},
        "canaries": {"count": 0},
        "runner": {"unit_rows": unit_rows, "batch_rows": 1000},
    }
    path = root / "run.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return path


def shard_ids(output: Path) -> set[str]:
    files = sorted((output / "shards").glob("*.parquet"))
    return set(pl.concat([pl.read_parquet(f) for f in files])["record_id"]) if files else set()


def run(root: Path, output: Path, redactor, *, rebuild: bool = False) -> dict:
    config_path = root / "run.yaml"
    config: RunConfig = load_config(config_path)
    engines = Engines(gate=load_gate(config), redactor=redactor, key=SECRET_A.encode())
    return run_local(config, str(config_path), output, SECRET_A, engines=engines, rebuild=rebuild)


def messages_frame(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        rows, schema={"id": pl.String, "user": pl.String, "org": pl.String}, orient="row"
    )


# ---- the gate ---------------------------------------------------------------------------


def gate_for(root: Path, **changes) -> ConsentGate:
    config = load_config(make_config(root, **changes))
    return load_gate(config)


@pytest.fixture
def levels_root(tmp_path):
    write_users(
        tmp_path / "users.parquet",
        [
            ("UA", "opted_in", "US", T0),
            ("UB", "opted_in", "US", T0),
            ("UC", "opted_out", "US", T0),
        ],
    )
    write_orgs(
        tmp_path / "orgs.parquet",
        [
            ("T1", "opted_in", "US", T0, None),
            ("T2", "opted_in", None, T0, None),
            ("T2", "opted_out", None, T0 + timedelta(days=3), None),  # latest row wins
            ("T3", "deleted", None, T0, None),
            ("T4", "opted_in", "DE", T0, None),  # an excluded region
        ],
    )
    write_deletions(tmp_path / "deletions.parquet", [("messages", "m9")])
    return tmp_path


def test_org_reasons_are_counted_apart_from_user_reasons(levels_root):
    gate = gate_for(levels_root)
    batch = messages_frame(
        [
            ("m1", "UA", "T1"),  # kept
            ("m2", "UA", "T2"),  # org opted out (later row)
            ("m3", "UA", "T3"),
            ("m4", "UA", "T4"),
            ("m5", "UA", "T9"),  # org not in the registry: opt_in drops it
            ("m6", "UA", None),
            ("m7", "UC", "T1"),  # user opted out in a consenting org
            ("m8", "UC", "T2"),  # both say no: the org is checked first
            ("m9", "UA", "T1"),  # tombstoned
        ]
    )
    kept, dropped, _ = gate.split(
        batch, "user", org_column="org", source="messages", id_column="id"
    )
    assert kept["id"].to_list() == ["m1"]
    assert dropped == {
        "org_opted_out": 2,
        "org_deleted": 1,
        "org_region_excluded": 1,
        "org_not_in_registry": 1,
        "missing_org_id": 1,
        "opted_out": 1,
        "record_deleted": 1,
    }


def test_org_opt_out_policy_keeps_unknown_orgs_but_never_opted_out_ones(levels_root):
    gate = gate_for(levels_root, org_policy="opt_out")
    batch = messages_frame([("m1", "UA", "T9"), ("m2", "UB", "T2"), ("m3", "UB", None)])
    kept, dropped, _ = gate.split(batch, "user", org_column="org")
    assert kept["id"].to_list() == ["m1"]
    assert dropped == {"org_opted_out": 1, "missing_org_id": 1}


def test_only_rows_for_the_runs_purpose_or_for_all_purposes_count(tmp_path):
    write_users(
        tmp_path / "users.parquet",
        [
            ("UA", "opted_in", "US", T0, "training"),
            ("UA", "opted_out", "US", T0 + timedelta(days=1), "ads"),  # another use: ignored
            ("UB", "opted_in", "US", T0, "ads"),  # consent for ads is not consent for training
            ("UC", "opted_in", "US", T0, None),  # null purpose: all purposes
            ("UD", "opted_in", "US", T0, None),
            ("UD", "opted_out", "US", T0 + timedelta(days=1), "training"),  # latest that counts
        ],
    )
    config = ConsentConfig(registry="users.parquet", purpose="training")
    gate = ConsentGate.load(config, tmp_path / "users.parquet")
    reasons = gate.reasons(pl.Series(["UA", "UB", "UC", "UD"])).to_list()
    assert reasons == ["", "not_in_registry", "", "opted_out"]
    assert gate.registry_fingerprint["purpose"] == "training"
    assert gate.levels()["user"]["purpose"] == "training"


def test_a_registry_with_purposes_needs_a_run_purpose(tmp_path):
    write_users(
        tmp_path / "users.parquet",
        [("UA", "opted_in", "US", T0, None), ("SECRETID", "opted_in", "US", T0, "training")],
    )
    with pytest.raises(ConsentError) as error:
        ConsentGate.load(ConsentConfig(registry="x"), tmp_path / "users.parquet")
    message = str(error.value)
    assert "users.parquet" in message and "'purpose'" in message and "row 1" in message
    assert "consent.purpose" in message and "SECRETID" not in message


def test_ambiguous_org_rows_are_refused_naming_the_row_not_the_id(tmp_path):
    write_users(tmp_path / "users.parquet", [("UA", "opted_in", "US", T0)])
    write_orgs(
        tmp_path / "orgs.parquet",
        [("TSECRET", "opted_in", None, T0, None), ("TSECRET", "opted_out", None, T0, None)],
    )
    write_deletions(tmp_path / "deletions.parquet", [])
    with pytest.raises(ConsentError, match=r"org registry .*orgs.parquet.*row 0") as error:
        gate_for(tmp_path)
    assert "TSECRET" not in str(error.value)


def test_bad_org_status_is_refused_with_file_and_row(tmp_path):
    write_users(tmp_path / "users.parquet", [("UA", "opted_in", "US", T0)])
    write_orgs(
        tmp_path / "orgs.parquet",
        [("T1", "opted_in", None, T0, None), ("T2", "maybe", None, T0, None)],
    )
    write_deletions(tmp_path / "deletions.parquet", [])
    with pytest.raises(ConsentError, match=r"orgs.parquet: status is not one of .* at row 1"):
        gate_for(tmp_path)


def test_a_source_without_org_column_is_a_config_error_naming_it(tmp_path):
    path = make_config(tmp_path)
    config = json.loads(path.read_text())
    del config["sources"][0]["org_column"]
    path.write_text(json.dumps(config))
    with pytest.raises(ConfigError, match=r"source\(s\) \['messages'\] have no org_column"):
        load_config(path)


def test_tombstones_are_validated_naming_file_column_and_row(tmp_path):
    write_users(tmp_path / "users.parquet", [("UA", "opted_in", "US", T0)])
    write_orgs(tmp_path / "orgs.parquet", [("T1", "opted_in", None, T0, None)])
    write_deletions(tmp_path / "deletions.parquet", [("messages", "m1"), ("mesages", "SECRETID")])
    with pytest.raises(
        ConsentError, match=r"deletions.parquet: source at row 1 is not one of"
    ) as e:
        gate_for(tmp_path)
    assert "SECRETID" not in str(e.value)
    pl.DataFrame(
        {"source": ["messages"], "record_id": [None], "deleted_at": [T0]},
        schema={"source": pl.String, "record_id": pl.String, "deleted_at": TS},
    ).write_parquet(tmp_path / "deletions.parquet")
    with pytest.raises(ConsentError, match=r"deletions.parquet: record_id is null at row 0"):
        gate_for(tmp_path)
    pl.DataFrame({"source": ["messages"], "record_id": ["m1"]}).write_parquet(
        tmp_path / "deletions.parquet"
    )
    with pytest.raises(ConsentError, match=r"lacks column\(s\) \['deleted_at'\]"):
        gate_for(tmp_path)


def test_the_decision_hash_is_the_registry_hash_without_new_levels(levels_root):
    plain = gate_for(levels_root, orgs=False, purpose=None, deletions=False)
    assert plain.decision_sha256 == plain.registry_fingerprint["sha256"]
    full = gate_for(levels_root)
    assert full.decision_sha256 != plain.decision_sha256
    write_deletions(levels_root / "deletions.parquet", [("messages", "m9"), ("messages", "m1")])
    assert gate_for(levels_root).decision_sha256 != full.decision_sha256


# ---- runs, forget, incremental runs and rebuilds ----------------------------------------

USERS_V1 = [("UA", "opted_in", "US", T0), ("UB", "opted_in", "US", T0)]
ORGS_V1 = [("T1", "opted_in", "US", T0, None), ("T2", "opted_in", "US", T0, None)]
MESSAGES = [  # unit_rows=2: units (shards) are [m1, m2], [m3, m4], [m5, m6]
    ("m1", "UA", "T1", "first note"),
    ("m2", "UA", "T1", "second note"),
    ("m3", "UB", "T2", "from the other workspace"),
    ("m4", "UB", "T2", "more of it"),
    ("m5", "UA", "T1", "third note"),
    ("m6", "UB", "T1", "hello"),
]


@pytest.fixture
def built(tmp_path, redactor):
    write_users(tmp_path / "users.parquet", USERS_V1)
    write_orgs(tmp_path / "orgs.parquet", ORGS_V1)
    write_deletions(tmp_path / "deletions.parquet", [])
    write_messages(tmp_path / "messages.parquet", MESSAGES, group=2)
    make_config(tmp_path)
    output = tmp_path / "out"
    run(tmp_path, output, redactor)
    assert shard_ids(output) == {"m1", "m2", "m3", "m4", "m5", "m6"}
    return tmp_path, output


def shard_bytes(output: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((output / "shards").glob("*.parquet"))}


def test_delete_then_rerun_on_the_old_export_then_rebuild_never_brings_it_back(built, redactor):
    root, output = built
    before = shard_bytes(output)
    write_deletions(root / "deletions.parquet", [("messages", "m2")])
    report = forget(output, None, SECRET_A, deletions_path=root / "deletions.parquet")
    assert report["records_removed_by_reason"] == {"record_deleted": 1}
    assert report["shards_rewritten"] == 1 and report["deletions"]["ids"] == 1
    after = shard_bytes(output)
    assert sum(1 for name in before if after.get(name) != before[name]) == 1  # only m2's shard
    assert shard_ids(output) == {"m1", "m3", "m4", "m5", "m6"}
    lineage = pl.read_parquet(output / "lineage" / "lineage.parquet")
    assert "m2" not in set(lineage["record_id"]) and lineage.height == 5
    manifest = json.loads((output / "manifest.json").read_text())
    assert manifest["consent_provenance"]["record"]["removed_by_forget"]["record_deleted"] == 1

    # the export still holds m2: a rerun (same config, tombstone file kept) leaves it out
    report = run(root, output, redactor)
    assert "m2" not in shard_ids(output)
    assert report["consent"]["levels"]["record"]["dropped_by_reason"]["record_deleted"] == 1
    # and so does a rebuild from scratch
    run(root, output, redactor, rebuild=True)
    assert shard_ids(output) == {"m1", "m3", "m4", "m5", "m6"}

    # a run whose deletions file lost the tombstone is refused, not published
    write_deletions(root / "deletions.parquet", [])
    with pytest.raises(ConsentError, match=r"1 record deletion.* already applied") as error:
        run(root, output, redactor)
    assert "m2" not in str(error.value)
    assert "m2" not in shard_ids(output)


def test_a_newer_tombstone_file_refreshes_stored_units_without_redoing_them(built, redactor):
    root, output = built
    write_deletions(root / "deletions.parquet", [("messages", "m5"), ("messages", "m4")])
    report = run(root, output, redactor)
    assert shard_ids(output) == {"m1", "m2", "m3", "m6"}
    assert report["incremental"]["units_processed"] == 0
    assert report["incremental"]["units_refreshed"] == 3  # every stored unit: new decisions
    assert report["incremental"]["this_run"]["records_removed_by_newer_registry"] == 2
    assert report["totals"]["dropped_by_reason"]["record_deleted"] == 2


def test_forget_applies_a_newer_org_registry(built, redactor):
    root, output = built
    write_orgs(
        root / "orgs-v2.parquet",
        [*ORGS_V1, ("T2", "opted_out", "US", T0 + timedelta(days=9), None)],
    )
    report = forget(output, None, SECRET_A, org_registry_path=root / "orgs-v2.parquet")
    assert report["records_removed_by_reason"] == {"org_opted_out": 2}
    assert report["shards_removed"] == 1  # [m3, m4] held only that workspace's records
    assert shard_ids(output) == {"m1", "m2", "m5", "m6"}
    manifest = json.loads((output / "manifest.json").read_text())
    org = manifest["consent_provenance"]["org"]
    assert org["registry"]["sha256"] == report["org_registry"]["sha256"]
    assert org["removed_by_forget"]["org_opted_out"] == 2
    card = (output / "README.md").read_text()
    assert report["org_registry"]["sha256"][:16] in card
    # the user level still rests on the registry the run used
    assert manifest["consent_registry"]["path"].endswith("users.parquet")


def test_forget_refuses_an_org_registry_for_an_output_built_without_one(tmp_path, redactor):
    write_users(tmp_path / "users.parquet", USERS_V1)
    write_orgs(tmp_path / "orgs.parquet", ORGS_V1)
    write_messages(tmp_path / "messages.parquet", MESSAGES, group=2)
    make_config(tmp_path, orgs=False, deletions=False, purpose=None)
    run(tmp_path, tmp_path / "out", redactor)
    with pytest.raises(Exception, match="built without an org registry"):
        forget(tmp_path / "out", None, SECRET_A, org_registry_path=tmp_path / "orgs.parquet")


def test_the_forget_flow_takes_deletions_and_org_registry(built, prefect_harness):
    from pipelines.forget import forget_flow

    root, output = built
    write_deletions(root / "tomb.parquet", [("messages", "m1")])
    write_orgs(
        root / "orgs-v2.parquet", [*ORGS_V1, ("T2", "deleted", "US", T0 + timedelta(days=9), None)]
    )
    os.environ["REDACT_SECRET"] = SECRET_A
    try:
        report = forget_flow(
            output=str(output),
            org_registry=str(root / "orgs-v2.parquet"),
            deletions=str(root / "tomb.parquet"),
        )
    finally:
        os.environ.pop("REDACT_SECRET")
    assert report["records_removed_by_reason"] == {"org_deleted": 2, "record_deleted": 1}
    assert shard_ids(output) == {"m2", "m5", "m6"}


def test_report_and_manifest_give_provenance_per_level(built):
    _, output = built
    report = json.loads((output / "report.json").read_text())
    manifest = json.loads((output / "manifest.json").read_text())
    for levels in (report["consent"]["levels"], manifest["consent_provenance"]):
        assert set(levels) == {"user", "org", "record"}
        assert levels["org"]["registry"]["as_of"].startswith("2026-01-01")
        assert levels["org"]["purpose"] == "training"
        assert len(levels["user"]["registry"]["sha256"]) == 64
        assert set(levels["org"]["dropped_by_reason"]) == {
            "missing_org_id",
            "org_deleted",
            "org_opted_out",
            "org_region_excluded",
            "org_not_in_registry",
        }
    assert report["consent"]["purpose"] == manifest["consent_policy"]["purpose"] == "training"
    assert manifest["consent_policy"]["org_policy"] == "opt_in"
    html = (output / "report.html").read_text()
    # the report writes reasons for people: "org not in registry"
    assert "org not in registry" in html and "training" in html


# ---- property test ----------------------------------------------------------------------

P_USERS = ["UA", "UB", "UC", "UD"]
P_ORGS = ["T1", "T2", "T3"]
STATUS = ["opted_in", "opted_out", "deleted"]
PURPOSES = [None, "training", "ads"]


def decisions(ids: list[str], regions: list[str | None]):
    row = st.tuples(st.sampled_from(STATUS), st.sampled_from(regions), st.sampled_from(PURPOSES))
    return st.fixed_dictionaries({i: st.lists(row, max_size=3) for i in ids})


def rows_of(spec: dict, day0: int) -> list[tuple]:
    return [
        (i, status, region, T0 + timedelta(days=day0 + n), purpose)
        for i, rows in spec.items()
        for n, (status, region, purpose) in enumerate(rows)
    ]


def passes(rows: list[tuple], key: str, policy: str, excluded: set[str], user: bool) -> bool:
    """Independent oracle of one level's policy for the run purpose "training"."""
    mine = sorted(
        (r for r in rows if r[0] == key and r[4] in (None, "training")), key=lambda r: r[3]
    )
    if not mine:
        return policy == "opt_out" and not (user and excluded)
    _, status, region, *_ = mine[-1]
    if status != "opted_in":
        return False
    if region in excluded:
        return False
    return not (user and excluded and region is None)


@settings(
    max_examples=10,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    users1=decisions(P_USERS, ["US", "DE", None]),
    users2=decisions(P_USERS, ["US", "DE", None]),
    orgs1=decisions(P_ORGS, ["US", "DE", None]),
    orgs2=decisions(P_ORGS, ["US", "DE", None]),
    messages=st.lists(
        st.tuples(
            st.sampled_from([*P_USERS, "UX"]),
            st.sampled_from([*P_ORGS, "TX", None]),
            st.sampled_from(["ok", "hello there", ""]),
        ),
        min_size=1,
        max_size=12,
    ),
    tomb1=st.sets(st.integers(0, 11), max_size=3),
    tomb2=st.sets(st.integers(0, 11), max_size=3),
    policy=st.sampled_from(["opt_in", "opt_out"]),
    org_policy=st.sampled_from(["opt_in", "opt_out"]),
    exclude=st.booleans(),
    unit_rows=st.integers(1, 5),
)
def test_no_record_of_a_non_consented_org_user_or_purpose_nor_a_deleted_one_in_any_shard(
    tmp_path_factory,
    redactor,
    users1,
    users2,
    orgs1,
    orgs2,
    messages,
    tomb1,
    tomb2,
    policy,
    org_policy,
    exclude,
    unit_rows,
):
    root = tmp_path_factory.mktemp("levels")
    excluded = {"DE"} if exclude else set()
    users_v1, orgs_v1 = rows_of(users1, 0), rows_of(orgs1, 0)
    users_v2, orgs_v2 = users_v1 + rows_of(users2, 10), orgs_v1 + rows_of(orgs2, 10)
    records = [(f"m{i:02d}", u, o, text) for i, (u, o, text) in enumerate(messages)]
    dead_v1 = {f"m{i:02d}" for i in tomb1}
    dead_v2 = dead_v1 | {f"m{i:02d}" for i in tomb2}

    def allowed(users: list[tuple], orgs: list[tuple], dead: set[str]) -> set[str]:
        return {
            rid
            for rid, user, org, text in records
            if text
            and rid not in dead
            and org is not None
            and passes(orgs, org, org_policy, excluded, user=False)
            and passes(users, user, policy, excluded, user=True)
        }

    write_users(root / "users.parquet", users_v1 or [("UZ", "opted_out", "US", T0, None)])
    write_orgs(root / "orgs.parquet", orgs_v1 or [("TZ", "opted_out", None, T0, None)])
    write_deletions(root / "deletions.parquet", [("messages", rid) for rid in sorted(dead_v1)])
    write_messages(root / "messages.parquet", records, group=2)
    make_config(
        root,
        policy=policy,
        org_policy=org_policy,
        unit_rows=unit_rows,
        excluded=tuple(sorted(excluded)),
    )
    output = root / "out"
    users_v1 = users_v1 or [("UZ", "opted_out", "US", T0, None)]
    orgs_v1 = orgs_v1 or [("TZ", "opted_out", None, T0, None)]
    first = allowed(users_v1, orgs_v1, dead_v1)

    # run
    run(root, output, redactor)
    assert shard_ids(output) == first

    # incremental run under newer registries and tombstones: stored units are refreshed,
    # withdrawn consent and new tombstones apply; nobody newly consented comes in yet
    write_users(root / "users.parquet", users_v1 + rows_of(users2, 10))
    write_orgs(root / "orgs.parquet", orgs_v1 + rows_of(orgs2, 10))
    users_v2, orgs_v2 = users_v1 + rows_of(users2, 10), orgs_v1 + rows_of(orgs2, 10)
    write_deletions(root / "deletions.parquet", [("messages", rid) for rid in sorted(dead_v2)])
    run(root, output, redactor)
    second = allowed(users_v2, orgs_v2, dead_v2)
    assert shard_ids(output) == first & second

    # forget with one more tombstone (also recorded in the run's deletions file)
    extra = sorted(second)[:1]
    dead_v3 = dead_v2 | set(extra)
    write_deletions(root / "deletions.parquet", [("messages", rid) for rid in sorted(dead_v3)])
    forget(
        output,
        root / "users.parquet",
        SECRET_A,
        org_registry_path=root / "orgs.parquet",
        deletions_path=root / "deletions.parquet",
    )
    third = allowed(users_v2, orgs_v2, dead_v3)
    assert shard_ids(output) == first & third

    # rerun on the same (old) export: no deleted or non-consented record comes back (a
    # forget that removed nothing leaves the stored units, which only ever drop records)
    run(root, output, redactor)
    assert shard_ids(output) <= third
    # rebuild from scratch
    run(root, output, redactor, rebuild=True)
    assert shard_ids(output) == third


def test_an_export_without_the_org_column_fails_preflight_naming_file_and_column(tmp_path):
    from redactors.errors import InputError

    write_users(tmp_path / "users.parquet", USERS_V1)
    write_orgs(tmp_path / "orgs.parquet", ORGS_V1)
    write_deletions(tmp_path / "deletions.parquet", [])
    write_messages(tmp_path / "messages.parquet", MESSAGES, group=2)
    frame = pl.read_parquet(tmp_path / "messages.parquet").drop("org_id")
    frame.write_parquet(tmp_path / "messages.parquet")
    config_path = make_config(tmp_path)
    with pytest.raises(InputError, match=r"messages.parquet: missing column\(s\) \['org_id'\]"):
        run_local(load_config(config_path), str(config_path), tmp_path / "out", SECRET_A)
    assert not (tmp_path / "out").exists()


def test_the_forget_command_needs_a_registry_org_registry_or_deletions(tmp_path):
    from typer.testing import CliRunner

    from pipelines.cli import app

    result = CliRunner().invoke(app, ["forget", "--output", str(tmp_path)])
    assert result.exit_code != 0
    assert "--registry, --org-registry or --deletions" in result.output
