"""The typed Manifest and Report read and write the same JSON as ever, old or new."""

from __future__ import annotations

import json

from redactors.manifest import Manifest
from redactors.report import Report, write_json


def test_manifest_and_report_write_back_exactly_what_they_read(sample_runs, tmp_path):
    for output in sample_runs.values():
        for model, name in ((Manifest, "manifest.json"), (Report, "report.json")):
            stored = (output / name).read_text(encoding="utf-8")
            write_json(tmp_path / name, model.read(output / name).to_json())
            assert (tmp_path / name).read_text(encoding="utf-8") == stored, (output, name)


def test_a_report_of_an_older_version_loads_and_gains_no_keys(sample_runs):
    stored = json.loads((sample_runs["a"] / "report.json").read_text(encoding="utf-8"))
    for key in ("incremental", "canaries", "change"):
        del stored[key]
    for key in ("records_quarantined", "quarantined_by_reason", "records_deduplicated"):
        del stored["totals"][key]
    report = Report.model_validate(stored)
    assert report.totals.records_quarantined == 0 and report.incremental is None
    assert report.canaries.status == "not_run" and report.change.status == "first_run"
    assert report.to_json() == stored
