"""Exceptions whose messages are safe to show to a marketer as they are.

Every error the analytics layer raises on purpose derives from :class:`SegmentaError`; the CLI prints
its message and exits non-zero, the dashboard shows it in one alert. Anything else is a bug.
"""

from __future__ import annotations


class SegmentaError(Exception):
    """Base class: ``str(error)`` is a complete, user-safe sentence saying what is wrong and what to do."""


class SchemaError(SegmentaError):
    """The file's columns do not fit: a required column is missing, unknown or mapped twice."""


class DataError(SegmentaError):
    """The values are unusable: unreadable file, non-numeric quantities, dates that cannot be read."""


class InsufficientDataError(SegmentaError):
    """Too little data for the requested analysis (e.g. fewer customers than segments)."""


class ParameterError(SegmentaError, ValueError):
    """A parameter has a value outside its allowed range.

    ``parameter`` names the offending parameter (e.g. ``"eps"``) so a front end can point at its
    own field for it: the CLI at the flag, the web app at the control.
    """

    def __init__(self, message: str, parameter: str | None = None) -> None:
        super().__init__(message)
        self.parameter = parameter


# -- where the reader is -------------------------------------------------------------------
# A message that tells the user what to change must name what *they* can change: a flag on the
# command line, a field on the web page. The process says once, at start-up, which it is
# (``set_audience("web")`` in the dashboard and its job processes); the default is the CLI.
AUDIENCES = ("cli", "web")
_audience = ["cli"]  # one value per process, set at start-up only


def set_audience(audience: str) -> None:
    """Say once per process whether messages are read in a shell (``"cli"``) or a browser (``"web"``)."""
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {AUDIENCES}. Got {audience!r} instead.")
    _audience[0] = audience


def current_audience() -> str:
    return _audience[0]


def fix(cli: str, web: str) -> str:
    """The part of a message saying what to change: ``cli`` in a shell, ``web`` in the app."""
    return web if _audience[0] == "web" else cli


#: The web app's name for what the CLI calls ``--columns`` and ``--date-format``.
WEB_COLUMNS = 'the "Which column is which?" choices on the Data page'
WEB_DATE_FORMAT = 'the "Date format" field on the Data page'
