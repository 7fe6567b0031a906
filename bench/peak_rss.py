"""Run a command and write its peak resident memory (MiB) to a file.

    python bench/peak_rss.py OUT_FILE COMMAND [ARG ...]

Why a separate small process: Linux carries a process's peak RSS over into a child it forks
(the memory map is copied, then counted again at exec), so ``os.wait4`` in a benchmark that
has loaded a spaCy model reports that process's peak for every child. Forked from this small
process instead, the command's figure is its own (and its waited-for children's).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def main() -> None:
    out, command = Path(sys.argv[1]), sys.argv[2:]
    pid = os.fork()
    if pid == 0:
        os.execvp(command[0], command)
    _, status, usage = os.wait4(pid, 0)
    out.write_text(f"{usage.ru_maxrss / 1024:.1f}\n")  # ru_maxrss is in KiB on Linux
    sys.exit(os.waitstatus_to_exitcode(status))


if __name__ == "__main__":
    main()
