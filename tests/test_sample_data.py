"""The committed sample exports are exactly what the generator makes."""

import polars as pl
from polars.testing import assert_frame_equal

from redactors.testing.synth import generate_sample

from .conftest import REPO
from .test_pipeline import STRUCTURED


def test_committed_sample_matches_the_generator():
    sample = generate_sample()
    for name, frame in (
        ("messages", sample.messages),
        ("posts", sample.posts),
        ("consent", sample.consent),
        ("orgs", sample.orgs),
        ("deletions", sample.deletions),
    ):
        committed = pl.read_parquet(REPO / "data" / "sample" / f"{name}.parquet")
        assert_frame_equal(committed, frame)


def test_sample_has_the_promised_variety():
    sample = generate_sample()
    kinds = {kind for *_, kind, _ in sample.truth}
    assert kinds == {"PERSON", *STRUCTURED}
    with_pii = {record_id for _, record_id, _, _ in sample.truth}
    assert sample.messages.height + sample.posts.height - len(with_pii) > 1000  # plenty without
    assert 200 <= len(sample.users) <= 1000
    assert set(sample.consent["status"].unique()) == {"opted_in", "opted_out", "deleted"}


def test_sample_has_an_opted_out_workspace_and_tombstones():
    sample = generate_sample()
    assert set(sample.messages["workspace_id"]) == set(sample.posts["workspace_id"])
    assert sample.messages["workspace_id"].n_unique() == 2
    assert sample.orgs is not None and sample.deletions is not None
    latest = sample.orgs.filter(pl.col("purpose").is_null()).sort("updated_at")
    assert latest.group_by("org_id").last()["status"].sort().to_list() == [
        "opted_in",
        "opted_out",
    ]
    assert 0 < sample.deletions.height <= 10
