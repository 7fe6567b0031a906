"""Errors the library raises on purpose. Messages name files, columns, keys and row indexes,
never the content of a row (which may be personal data)."""


class RedactError(Exception):
    """Base class: a problem the user can fix; the CLI prints it without a traceback."""


class ConfigError(RedactError):
    """The run config is invalid or asks for something not available."""


class InputError(RedactError):
    """An input file is missing, unreadable or has the wrong shape."""


class ConsentError(RedactError):
    """The consent registry is missing or ambiguous; the run fails closed."""


class SecretError(RedactError):
    """REDACT_SECRET is needed and missing or unusable."""


class OutputError(RedactError):
    """The output location cannot be written safely."""


class UnitError(RedactError):
    """A work unit failed inside a library call; the message names the unit, not the data.
    ``transient``: the cause was an I/O error (worth a retry), not the data (never is)."""

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient


def is_transient(error: BaseException) -> bool:
    """Worth retrying: an I/O failure, not a problem with the data, config or secret."""
    if isinstance(error, UnitError):
        return error.transient
    return isinstance(error, OSError) and not isinstance(error, RedactError)


class ResidualRiskError(RedactError):
    """The leak re-scan found more than the configured rate: the output is not published."""


class CanaryError(RedactError):
    """Canary recall is below the configured threshold: detection is not trusted, no run."""


class ThresholdError(RedactError):
    """A configured alert threshold (drop rate, change since the last run) was crossed: the
    output is not published and the run ends failed, so schedulers can alert."""


class GateError(ThresholdError):
    """A release gate failed (README, "Verdict and gates"): nothing is published, the
    failed run's report is written next to the output (``report_dir``)."""

    def __init__(self, message: str, report_dir: str | None = None) -> None:
        super().__init__(message)
        self.report_dir = report_dir
