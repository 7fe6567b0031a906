"""The privacy reviewer's report in a real browser (Debian chromium, headless, offline)."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import yaml

from redactors.config import load_config
from redactors.errors import GateError
from redactors.run import run_local
from tests.conftest import SECRET_A

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium")
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="Debian chromium not installed (make test installs it as root)"
)
SECTIONS = (
    "Verdict: PASS",
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
    "Sign-off",
)
# The verdict box's border: green when every gate passed, red when one failed.
PASS_RGB, FAIL_RGB = (0x1E, 0x7B, 0x34), (0xB3, 0x26, 0x1E)


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
    # every page is A4 (595 x 842 pt): the page's @page rule, for the sign-off's print
    boxes = set(re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf.read_bytes()))
    assert boxes and all(
        abs(float(w) - 595.3) < 1 and abs(float(h) - 841.9) < 1 for w, h in boxes
    ), boxes


def png_pixels(path: Path) -> np.ndarray:
    """RGB(A) pixels of an 8-bit, non-interlaced PNG (what chromium writes): height x
    width x channels. No imaging library needed."""
    data = path.read_bytes()
    position, chunks, header = 8, [], b""
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        body = data[position + 8 : position + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        position += 12 + length
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert depth == 8 and color in (2, 6) and interlace == 0
    channels = 3 if color == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * channels
    rows = np.zeros((height, stride), dtype=np.int32)
    previous = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=start + 1).astype(np.int32)
        if kind == 2:  # up
            line = (line + previous) % 256
        elif kind in (1, 3, 4):  # sub, average, paeth: each byte depends on the one before
            out = line.tolist()
            up = previous.tolist()
            for x in range(stride):
                left = out[x - channels] if x >= channels else 0
                if kind == 1:
                    predictor = left
                elif kind == 3:
                    predictor = (left + up[x]) // 2
                else:
                    upper_left = up[x - channels] if x >= channels else 0
                    estimate = left + up[x] - upper_left
                    distances = (
                        abs(estimate - left),
                        abs(estimate - up[x]),
                        abs(estimate - upper_left),
                    )
                    predictor = (left, up[x], upper_left)[distances.index(min(distances))]
                out[x] = (out[x] + predictor) % 256
            line = np.array(out, dtype=np.int32)
        rows[y] = line
        previous = line
    return rows.reshape(height, width, channels)


def verdict_box_rows(shot: Path, rgb: tuple[int, int, int]) -> list[int]:
    """Rows of the screenshot crossed by a long horizontal line of the verdict colour: the
    top and bottom borders of the verdict box (the gate table sits between them)."""
    pixels = png_pixels(shot)[:, :, :3]
    matches = np.all(pixels == np.array(rgb), axis=2).sum(axis=1)
    return [int(y) for y in np.nonzero(matches > 600)[0]]


def first_screen(tmp_path: Path, page: Path) -> Path:
    shot = tmp_path / f"{page.parent.name}-first-screen.png"
    result = chromium(
        tmp_path,
        f"--screenshot={shot}",
        "--window-size=1280,800",
        "--hide-scrollbars",
        page.as_uri(),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return shot


def assert_box_in_first_screen(rows: list[int]) -> None:
    assert rows, "no verdict box in the first 1280x800 screen"
    top, bottom = rows[0], rows[-1]
    assert top < 200  # the verdict opens the page
    assert bottom - top > 150  # both borders seen: the whole gate table is on screen
    assert bottom < 800


@needs_chromium
def test_the_verdict_and_every_gate_are_in_the_first_screen(sample_runs, tmp_path):
    page = sample_runs["a"] / "report.html"
    dom = chromium(tmp_path, "--dump-dom", page.as_uri()).stdout
    assert dom.index("Verdict: PASS") < dom.index("<h2>Consent</h2>")
    for gate in (
        "Consent",
        "Leak re-scan",
        "Canary recall",
        "Quarantine",
        "never detected",
        "Residual names",
    ):
        assert gate in dom[: dom.index("<h2>Consent</h2>")], gate
    rows = verdict_box_rows(first_screen(tmp_path, page), PASS_RGB)
    assert_box_in_first_screen(rows)


@pytest.fixture
def leaky_run(sample_copy: Path) -> Path:
    """The sample without email and phone detection: phones and pieces of emails stay in
    the clear, the run fails closed and leaves its report next to the output."""
    data = yaml.safe_load(sample_copy.read_text())
    for entity in ("EMAIL_ADDRESS", "PHONE_NUMBER"):
        data["detection"]["entities"].remove(entity)
        del data["masking"]["operators"][entity]
    sample_copy.write_text(yaml.safe_dump(data))
    output = sample_copy.parent.parent / "out"
    with pytest.raises(GateError, match=r"gates\.max_leak_rate") as error:
        run_local(load_config(sample_copy), str(sample_copy), output, SECRET_A)
    assert not output.exists()
    return Path(str(error.value.report_dir)) / "report.html"


@needs_chromium
def test_a_leaky_config_fails_and_says_so_in_the_first_screen(leaky_run, tmp_path):
    dom = chromium(tmp_path, "--dump-dom", leaky_run.as_uri()).stdout
    head = dom[: dom.index("<h2>Consent</h2>")]
    assert "Verdict: FAIL" in head and "not published" in head
    assert "PHONE_NUMBER" in head and "EMAIL_ADDRESS (partly masked)" in head
    assert "EMAIL_ADDRESS, PHONE_NUMBER" in dom  # listed under entity types not detected
    rows = verdict_box_rows(first_screen(tmp_path, leaky_run), FAIL_RGB)
    assert_box_in_first_screen(rows)
    assert not verdict_box_rows(first_screen(tmp_path, leaky_run), PASS_RGB)
