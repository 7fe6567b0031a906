"""Prefect flows and the `redact` command line: orchestration only, no redaction logic."""
