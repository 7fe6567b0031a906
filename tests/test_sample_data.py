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
