"""The output location: one writer at a time, staging next to it, an atomic swap, clean-up.

A run or a forget builds its whole output in a staging directory next to the output and
swaps it in by rename when complete, so a reader sees the previous output or the new one,
never half of one; a failed writer leaves nothing behind. Everything that names, guards,
commits or reads back an output directory lives here.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redactors.epoch import LOADER_CACHE
from redactors.errors import OutputError
from redactors.lineage import LINEAGE_DIR
from redactors.quarantine import QUARANTINE_FILE
from redactors.shards import JSONL_DIR, fsync_dir

MANIFEST = "manifest.json"
REPORT_JSON = "report.json"
REPORT_HTML = "report.html"
CARD = "README.md"
FORGET_REPORT = "forget_report.json"

# What a committed output directory holds; anything else means it is not ours to replace.
OUTPUT_ENTRIES = frozenset(
    {
        "shards",
        MANIFEST,
        REPORT_JSON,
        REPORT_HTML,
        CARD,
        JSONL_DIR,
        LINEAGE_DIR,
        FORGET_REPORT,
        QUARANTINE_FILE,
        LOADER_CACHE,  # the loaders' cache: goes with the version it was made from
    }
)


def new_run_id() -> str:
    """A run's (or forget's) id: sortable by time, unique enough to name its staging dir."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def staging_dir_for(output_dir: Path, run_id: str, kind: str = "staging") -> Path:
    """Where a writer builds the next output: ``.<name>.<kind>-<run id>`` next to it (same
    file system, so the commit is a rename). ``kind``: "staging" (run) or "forget"."""
    return output_dir.parent / f".{output_dir.name}.{kind}-{run_id}"


def failed_report_dir(output_dir: Path, run_id: str) -> Path:
    """Where a run that failed its gates leaves its report: ``<name>.failed-<run id>`` next
    to the output, never inside the published location."""
    return output_dir.parent / f"{output_dir.name}.failed-{run_id}"


def is_our_output(output_dir: Path) -> bool:
    try:
        manifest = json.loads((output_dir / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    entries = {entry.name for entry in output_dir.iterdir()}
    return (
        isinstance(manifest, dict)
        and "manifest_version" in manifest
        and "run_id" in manifest
        and entries <= OUTPUT_ENTRIES
    )


def check_output_dir(output_dir: Path) -> None:
    """Refuse an output location this pipeline must not replace or cannot write."""
    if output_dir.exists() and not output_dir.is_dir():
        raise OutputError(f"output {output_dir} exists and is not a directory")
    if output_dir.is_dir() and any(output_dir.iterdir()) and not is_our_output(output_dir):
        raise OutputError(
            f"output {output_dir} is a non-empty directory that is not a previous output of "
            f"this pipeline (a valid {MANIFEST} and only {sorted(OUTPUT_ENTRIES)}): refusing "
            "to replace it"
        )
    check_writable_location(output_dir)
    if output_dir.is_dir():
        # Replacing a previous output removes it: every directory in it must be writable,
        # or the swap would succeed and the clean-up fail half way.
        directories = [output_dir, *(p for p in sorted(output_dir.rglob("*")) if p.is_dir())]
        locked = [d for d in directories if not os.access(d, os.W_OK | os.X_OK)]
        if locked:
            raise OutputError(
                f"cannot replace {output_dir}: {locked[0]} is not writable "
                f"({len(locked)} read-only director(ies) in it)"
            )


# What an errno means for an output location, said plainly (the strerror follows it).
_OS_ERROR_HINTS = {
    errno.EROFS: "the file system is read-only",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is used up",
    errno.EACCES: "no permission",
    errno.EPERM: "not permitted",
    errno.ENOENT: "a directory on the way is missing",
    errno.ENOTDIR: "a file is in the way where a directory should be",
    errno.EEXIST: "a file is in the way",
    errno.EISDIR: "a directory is in the way where a file should be",
    errno.ENAMETOOLONG: "the path is too long",
}


def os_error_message(exc: OSError, doing: str = "write") -> str:
    """One line for an OSError on an output, lock, staging or state path: the path, the
    system's words and what they mean (never file content: OSErrors carry paths only)."""
    where = exc.filename if exc.filename is not None else "the output location"
    reason = os.strerror(exc.errno) if exc.errno else (exc.strerror or type(exc).__name__)
    hint = _OS_ERROR_HINTS.get(exc.errno or -1)
    return f"cannot {doing} {where}: {reason}" + (f" ({hint})" if hint else "")


def _nearest_existing(path: Path) -> Path:
    for candidate in path.parents:
        if candidate.exists():
            return candidate
    return Path(path.anchor or ".")


def check_writable_location(output_dir: Path) -> None:
    """Refuse, without writing anything, an output whose directory (or the nearest existing
    directory above it, where the missing ones would be created) cannot take new files: a
    file in the way, a read-only mount, no permission, a pseudo file system (/proc, /sys)."""
    parent = _nearest_existing(output_dir)
    needed = f"needed for {output_dir}"
    if not parent.is_dir():
        raise OutputError(f"cannot write to {parent} ({needed}): it is a file, not a directory")
    try:
        stats = os.statvfs(parent)
    except OSError as exc:
        raise OutputError(os_error_message(exc, "inspect")) from None
    if stats.f_flag & os.ST_RDONLY:
        raise OutputError(f"cannot write to {parent} ({needed}): the file system is read-only")
    if stats.f_blocks == 0:
        raise OutputError(
            f"cannot write to {parent} ({needed}): it is not on a disk file system "
            "(/proc, /sys, ...)"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write to {parent} ({needed}): no permission")
    free = stats.f_bavail * stats.f_frsize
    if free < MIN_FREE_BYTES or (stats.f_files and stats.f_favail == 0):
        raise OutputError(
            f"cannot write to {parent} ({needed}): the disk is full "
            f"({free // 1024} KiB, {stats.f_favail} inodes free)"
        )


# Less free space than this where the output goes: the disk is full, say so before any work
# (a disk that fills during a run fails it cleanly too, nothing published).
MIN_FREE_BYTES = 1 << 20


@contextmanager
def output_lock(output_dir: Path) -> Iterator[None]:
    """One writer per output location: a run or a forget holds an exclusive lock on
    ``.<name>.lock`` next to the output from its checks to its commit; a second one is
    refused at once (it would otherwise overwrite the first one's commit)."""
    path = output_dir.parent / f".{output_dir.name}.lock"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a")
    except OSError as exc:
        raise OutputError(
            f"{os_error_message(exc, 'create the lock in')} (needed for {output_dir})"
        ) from None
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutputError(
                f"{output_dir} is being written by another run or forget (lock {path}); "
                "try again when it has finished"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def clear_leftovers(output_dir: Path) -> None:
    """Staging and swap directories of runs or forgets that were killed before cleaning up.
    Call only under the output's lock, so none of them belongs to a live writer."""
    name = output_dir.name
    for pattern in (f".{name}.staging-*", f".{name}.previous-*", f".{name}.forget-*"):
        for leftover in output_dir.parent.glob(pattern):
            shutil.rmtree(leftover, ignore_errors=True)


def read_manifest_json(output_dir: Path) -> dict[str, Any] | None:
    """The committed output's manifest as stored, or None if there is no output of ours."""
    if not (output_dir.is_dir() and is_our_output(output_dir)):
        return None
    manifest: dict[str, Any] = json.loads((output_dir / MANIFEST).read_text(encoding="utf-8"))
    return manifest


def read_report_json(output_dir: Path) -> dict[str, Any] | None:
    """The committed output's run report as stored, or None (no output of ours, no report,
    or one that is not valid JSON: then there is nothing to compare with)."""
    path = output_dir / REPORT_JSON
    if not (output_dir.is_dir() and is_our_output(output_dir) and path.exists()):
        return None
    try:
        previous: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    return previous


def commit_output(staging_dir: Path, output_dir: Path, run_id: str) -> None:
    """Make the finished staging dir the output in one step; remove the previous output.

    With an existing output the two directories are exchanged atomically where the OS can
    (readers see the old run or the new one, never neither); elsewhere two renames, with
    the old output put back if the second fails.
    """
    _fsync_tree(staging_dir)
    if not output_dir.exists():
        os.replace(staging_dir, output_dir)
    elif _exchange(staging_dir, output_dir):
        shutil.rmtree(staging_dir)  # now holds the previous output
    else:
        previous = staging_dir_for(output_dir, run_id, "previous")
        os.replace(output_dir, previous)
        try:
            os.replace(staging_dir, output_dir)
        except BaseException:
            os.replace(previous, output_dir)
            raise
        shutil.rmtree(previous)
    fsync_dir(output_dir.parent)


def discard_staging(staging_dir: Path) -> None:
    shutil.rmtree(staging_dir, ignore_errors=True)


def _fsync_tree(root: Path) -> None:
    for path in sorted(root.rglob("*")):
        if path.is_file():
            with path.open("rb") as handle:
                os.fsync(handle.fileno())
    for directory in [root, *(p for p in root.rglob("*") if p.is_dir())]:
        fsync_dir(directory)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two directories (Linux renameat2 RENAME_EXCHANGE); False if the
    platform or file system cannot."""
    rename_exchange = 2
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if result == 0:
        return True
    error = ctypes.get_errno()
    if error in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
        return False
    raise OSError(error, os.strerror(error), str(a))
