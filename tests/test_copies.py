"""Withdrawn consent reaches the copies ML teams load (issue 24): every documented loading
path gives the current shards after a forget, old copies are found and refused, forget
cleans what it can reach and lists the rest.

Real runs (library), real `datasets` (offline, cache in a tmp dir), DuckDB, polars and one
real Prefect forget flow. PyTorch is not installed here (not a project dependency): its
loader is tested through the torch-free `ShardRecords` it wraps, and through PyTorch itself
when it is installed.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import timedelta
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.parquet as pq
import pytest
import yaml
from typer.testing import CliRunner

from pipelines.cli import app
from redactors.config import load_config
from redactors.copies import verify_copy
from redactors.epoch import OUTPUT_ID_KEY, SHARD_KEY, StaleCopyError, read_stamp
from redactors.forget import forget
from redactors.loaders import (
    ShardRecords,
    duckdb_relation,
    hf_dataset,
    loader_cache_dir,
    scan_polars,
    shard_files,
)
from redactors.run import run_local

from .conftest import SECRET_A
from .test_forget import MESSAGES, REGISTRY_V1, T0, make_config, write_messages, write_registry

WITHDRAWN = [  # Alma opts out: m1, m2 go; m3 (Boris, mentions her) is masked
    *REGISTRY_V1,
    ("UALMA0001", "opted_out", "US", T0 + timedelta(days=9), "alma.q", "Alma Quist"),
]


@pytest.fixture
def hf_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """`datasets` offline, its cache in this test's tmp dir (never the real home cache)."""
    root = tmp_path / "hf" / "datasets"
    for name, value in {
        "HF_DATASETS_OFFLINE": "1",
        "HF_HUB_OFFLINE": "1",
        "HF_HOME": str(tmp_path / "hf"),
        "HF_DATASETS_CACHE": str(root),
    }.items():
        monkeypatch.setenv(name, value)
    import datasets

    # datasets reads these when first imported (maybe by an earlier test): set them too.
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", root)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)
    return root


@pytest.fixture
def built(tmp_path: Path) -> tuple[Path, Path]:
    write_registry(tmp_path / "registry.parquet", REGISTRY_V1)
    write_messages(tmp_path / "messages.parquet", MESSAGES, row_group_rows=2)
    write_registry(tmp_path / "v2.parquet", WITHDRAWN)
    config_path = make_config(tmp_path)
    output = tmp_path / "out"
    run_local(load_config(config_path), str(config_path), output, SECRET_A)
    return tmp_path, output


def shard_records(output: Path) -> list[tuple[str, str]]:
    """(record_id, text) of the output's shards, as listed in its manifest."""
    rows = pl.concat([pl.read_parquet(f) for f in shard_files(output)])
    return sorted(zip(rows["record_id"], rows["text"], strict=True))


def records(rows) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return sorted((row["record_id"], row["text"]) for row in rows)


def test_load_forget_load_gives_the_current_shards_every_documented_way(built, hf_cache):
    import datasets

    root, output = built
    card_load = datasets.load_dataset(str(output))  # the card's recipe, default cache
    helper = hf_dataset(output)
    assert len(card_load["train"]) == len(helper["train"]) == 6
    assert (output / ".cache").is_dir()  # the loaders' cache lives in the output
    forget(output, root / "v2.parquet", SECRET_A)
    current = shard_records(output)
    assert len(current) == 4 and not [t for _, t in current if "Alma" in t]

    assert records(datasets.load_dataset(str(output))["train"]) == current
    assert records(datasets.load_dataset(str(output), streaming=True, split="train")) == current
    assert records(hf_dataset(output)["train"]) == current
    assert records(hf_dataset(output, "train", streaming=True)) == current
    assert records(scan_polars(output).collect().iter_rows(named=True)) == current
    assert records(pl.scan_parquet(output / "shards" / "*.parquet").collect().to_dicts()) == (
        current
    )
    relation = duckdb_relation(output, split="train")
    assert sorted(relation.select("record_id, text").fetchall()) == current
    assert (
        sorted(
            duckdb.read_parquet(str(output / "shards" / "*.parquet"))
            .select("record_id, text")
            .fetchall()
        )
        == current
    )
    # the PyTorch dataset's records (torch-free core), shared by 2 ranks x 2 workers
    shares = [ShardRecords(output, "train").share(r, 2, w, 2) for r in range(2) for w in range(2)]
    assert records(row for share in shares for row in share) == current


def test_the_pytorch_loader_follows_forget_between_epochs(built):
    torch = pytest.importorskip(
        "torch", reason="PyTorch is not installed (not a project dependency)"
    )
    from torch.utils.data import DataLoader

    from redactors.loaders import torch_dataset

    root, output = built
    loader = DataLoader(torch_dataset(output, split="train"), batch_size=None, num_workers=2)
    assert len(list(loader)) == 6
    forget(output, root / "v2.parquet", SECRET_A)
    assert records(loader) == shard_records(output)  # the next epoch reads the new manifest
    del torch


def test_without_pytorch_the_loaders_import_and_say_what_is_missing(built):
    try:
        import torch  # noqa: F401
    except ImportError:
        from redactors.loaders import torch_dataset

        with pytest.raises(ImportError, match="needs PyTorch"):
            torch_dataset(built[1])
    else:
        pytest.skip("PyTorch is installed")


def test_no_splits_configured_means_everything_is_train(built):
    _, output = built
    assert scan_polars(output, split="train").collect().height == 6
    assert duckdb_relation(output, split="train").count("*").fetchall()[0][0] == 6
    assert len(list(ShardRecords(output, split="train"))) == 6
    assert shard_files(output, "validation") == []
    with pytest.raises(FileNotFoundError, match="split 'validation'"):
        scan_polars(output, split="validation")


def test_shards_and_card_carry_the_version_and_bytes_stay_reproducible(built, tmp_path):
    root, output = built
    manifest = json.loads((output / "manifest.json").read_text())
    assert manifest["consent_epoch"] == 1 and manifest["epochs"] == {manifest["output_id"]: 1}
    for shard in manifest["shards"]:
        stamp = read_stamp(output / shard["path"])
        assert stamp == {OUTPUT_ID_KEY: manifest["output_id"], SHARD_KEY: shard["path"]}
        assert shard["output_id"] == manifest["output_id"]
    card = (output / "README.md").read_text()
    header = yaml.safe_load(card.split("---")[1])
    assert manifest["output_id"] in header["dataset_info"]["description"]
    assert "consent epoch\n1" in card or "consent epoch 1" in card.replace("\n", " ")
    # same inputs and secret, another directory, and a rerun in place: the same bytes
    config_path = root / "run.yaml"
    again = tmp_path / "again"
    run_local(load_config(config_path), str(config_path), again, SECRET_A)
    before = {p.name: p.read_bytes() for p in (output / "shards").iterdir()}
    assert {p.name: p.read_bytes() for p in (again / "shards").iterdir()} == before
    run_local(load_config(config_path), str(config_path), output, SECRET_A)
    assert {p.name: p.read_bytes() for p in (output / "shards").iterdir()} == before
    assert json.loads((output / "manifest.json").read_text())["consent_epoch"] == 1
    # a forget that changes nothing changes no byte
    assert forget(output, root / "registry.parquet", SECRET_A)["changed"] is False
    assert {p.name: p.read_bytes() for p in (output / "shards").iterdir()} == before

    report = forget(output, root / "v2.parquet", SECRET_A)
    after = json.loads((output / "manifest.json").read_text())
    assert report["consent_epoch"] == after["consent_epoch"] == 2
    assert after["epochs"] == {manifest["output_id"]: 1, after["output_id"]: 2}
    stamps = {s["path"]: read_stamp(output / s["path"])[OUTPUT_ID_KEY] for s in after["shards"]}
    # Boris's shard (rewritten) is of the new version; Carla's (untouched) keeps its bytes
    assert sorted(stamps.values()) == sorted([after["output_id"], manifest["output_id"]])
    assert after["output_id"] in (output / "README.md").read_text()
    # a run of the same inputs under the newer registry: new content, next epoch
    data = json.loads(config_path.read_text())
    data["consent"]["registry"] = "v2.parquet"
    config_path.write_text(json.dumps(data))
    run_local(load_config(config_path), str(config_path), output, SECRET_A)
    assert json.loads((output / "manifest.json").read_text())["consent_epoch"] == 3


def test_loaders_refuse_an_old_copy(built, hf_cache, tmp_path):
    root, output = built
    copy = tmp_path / "copy"
    shutil.copytree(output, copy)
    assert scan_polars(copy).collect().height == 6  # current while the output is unchanged
    forget(output, root / "v2.parquet", SECRET_A)
    for load in (
        lambda: scan_polars(copy),
        lambda: duckdb_relation(copy),
        lambda: hf_dataset(copy),
        lambda: list(ShardRecords(copy)),
        lambda: scan_polars(copy, against=output),
    ):
        with pytest.raises(StaleCopyError, match=r"at consent epoch 1.*now at epoch 2"):
            load()
    # an older shard put back into the current output is refused too
    old = sorted((copy / "shards").iterdir())[1]
    shutil.copy(old, output / "shards" / old.name)
    with pytest.raises(StaleCopyError, match=f"{old.name}: shard of output version"):
        scan_polars(output)


def test_verify_says_whether_a_copy_is_current_without_printing_text(built, hf_cache, tmp_path):
    import datasets

    root, output = built
    copy = tmp_path / "copy"
    shutil.copytree(output / "shards", copy)  # a bare folder of shards
    datasets.load_dataset(str(output))  # a default `datasets` cache entry
    [entry] = [p.parent for p in hf_cache.rglob("dataset_info.json")]
    runner = CliRunner()
    result = runner.invoke(app, ["verify", str(copy), "--against", str(output)])
    assert result.exit_code == 0, result.output
    assert "current; consent epoch of the copy: 1" in result.output

    forget(output, root / "v2.parquet", SECRET_A)
    ids = tmp_path / "ids.tsv"
    for target, kind in ((copy, "shards"), (entry, "datasets cache")):
        check = verify_copy(target, output)
        assert (check.kind, check.current, check.records) == (kind, False, 6)
        assert check.removed == [("messages", "m1"), ("messages", "m2")]
        assert check.changed == 1  # m3: a mention of Alma masked since
        result = runner.invoke(
            app, ["verify", str(target), "--against", str(output), "--ids", str(ids)]
        )
        assert result.exit_code == 1, result.output
        assert "NOT current" in result.output and "no longer holds: 2" in result.output
        for secret in ("Alma", "alma", "UALMA0001", "notes", "lunch"):
            assert secret not in result.output
        assert ids.read_text() == "messages\tm1\nmessages\tm2\n"
    fresh = tmp_path / "fresh"
    shutil.copytree(output / "shards", fresh)
    assert verify_copy(fresh, output).current
    assert (
        runner.invoke(app, ["verify", str(tmp_path / "nope"), "--against", str(output)]).exit_code
        == 2
    )


def test_forget_cleans_the_loaders_cache_and_lists_downstream_copies(built, hf_cache):
    import datasets

    root, output = built
    hf_dataset(output)
    cache = loader_cache_dir(output)
    assert cache.is_dir()
    datasets.load_dataset(str(output))
    [entry] = [p.parent for p in hf_cache.rglob("dataset_info.json")]
    report = forget(output, root / "v2.parquet", SECRET_A)
    assert not (output / ".cache").exists()  # gone with the version it was made from
    copies = report["downstream_copies_to_refresh"]
    assert copies[0].startswith(f"{entry} (datasets cache of consent epoch 1)")
    assert "redact verify COPY --against" in copies[-1]
    assert (
        json.loads((output / "forget_report.json").read_text())["downstream_copies_to_refresh"]
        == copies
    )
    run_report = json.loads((output / "report.json").read_text())
    assert run_report["after_forget"]["downstream_copies_to_refresh"] == copies
    assert "Downstream copies to refresh" in (output / "report.html").read_text()


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_forget_flow_artifact_lists_downstream_copies(built, hf_cache):
    import datasets
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    from pipelines.forget import forget_flow

    root, output = built
    datasets.load_dataset(str(output))
    os.environ["REDACT_SECRET"] = SECRET_A
    try:
        report = forget_flow(output=str(output), registry=str(root / "v2.parquet"))
    finally:
        os.environ.pop("REDACT_SECRET")
    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["forget-report-out"]))
        )
    [markdown] = [str(a.data) for a in artifacts if report["id"] in str(a.data)]
    assert "## Downstream copies to refresh" in markdown
    assert "datasets cache of consent epoch 1" in markdown
    assert "Alma" not in markdown
    assert len(pq.read_table(shard_files(output)[0]).column_names) > 0


def test_a_run_that_replaces_the_output_drops_the_loaders_cache(built, hf_cache):
    root, output = built
    assert len(hf_dataset(output)["train"]) == 6
    assert loader_cache_dir(output).is_dir()
    config_path = root / "run.yaml"
    data = json.loads(config_path.read_text())
    data["consent"]["registry"] = "v2.parquet"  # a run under the newer registry
    config_path.write_text(json.dumps(data))
    run_local(load_config(config_path), str(config_path), output, SECRET_A)
    assert not (output / ".cache").exists()
    assert records(hf_dataset(output)["train"]) == shard_records(output)
    assert json.loads((output / "manifest.json").read_text())["consent_epoch"] == 2
