"""Regenerate the committed sample exports: `.venv/bin/python data/sample/generate.py`.

Deterministic (fixed seed, pinned Faker): tests check the committed files match.
"""

from pathlib import Path

from redactors.testing.synth import generate_sample, write_sample

if __name__ == "__main__":
    write_sample(generate_sample(), Path(__file__).resolve().parent)
