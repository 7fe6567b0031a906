"""Incremental runs and the state store: a run redoes only new or changed inputs, reuses
verified units, rebuilds on a config / secret change, and ends with exactly the output a
from-scratch run on the same inputs gives."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import polars as pl
import pytest
import yaml

from redactors.config import load_config
from redactors.run import run_local
from redactors.state import ENTRY, UnitStore, state_dir
from tests.conftest import SAMPLE_CONFIG, SECRET_A, SECRET_B

pytestmark = pytest.mark.slow

SAMPLE_MESSAGES = SAMPLE_CONFIG.parent.parent / "data" / "sample" / "messages.parquet"


def _write_exports(directory: Path) -> list[Path]:
    """The sample messages split into three daily export files."""
    directory.mkdir(parents=True, exist_ok=True)
    frame = pl.read_parquet(SAMPLE_MESSAGES)
    third = frame.height // 3
    paths = []
    for day, start in enumerate((0, third, 2 * third)):
        path = directory / f"2026-11-{day + 1:02d}.parquet"
        frame.slice(start, third if day < 2 else None).write_parquet(path, row_group_size=250)
        paths.append(path)
    return paths


def _config(root: Path, exports: Path, **changes: dict) -> Path:
    data = yaml.safe_load(SAMPLE_CONFIG.read_text())
    base = SAMPLE_CONFIG.parent
    data["run_name"] = "incremental"
    data["sources"] = [s for s in data["sources"] if s["name"] == "messages"]
    data["sources"][0]["path"] = str(exports / "*.parquet")
    data["consent"]["registry"] = str((base / data["consent"]["registry"]).resolve())
    data["consent"]["org_registry"] = str((base / data["consent"]["org_registry"]).resolve())
    # The sample's tombstones name posts too, a source these runs do not have (refused).
    data["consent"].pop("deletions")
    data["canaries"] = {**data.get("canaries", {}), "count": 0}
    for key, value in changes.items():
        data[key] = {**data.get(key, {}), **value}
    path = root / f"config-{len(list(root.glob('config-*.yaml')))}.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _run(config_path: Path, output: Path, secret: str = SECRET_A, rebuild: bool = False) -> dict:
    return run_local(load_config(config_path), str(config_path), output, secret, rebuild)


def _shards(output: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((output / "shards").glob("*.parquet"))}


def _entries(output: Path) -> set[str]:
    units = UnitStore.for_output(output).units
    return {p.name for p in units.iterdir()} if units.is_dir() else set()


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One output location taken through a night-by-night sequence of runs; each step
    keeps its report and shards, and a from-scratch run of the same inputs for comparison."""
    root = tmp_path_factory.mktemp("incremental")
    exports = root / "exports"
    day1, day2, day3 = _write_exports(exports)
    day3.rename(root / day3.name)  # lands later
    config = _config(root, exports)
    output = root / "out"
    steps: dict[str, dict] = {}

    def step(name: str, **kwargs: object) -> None:
        report = _run(config, output, **kwargs)  # type: ignore[arg-type]
        steps[name] = {
            "report": report,
            "shards": _shards(output),
            "entries": _entries(output),
            "manifest": json.loads((output / "manifest.json").read_text()),
            "html": (output / "report.html").read_text(),
        }

    step("first")
    step("unchanged")
    (root / day3.name).rename(day3)
    step("new_file")
    fresh_new = root / "fresh-new"
    _run(config, fresh_new)
    frame = pl.read_parquet(day2)
    frame.head(frame.height - 100).write_parquet(day2, row_group_size=250)
    step("changed_file")
    fresh_changed = root / "fresh-changed"
    _run(config, fresh_changed)
    day1.unlink()
    step("removed_file")
    step("rebuild", rebuild=True)
    step("secret_changed", secret=SECRET_B)
    return {
        "root": root,
        "output": output,
        "config": config,
        "exports": exports,
        "steps": steps,
        "fresh_new": _shards(fresh_new),
        "fresh_changed": _shards(fresh_changed),
    }


def test_first_run_processes_everything(scenario: dict) -> None:
    incremental = scenario["steps"]["first"]["report"]["incremental"]
    assert incremental["units_reused"] == 0
    assert incremental["units_processed"] == incremental["units"] > 0
    assert incremental["rebuild_reasons"] == ["first run in this output location"]
    assert len(incremental["inputs"]["new"]) == 2


def test_unchanged_inputs_are_skipped_and_output_is_identical(scenario: dict) -> None:
    first, again = scenario["steps"]["first"], scenario["steps"]["unchanged"]
    incremental = again["report"]["incremental"]
    assert incremental["units_processed"] == 0
    assert incremental["units_reused"] == incremental["units"]
    assert incremental["inputs"] == {"new": [], "changed": [], "unchanged": 2, "removed": []}
    assert incremental["rebuild_reasons"] == []
    assert incremental["this_run"]["records_in"] == 0
    assert again["shards"] == first["shards"]
    assert again["report"]["totals"] == first["report"]["totals"]


def test_a_new_file_is_processed_alone_and_equals_a_full_run(scenario: dict) -> None:
    step = scenario["steps"]["new_file"]
    incremental = step["report"]["incremental"]
    assert [Path(p).name for p in incremental["inputs"]["new"]] == ["2026-11-03.parquet"]
    assert incremental["inputs"]["unchanged"] == 2
    new_units = sum(1 for u in step["manifest"]["inputs"] if u["path"].endswith("03.parquet"))
    assert new_units == 1
    assert incremental["units_processed"] == incremental["units"] - incremental["units_reused"]
    assert 0 < incremental["units_processed"] < incremental["units"]
    assert incremental["this_run"]["records_in"] == step["manifest"]["inputs"][2]["rows"]
    # Same shards, same names, same bytes as a from-scratch run of the three files.
    assert step["shards"] == scenario["fresh_new"]
    html = step["html"]
    assert "This run and the totals" in html
    assert f"processed <b>{incremental['units_processed']}</b> of {incremental['units']}" in html
    # The earlier files' shards kept their names: adding a file renames nothing.
    earlier = set(scenario["steps"]["first"]["shards"])
    assert earlier <= set(step["shards"])


def test_a_changed_file_is_reprocessed(scenario: dict) -> None:
    step = scenario["steps"]["changed_file"]
    incremental = step["report"]["incremental"]
    assert [Path(p).name for p in incremental["inputs"]["changed"]] == ["2026-11-02.parquet"]
    assert incremental["inputs"]["unchanged"] == 2
    assert 0 < incremental["units_processed"] < incremental["units"]
    assert step["shards"] == scenario["fresh_changed"]
    before = scenario["steps"]["new_file"]["report"]["totals"]["records_in"]
    assert step["report"]["totals"]["records_in"] == before - 100


def test_a_removed_file_leaves_the_output_and_the_store(scenario: dict) -> None:
    step = scenario["steps"]["removed_file"]
    incremental = step["report"]["incremental"]
    assert [Path(p).name for p in incremental["inputs"]["removed"]] == ["2026-11-01.parquet"]
    assert incremental["units_processed"] == 0
    assert not any("01.parquet" in item["path"] for item in step["manifest"]["inputs"])
    assert len(step["entries"]) == incremental["units"]  # pruned to this output's units
    assert step["entries"] < scenario["steps"]["changed_file"]["entries"]


def test_rebuild_redoes_every_unit_with_the_same_result(scenario: dict) -> None:
    before, step = scenario["steps"]["removed_file"], scenario["steps"]["rebuild"]
    incremental = step["report"]["incremental"]
    assert incremental["units_reused"] == 0
    assert incremental["rebuild_reasons"] == ["rebuild requested"]
    assert step["shards"] == before["shards"]
    assert step["entries"] == before["entries"]  # same keys: same inputs, config, secret


def test_a_changed_secret_forces_a_full_rebuild(scenario: dict) -> None:
    before, step = scenario["steps"]["rebuild"], scenario["steps"]["secret_changed"]
    incremental = step["report"]["incremental"]
    assert incremental["units_reused"] == 0
    assert incremental["rebuild_reasons"] == ["secret changed"]
    assert step["entries"].isdisjoint(before["entries"])  # old units pruned after commit
    assert step["shards"] != before["shards"]  # pseudonyms are keyed by the secret


def test_a_changed_config_forces_a_full_rebuild(scenario: dict, tmp_path: Path) -> None:
    output = tmp_path / "out"
    _run(scenario["config"], output)
    # A higher threshold leaves some values in the clear (the leak gate would stop the run):
    # this measures the rebuild, not the gate.
    loose = {"max_leak_rate": 1.0, "max_name_leak_rate": 1.0}
    changed = _config(
        tmp_path, scenario["exports"], detection={"score_threshold": 0.5}, gates=loose
    )
    report = _run(changed, output)
    assert report["incremental"]["units_reused"] == 0
    assert report["incremental"]["rebuild_reasons"] == ["config changed"]


def test_a_corrupted_stored_unit_is_redone_not_trusted(scenario: dict, tmp_path: Path) -> None:
    output = tmp_path / "out"
    first = _run(scenario["config"], output)
    shards = _shards(output)
    entry = sorted(UnitStore.for_output(output).units.iterdir())[0]
    stored_shard = next((entry / "shards").glob("*.parquet"))
    # Replace (not edit: it is a hard link of the output's shard) with other bytes.
    data = bytearray(stored_shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    stored_shard.unlink()
    stored_shard.write_bytes(bytes(data))
    report = _run(scenario["config"], output)
    assert report["incremental"]["units_processed"] == 1
    assert report["incremental"]["units_reused"] == first["incremental"]["units"] - 1
    assert _shards(output) == shards


def test_a_stored_unit_with_edited_stats_is_redone(scenario: dict, tmp_path: Path) -> None:
    output = tmp_path / "out"
    first = _run(scenario["config"], output)
    entry = sorted(UnitStore.for_output(output).units.iterdir())[0] / ENTRY
    data = json.loads(entry.read_text())
    data["body"]["stats"]["records_in"] += 1
    entry.write_text(json.dumps(data))
    report = _run(scenario["config"], output)
    assert report["incremental"]["units_processed"] == 1
    assert report["totals"] == first["totals"]


def test_state_lives_next_to_the_output(scenario: dict) -> None:
    output = scenario["output"]
    assert state_dir(output) == output.parent / ".out.state"
    assert state_dir(output).is_dir()
    # No staging, swap or temp directories are left behind by finished runs.
    leftovers = [p.name for p in output.parent.iterdir() if ".staging-" in p.name]
    assert leftovers == []
    assert not list(UnitStore.for_output(output).units.glob(".tmp-*"))
    shutil.rmtree(scenario["root"] / "fresh-new", ignore_errors=True)


def test_a_changed_registry_is_applied_to_stored_units_not_rebuilt(tmp_path: Path) -> None:
    """Nightly registries change: stored units take the new decisions (records of people who
    withdrew removed, their mentions masked) without detection being redone, and the result
    holds the same records as a from-scratch run under the new registry."""
    from datetime import UTC, datetime

    from redactors.consent import ConsentGate

    exports = tmp_path / "exports"
    _write_exports(exports)
    registry = tmp_path / "registry.parquet"
    sample_registry = SAMPLE_MESSAGES.parent / "consent.parquet"
    shutil.copy(sample_registry, registry)
    config = _config(tmp_path, exports)
    data = yaml.safe_load(config.read_text())
    data["consent"]["registry"] = str(registry)
    config.write_text(yaml.safe_dump(data))
    output = tmp_path / "out"
    first = _run(config, output)

    run_config = load_config(config)
    gate = ConsentGate.load(run_config.consent, registry)
    kept = set(gate.lookup.filter(pl.col("reason") == "")["user_id"].to_list())
    messages = pl.read_parquet(list(exports.glob("*.parquet")))
    busiest = (
        messages.filter(pl.col("user_id").is_in(list(kept)))
        .group_by("user_id")
        .len()
        .sort(["len", "user_id"], descending=[True, False])
        .head(5)["user_id"]
        .to_list()
    )
    rows = pl.read_parquet(registry)
    withdrawn = (
        rows.filter(pl.col("user_id").is_in(busiest))
        .unique("user_id", keep="last")
        .with_columns(
            pl.lit("opted_out").alias("status"),
            pl.lit(datetime(2026, 11, 25, tzinfo=UTC)).alias("updated_at"),
        )
    )
    pl.concat([rows, withdrawn]).write_parquet(registry)

    report = _run(config, output)
    incremental = report["incremental"]
    assert incremental["units_processed"] == 0
    assert incremental["units_refreshed"] == incremental["units"]
    assert incremental["rebuild_reasons"] == []
    removed = incremental["this_run"]["records_removed_by_newer_registry"]
    assert removed > 0
    assert report["totals"]["records_dropped"] > first["totals"]["records_dropped"]

    fresh = tmp_path / "fresh"
    expected = _run(config, fresh)
    ours = pl.read_parquet(list((output / "shards").glob("*.parquet")))
    theirs = pl.read_parquet(list((fresh / "shards").glob("*.parquet")))
    assert sorted(ours["record_id"]) == sorted(theirs["record_id"])
    assert report["totals"]["records_out"] == expected["totals"]["records_out"]
    assert report["totals"]["records_dropped"] == expected["totals"]["records_dropped"]
    withdrawn_ids = set(messages.filter(pl.col("user_id").is_in(busiest))["message_id"])
    assert not withdrawn_ids & set(ours["record_id"])
    names = [n for n in withdrawn["handle"].to_list() + withdrawn["display_name"].to_list() if n]
    text = "\n".join(ours["text"].drop_nulls())
    assert not [name for name in names if name in text]
    # The store now holds the units under the new registry: nothing withdrawn is kept there.
    store = UnitStore.for_output(output)
    from redactors.consent import load_gate

    sha = load_gate(load_config(config)).decision_sha256  # user + org registry + purpose
    for entry in store.units.iterdir():
        assert json.loads((entry / ENTRY).read_text())["body"]["registry_sha256"] == sha
    stored_ids = set(
        pl.read_parquet(list(store.units.glob("*/shards/*.parquet")))["record_id"].to_list()
    )
    assert not withdrawn_ids & stored_ids
    again = _run(config, output)["incremental"]
    assert again["units_refreshed"] == 0 and again["units_reused"] == again["units"]
