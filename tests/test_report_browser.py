"""The privacy reviewer's report in a real browser (Debian chromium, headless, offline)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian chromium not installed (make test installs it as root)"
)
SECTIONS = (
    "Consent",
    "Per source",
    "Detection and masking",
    "Samples",
    "Residual risk",
    "Canary recall",
    "Change since the previous run",
    "Inputs",
    "Output",
    "Run",
)


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Headless, sandbox off (root in CI), every background service and the network off."""
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={tmp_path / 'profile'}",
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def page_requests(netlog: Path) -> list[str]:
    """http(s) URLs the *page* asked for (the browser's own background fetches carry the
    initiator "not an origin" and are not the page's doing)."""
    events = json.loads(netlog.read_text())["events"]
    return sorted(
        {
            e["params"]["url"]
            for e in events
            if str(e.get("params", {}).get("url", "")).startswith(("http://", "https://"))
            and e["params"].get("initiator") not in (None, "not an origin")
        }
    )


@needs_chromium
def test_report_renders_and_is_saved_as_a_screenshot(sample_runs, tmp_path):
    shot = tmp_path / "report.png"
    result = chromium(
        tmp_path,
        f"--screenshot={shot}",
        "--window-size=1280,4000",
        "--hide-scrollbars",
        (sample_runs["a"] / "report.html").as_uri(),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000  # a real page, not blank
    keep = Path(sys.prefix).parent / "out" / "report-screenshot.png"
    if keep.parent.is_dir():  # leave it where a developer finds it after `make test`
        shutil.copyfile(shot, keep)


@needs_chromium
def test_report_makes_no_external_requests(sample_runs, tmp_path):
    netlog = tmp_path / "net.json"
    result = chromium(
        tmp_path,
        f"--log-net-log={netlog}",
        "--dump-dom",
        (sample_runs["a"] / "report.html").as_uri(),
    )
    assert result.returncode == 0 and "<h2>Consent</h2>" in result.stdout
    assert page_requests(netlog) == []
    # the check itself works: a page with one remote image is caught
    control = tmp_path / "control.html"
    control.write_text('<img src="http://tracker.invalid/pixel.png">')
    control_log = tmp_path / "control.json"
    chromium(tmp_path, f"--log-net-log={control_log}", "--dump-dom", control.as_uri())
    assert page_requests(control_log) == ["http://tracker.invalid/pixel.png"]


@needs_chromium
def test_every_section_is_present_in_the_rendered_page(sample_runs, tmp_path):
    dom = chromium(tmp_path, "--dump-dom", (sample_runs["a"] / "report.html").as_uri()).stdout
    for section in SECTIONS:
        assert f"<h2>{section}</h2>" in dom, section
    assert dom.count("<svg") >= 3  # drop reasons, entities, score histograms


def test_html_is_self_contained_and_prints(sample_runs):
    html = (sample_runs["a"] / "report.html").read_text()
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert "url(" not in html and "src=" not in html
    assert "@media print" in html


@needs_chromium
def test_report_prints_to_pdf(sample_runs, tmp_path):
    pdf = tmp_path / "report.pdf"
    result = chromium(
        tmp_path,
        f"--print-to-pdf={pdf}",
        "--no-pdf-header-footer",
        (sample_runs["a"] / "report.html").as_uri(),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert pdf.read_bytes()[:5] == b"%PDF-" and pdf.stat().st_size > 20_000
