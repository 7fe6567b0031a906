"""Detection's public names, from where they live (kept for callers of the old module).

- ``redactors.nlp``: the spaCy model (installed check, fingerprint, loading, BLAS);
- ``redactors.staged``: Presidio's analysis with spaCy run only where it matters;
- ``redactors.detector``: the registry and the Detector built once per worker;
- ``redactors.presidio_compat``: every use of Presidio's private API.
"""

from redactors.detector import (
    Detector,
    base_registry,
    build_detector,
    build_presidio_baseline,
    check_detection_config,
    registry,
    supported_entities,
)
from redactors.nlp import model_fingerprint, nlp_engine, one_blas_thread, require_model
from redactors.presidio_compat import IndexedContextEnhancer
from redactors.staged import StagedAnalyzerEngine

__all__ = [
    "Detector",
    "IndexedContextEnhancer",
    "StagedAnalyzerEngine",
    "base_registry",
    "build_detector",
    "build_presidio_baseline",
    "check_detection_config",
    "model_fingerprint",
    "nlp_engine",
    "one_blas_thread",
    "registry",
    "require_model",
    "supported_entities",
]
