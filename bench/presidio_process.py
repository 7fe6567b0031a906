"""Plain Presidio as one process, the yardstick of the pipeline's fixed cost: read a Parquet
export, build Presidio's default AnalyzerEngine on the same spaCy model, analyze and anonymize
every text with the batch engines, write the redacted texts as Parquet.

    python bench/presidio_process.py EXPORT.parquet OUT.parquet [--model SPEC]

What a data engineer would write without this project: no consent, no report, no canaries.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import polars as pl
import tldextract.tldextract
from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine
from presidio_analyzer.nlp_engine import NlpEngineProvider
from presidio_anonymizer import BatchAnonymizerEngine


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("export", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--model", required=True, help="spaCy model: package name or directory")
    parser.add_argument("--column", default="text")
    parser.add_argument(
        "--numpy-blas",
        action="store_true",
        help="the model on numpy's BLAS with one thread, as the pipeline's workers run it",
    )
    args = parser.parse_args()
    # The one change to Presidio's defaults, as everywhere here: its email check uses
    # tldextract's bundled suffix list (by default it downloads one: no network at run time).
    tldextract.tldextract.TLD_EXTRACTOR = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)
    texts = pl.read_parquet(args.export, columns=[args.column])[args.column].to_list()
    provider = NlpEngineProvider(
        nlp_configuration={
            "nlp_engine_name": "spacy",
            "models": [{"lang_code": "en", "model_name": args.model}],
        }
    )
    if args.numpy_blas:
        from thinc.api import use_ops
        from threadpoolctl import threadpool_limits

        threadpool_limits(limits=1, user_api="blas")
        with use_ops("numpy", use_blis=False):  # a layer keeps the ops it was built with
            engine = provider.create_engine()
    else:
        engine = provider.create_engine()
    analyzer = BatchAnalyzerEngine(AnalyzerEngine(nlp_engine=engine, supported_languages=["en"]))
    found = analyzer.analyze_iterator(texts, language="en", batch_size=256)
    redacted = BatchAnonymizerEngine().anonymize_list(texts, found)
    pl.DataFrame({args.column: redacted}).write_parquet(args.out)


if __name__ == "__main__":
    main()
