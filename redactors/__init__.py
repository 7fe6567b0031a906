"""Consent-gated PII redaction library: no Prefect here, only data in and data out."""

__version__ = "0.1.0"
