"""Engines for the transaction-level work: polars on this host (the default) or Spark on a cluster.

The engine only decides where the log is read, cleaned, turned into customer features and mined
for itemsets. Everything downstream (RFM, segments, profiles, rules' use) runs on the per-customer
table in polars, whichever engine made it. :mod:`analytics.engines.spark` imports pyspark, so it is
imported only when the Spark engine is chosen.
"""

from __future__ import annotations

import os

from analytics.errors import ParameterError

ENGINES = ("polars", "spark")
DEFAULT_ENGINE = "polars"


def check_engine(name: object, *, source: str = "--engine") -> str:
    """Return ``name`` when it is a known engine, else raise a :class:`ParameterError`."""
    if name not in ENGINES:
        raise ParameterError(
            f"The {source} setting must be one of {', '.join(repr(e) for e in ENGINES)}. "
            f"Got {name!r} instead.",
            parameter="engine",
        )
    return str(name)


def engine_from_env(environ: dict[str, str] | None = None) -> str:
    """The engine named by ``SEGMENTA_ENGINE`` (default :data:`DEFAULT_ENGINE`)."""
    environ = os.environ if environ is None else environ
    value = (environ.get("SEGMENTA_ENGINE") or DEFAULT_ENGINE).strip().lower()
    return check_engine(value, source="SEGMENTA_ENGINE")
