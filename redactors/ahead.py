"""Work done before a run starts, while the CLI waits for Prefect's temporary API server.

The server takes about 4 s to answer (its own imports). In that time the CLI builds the
run's engines (``unit.build_ahead``), imports Prefect, and then, if the server has still not
answered, redacts the first work unit's first texts here: a few at a time between the
wait's health checks (``api_server.ready(meanwhile)``), with the engines built ahead. The
unit's batches take those results instead of analyzing the texts again
(``TextRedactor.redact_ahead``): the same engines give the same result whenever a text is
redacted. On 20,000 PII-dense messages ~400 are done in a 0.5 s wait.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from redactors.batch import gated_batches, redaction_texts, source_config
from redactors.config import RunConfig
from redactors.io import WorkUnit
from redactors.unit import engines_built_ahead

# One step: at most this many texts or characters (a step is what a wait can overrun by:
# ~30 ms of PII-dense chat).
AHEAD_STEP_TEXTS = 32
AHEAD_STEP_CHARS = 4_000


def redact_ahead(config: RunConfig, unit: WorkUnit) -> Callable[[], bool]:
    """Each call redacts the next few consented texts of ``unit`` (the run's first) with the
    engines ``build_ahead`` built, for that unit's batches to take, and returns whether
    there is more. Its rows come as the unit takes them (``batch.gated_batches``: read,
    screened, consent-gated; no text of a record without consent is analyzed); texts long
    enough to need windows are left to the unit. Nothing is counted or written here, and
    anything that goes wrong ends the steps: the run meets it in its place."""
    steps = _steps(config, unit)

    def step() -> bool:
        try:
            next(steps)
        except Exception:  # StopIteration included: done, or the run will see why
            return False
        return True

    return step


def _steps(config: RunConfig, unit: WorkUnit) -> Iterator[None]:
    engines = engines_built_ahead()
    if engines is None:
        return
    gate, redactor = engines.gate, engines.redactor
    source = source_config(config, unit.source)
    longest = redactor.detector.config.window_chars
    for batch in gated_batches(unit, source, gate, config.runner.batch_rows):
        texts = [t for t in redaction_texts(batch.consented, source) if len(t) <= longest]
        step: list[str] = []
        for text in texts:
            step.append(text)
            if len(step) == AHEAD_STEP_TEXTS or sum(map(len, step)) >= AHEAD_STEP_CHARS:
                redactor.redact_ahead(step)
                step = []
                yield
        if step:
            redactor.redact_ahead(step)
            yield
