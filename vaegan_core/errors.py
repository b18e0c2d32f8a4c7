"""Errors a user can act on. Each message is one sentence naming the thing and the fix.

Every error raised on bad input derives from ``VaeganError``, so the CLI and the apps
can show ``str(error)`` on one line instead of a traceback.
"""


class VaeganError(Exception):
    """Base class of the user-facing errors of vaegan_core."""


class ConfigError(VaeganError, ValueError):
    """A configuration value is out of range, unknown or malformed."""


class DatasetError(VaeganError):
    """A dataset is missing, truncated or corrupt."""


class CheckpointError(VaeganError):
    """A checkpoint folder or one of its files is missing, truncated or does not match."""


class TrainingDiverged(VaeganError):
    """A loss became NaN or infinite; training stopped and the last good checkpoint was kept."""


class MetricError(VaeganError, ValueError):
    """Input to a metric is malformed (shape, range, dtype) or too small for a sound estimate."""


class WriteError(VaeganError, OSError):
    """A file could not be written (a full disk, no permission, a writer's own error); the previous version of
    the file, if any, is untouched. The message names the file and the fix."""


def first_line(error: BaseException) -> str:
    """The first non-empty line of an error's message, or its type's name when the message is empty:
    what a one-line report shows of an exception raised by a library."""
    text = str(error).strip()
    return next((line.strip() for line in text.splitlines() if line.strip()), type(error).__name__)
