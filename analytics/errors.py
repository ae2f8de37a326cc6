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
