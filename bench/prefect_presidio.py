"""The floor of any Prefect flow's fixed cost here: bench/presidio_process.py's whole job (plain
Presidio: read, build, analyze, anonymize, write) as the one task of a Prefect flow, against
the API server in PREFECT_API_URL. Same arguments as presidio_process.py.

    PREFECT_API_URL=... python bench/prefect_presidio.py EXPORT.parquet OUT.parquet --model SPEC

No pipeline work at all: what `redact run` costs above this is its own; what this costs above
presidio_process.py is Prefect's (imports, flow and task runs through the API).
"""

from __future__ import annotations

import sys
from pathlib import Path

from prefect import flow, task

sys.path.insert(0, str(Path(__file__).resolve().parent))


@task
def presidio_job(argv: list[str]) -> None:
    import presidio_process  # imported in the task, as `redact run` imports its engines

    sys.argv = ["presidio_process.py", *argv]
    presidio_process.main()


@flow
def presidio_flow(argv: list[str]) -> None:
    presidio_job.submit(argv).result()


if __name__ == "__main__":
    presidio_flow(sys.argv[1:])
