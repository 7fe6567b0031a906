"""Consent policy on small hand-made registries (no model, no Prefect)."""

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from redactors.config import ConsentConfig
from redactors.consent import KEPT_NOT_IN_REGISTRY, ConsentGate
from redactors.errors import ConsentError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
T1 = datetime(2026, 6, 1, tzinfo=UTC)


def registry(tmp_path: Path, rows: list[tuple]) -> Path:
    frame = pl.DataFrame(
        rows,
        schema={
            "user_id": pl.String,
            "status": pl.String,
            "region": pl.String,
            "updated_at": pl.Datetime("us", "UTC"),
        },
        orient="row",
    )
    path = tmp_path / "consent.parquet"
    frame.write_parquet(path)
    return path


ROWS = [
    ("in_us", "opted_in", "US", T0),
    ("out_us", "opted_out", "US", T0),
    ("deleted_us", "deleted", "US", T0),
    ("in_de", "opted_in", "DE", T0),
    ("in_ch", "opted_in", "CH", T0),
    ("in_noregion", "opted_in", None, T0),
    ("flip_to_out", "opted_in", "US", T0),
    ("flip_to_out", "opted_out", "US", T1),
    ("flip_to_in", "opted_out", "US", T0),
    ("flip_to_in", "opted_in", "US", T1),
    ("moved_to_fr", "opted_in", "US", T0),
    ("moved_to_fr", "opted_in", "FR", T1),
]
USERS = [
    "in_us",
    "out_us",
    "deleted_us",
    "in_de",
    "in_ch",
    "in_noregion",
    "flip_to_out",
    "flip_to_in",
    "moved_to_fr",
    "stranger",
    None,
]


def decide(tmp_path, policy, excluded):
    gate = ConsentGate.load(
        ConsentConfig(registry="x", policy=policy, excluded_regions=excluded),
        registry(tmp_path, ROWS),
    )
    reasons = gate.reasons(pl.Series(USERS, dtype=pl.String)).to_list()
    return dict(zip(USERS, reasons, strict=True))


def test_opt_in_keeps_only_current_opt_ins_outside_excluded_regions(tmp_path):
    decided = decide(tmp_path, "opt_in", ["EU", "EEA", "CH"])
    assert decided == {
        "in_us": "",
        "out_us": "opted_out",
        "deleted_us": "deleted",
        "in_de": "region_excluded",
        "in_ch": "region_excluded",
        "in_noregion": "region_unknown",
        "flip_to_out": "opted_out",  # latest row wins
        "flip_to_in": "",
        "moved_to_fr": "region_excluded",
        "stranger": "not_in_registry",
        None: "missing_user_id",
    }


def test_opt_out_keeps_everyone_not_opted_out_but_still_checks_regions(tmp_path):
    decided = decide(tmp_path, "opt_out", ["EU", "CH"])
    assert decided["stranger"] == "region_unknown"  # region cannot be verified: dropped
    assert decided["in_us"] == "" and decided["flip_to_in"] == ""
    assert decided["out_us"] == "opted_out" and decided["deleted_us"] == "deleted"
    assert decided["in_de"] == "region_excluded"
    assert decided["in_noregion"] == "region_unknown"


def test_opt_out_without_excluded_regions_keeps_unknown_users_and_counts_them(tmp_path):
    decided = decide(tmp_path, "opt_out", [])
    assert decided["stranger"] == KEPT_NOT_IN_REGISTRY
    assert decided["in_noregion"] == "" and decided["in_de"] == ""
    assert decided[None] == "missing_user_id"
    gate = ConsentGate.load(ConsentConfig(registry="x", policy="opt_out"), registry(tmp_path, ROWS))
    kept, dropped, kept_unregistered = gate.split(
        pl.DataFrame({"uid": ["stranger", "in_us", "out_us", "other stranger"]}), "uid"
    )
    assert kept["uid"].to_list() == ["stranger", "in_us", "other stranger"]
    assert dropped == Counter({"opted_out": 1}) and kept_unregistered == 2


def test_split_keeps_order_and_counts_reasons(tmp_path):
    gate = ConsentGate.load(
        ConsentConfig(registry="x", excluded_regions=["EU"]), registry(tmp_path, ROWS)
    )
    batch = pl.DataFrame(
        {"uid": ["in_us", "stranger", "flip_to_in", "in_de", "in_us"], "n": [1, 2, 3, 4, 5]}
    )
    kept, dropped, kept_unregistered = gate.split(batch, "uid")
    assert kept["n"].to_list() == [1, 3, 5]
    assert dropped == Counter({"not_in_registry": 1, "region_excluded": 1})
    assert kept_unregistered == 0


def test_integer_user_ids_match_string_registry(tmp_path):
    gate = ConsentGate.load(
        ConsentConfig(registry="x"), registry(tmp_path, [("42", "opted_in", "US", T0)])
    )
    assert gate.reasons(pl.Series([42, 43])).to_list() == ["", "not_in_registry"]


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([(None, "opted_in", "US", T0)], "user_id is null at row 0"),
        ([("a", "opted_in", "US", T0), ("b", "maybe", "US", T0)], "status is not one of"),
        ([("a", "opted_in", "US", None)], "updated_at is null"),
        ([("a", "opted_in", "US", T0), ("a", "opted_out", "US", T0)], "ambiguous"),
        ([("a", "opted_in", "US", T0), ("b", "opted_in", "UK", T0)], "region is not an ISO"),
        ([("a", "opted_in", "Germany", T0)], "region is not an ISO 3166 alpha-2 .* at row 0"),
        ([("a", "opted_in", "", T0)], "region is not an ISO"),
    ],
)
def test_ambiguous_or_broken_registry_is_refused(tmp_path, rows, message):
    with pytest.raises(ConsentError, match=message) as error:
        ConsentGate.load(ConsentConfig(registry="x"), registry(tmp_path, rows))
    assert "'a'" not in str(error.value) and "'b'" not in str(error.value)


def test_identical_duplicate_rows_are_fine(tmp_path):
    rows = [("a", "opted_in", "US", T0), ("a", "opted_in", "US", T0)]
    gate = ConsentGate.load(ConsentConfig(registry="x"), registry(tmp_path, rows))
    assert gate.reasons(pl.Series(["a"])).to_list() == [""]


def test_missing_registry_and_missing_columns(tmp_path):
    with pytest.raises(ConsentError, match="not found"):
        ConsentGate.load(ConsentConfig(registry="x"), tmp_path / "none.parquet")
    path = tmp_path / "partial.parquet"
    pl.DataFrame({"user_id": ["a"], "status": ["opted_in"]}).write_parquet(path)
    with pytest.raises(ConsentError, match="lacks column"):
        ConsentGate.load(ConsentConfig(registry="x"), path)


def test_region_spelling_is_normalised_not_guessed(tmp_path):
    rows = [("a", "opted_in", " de", T0), ("b", "opted_in", "us ", T0)]
    gate = ConsentGate.load(
        ConsentConfig(registry="x", excluded_regions=["EU"]), registry(tmp_path, rows)
    )
    assert gate.reasons(pl.Series(["a", "b"])).to_list() == ["region_excluded", ""]


def test_float_or_other_id_types_are_refused(tmp_path):
    path = tmp_path / "float_ids.parquet"
    pl.DataFrame(
        {"user_id": [42.0], "status": ["opted_out"], "region": ["US"], "updated_at": [T0]}
    ).write_parquet(path)
    with pytest.raises(ConsentError, match="'user_id' must be string or integer"):
        ConsentGate.load(ConsentConfig(registry="x", policy="opt_out"), path)
    gate = ConsentGate.load(ConsentConfig(registry="x"), registry(tmp_path, ROWS))
    with pytest.raises(ConsentError, match="strings or integers"):
        gate.reasons(pl.Series([42.0]))


def test_registry_fingerprint_has_checksum(tmp_path):
    path = registry(tmp_path, ROWS)
    gate = ConsentGate.load(ConsentConfig(registry="x"), path)
    assert gate.registry_fingerprint["rows"] == len(ROWS)
    assert gate.registry_fingerprint["users"] == 9
    assert len(gate.registry_fingerprint["sha256"]) == 64


def test_records_flagged_deleted_in_the_export_are_dropped(tmp_path):
    gate = ConsentGate.load(ConsentConfig(registry="x"), registry(tmp_path, ROWS))
    batch = pl.DataFrame(
        {
            "uid": ["in_us", "in_us", "in_us", None, "out_us"],
            "is_deleted": [False, True, None, True, True],
            "deleted_at": [None, T1, None, None, None],
        }
    )
    kept, dropped, _ = gate.split(batch, "uid", "is_deleted")
    assert kept.height == 1  # null flag: unknown, dropped (fail closed)
    assert dropped == Counter({"flagged_deleted": 3, "missing_user_id": 1})
    kept, dropped, _ = gate.split(batch, "uid", "deleted_at")
    assert kept.height == 2
    assert dropped == Counter({"flagged_deleted": 1, "missing_user_id": 1, "opted_out": 1})
    with pytest.raises(ConsentError, match="boolean or a timestamp"):
        gate.split(batch.with_columns(pl.lit("yes").alias("flag")), "uid", "flag")
