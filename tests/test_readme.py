"""README's code blocks run: every fenced block is shell, python or text (a listing, a
diagram); every shell and python block is executed here, in document order, in a copy of the
sample (configs/, data/) with this checkout's .venv, unless the line before it says why it
cannot run in CI: ``<!-- readme-test: skip (reason) -->``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import REPO

README = REPO / "README.md"
FENCE = re.compile(r"^```(?P<lang>[a-z]*)\n(?P<body>.*?)^```$", re.MULTILINE | re.DOTALL)
SKIP = re.compile(r"<!-- readme-test: skip \((?P<reason>[^)]+)\) -->\s*$")


@dataclass(frozen=True)
class Block:
    line: int
    lang: str
    body: str
    skip: str | None  # the reason it cannot run in CI


def blocks(text: str) -> list[Block]:
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").splitlines()
        marker = SKIP.search(before[-1]) if before else None
        found.append(
            Block(
                line=text[: match.start()].count("\n") + 1,
                lang=match.group("lang"),
                body=match.group("body"),
                skip=marker.group("reason") if marker else None,
            )
        )
    return found


def test_every_block_says_what_it_is_and_skips_say_why():
    found = blocks(README.read_text(encoding="utf-8"))
    assert len(found) >= 10
    for block in found:
        assert block.lang in ("shell", "python", "text"), f"README line {block.line}: {block}"
        if block.lang == "text":
            assert block.skip is None, f"README line {block.line}: a text block never runs"
    runnable = [b for b in found if b.lang != "text" and b.skip is None]
    assert {b.lang for b in runnable} == {"shell", "python"}
    # no placeholder syntax in a block that runs ([--optional] flags, <angle> values, ...)
    for block in runnable:
        assert not re.search(r"\[--|<[a-z ]+>|\.\.\.'", block.body), f"line {block.line}"


def test_the_marker_is_found_and_blocks_are_split_right():
    text = (
        "intro\n\n<!-- readme-test: skip (needs a server) -->\n```shell\nserve\n```\n\n"
        "```python\nprint(1)\n```\n"
    )
    first, second = blocks(text)
    assert (first.lang, first.body, first.skip) == ("shell", "serve\n", "needs a server")
    assert (second.lang, second.body, second.skip) == ("python", "print(1)\n", None)


@pytest.fixture
def readme_dir(tmp_path: Path) -> Path:
    """Where README's commands run: configs/ and data/ of this checkout, its .venv, and the
    newer consent registry the `redact forget` example names."""
    shutil.copytree(REPO / "configs", tmp_path / "configs")
    shutil.copytree(REPO / "data", tmp_path / "data", ignore=shutil.ignore_patterns("*.md"))
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    (tmp_path / "exports").mkdir()
    shutil.copy(
        tmp_path / "data" / "sample" / "consent.parquet",
        tmp_path / "exports" / "consent-2026-12-01.parquet",
    )
    return tmp_path


@pytest.mark.slow
def test_every_runnable_block_of_the_readme_runs(readme_dir: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PREFECT_", "REDACT_"))}
    env.update(
        PREFECT_HOME=str(readme_dir / "prefect-home"),
        DO_NOT_TRACK="1",
        PREFECT_SERVER_ANALYTICS_ENABLED="false",
        REDACT_SECRET="readme-test-secret-0123456789abcdef",
        HF_DATASETS_OFFLINE="1",
        HF_HUB_OFFLINE="1",
    )
    ran = []
    for block in blocks(README.read_text(encoding="utf-8")):
        if block.lang == "text" or block.skip is not None:
            continue
        # shell blocks run as in one terminal: what one exports, the next ones see
        saved = readme_dir / "env.bin"
        command = (
            ["bash", "-euo", "pipefail", "-c", f'{block.body}\nenv -0 > "{saved}"']
            if block.lang == "shell"
            else [sys.executable, "-c", block.body]
        )
        result = subprocess.run(
            command, cwd=readme_dir, env=env, capture_output=True, text=True, timeout=600
        )
        assert result.returncode == 0, (
            f"README line {block.line} ({block.lang}) failed:\n{block.body}\n"
            f"{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
        )
        assert "Traceback" not in result.stdout + result.stderr, f"README line {block.line}"
        if block.lang == "shell":
            pairs = saved.read_bytes().decode().split("\0")
            env = dict(pair.split("=", 1) for pair in pairs if "=" in pair)
        ran.append(block.line)
    assert len(ran) >= 4
    assert (readme_dir / "out" / "sample" / "manifest.json").exists()
