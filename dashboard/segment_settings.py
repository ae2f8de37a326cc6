"""The Segments page's settings: controls <-> parameters <-> the page's URL.

The settings live in the URL (``/segments?k=5&algorithm=gmm``), so a link reproduces what its
sender saw, and in a session store that other pages (Baskets, Customer) read to reuse the
current segmentation.
"""

from __future__ import annotations

from collections.abc import Mapping

from dash import dcc

from analytics.errors import ParameterError
from analytics.features import FEATURES
from analytics.segment_report import SegmentParams

STORE_ID = "segments-settings"

DEFAULTS = {
    "features": [],
    "scaling": "log-standard",
    "algorithm": "kmeans",
    "k": 4,
    "eps": 1.0,
    "min_samples": 10,
    "min_cluster_size": None,
    "view": "3d",
    "tab": "map",
    "auto": False,
}
#: Field labels on the page, for messages that point at the control to change.
FIELDS = {
    "features": "Features to cluster on",
    "scaling": "Scaling",
    "algorithm": "Algorithm",
    "k": "Number of segments (k)",
    "n_clusters": "Number of segments (k)",
    "eps": "DBSCAN radius (eps)",
    "min_samples": "DBSCAN core size (min samples)",
    "min_cluster_size": "HDBSCAN smallest segment",
    "view": "3D / 2D view",
    "tab": "Tab",
}
ALGORITHM_LABELS = {
    "kmeans": "K-Means (k-means++)",
    "minibatch-kmeans": "MiniBatch K-Means (large data)",
    "gmm": "Gaussian mixture (probabilities)",
    "agglomerative": "Agglomerative (Ward)",
    "dbscan": "DBSCAN (density, finds outliers)",
    "hdbscan": "HDBSCAN (density, finds outliers)",
}
SCALING_LABELS = {
    "log-standard": "Log + standardise (default)",
    "standard": "Standardise",
    "robust": "Robust (median/IQR)",
}
VIEWS = ("3d", "2d")
#: The page's tabs: the map and personas (what a change of settings redraws first), the
#: profiles (heatmap and tables), what defines the segments (tree and distributions).
TABS = {"map": "Map and personas", "profiles": "Profiles", "drivers": "What defines them"}
#: The slider's range (the analytics layer accepts 2-50; the page offers the useful part).
K_SLIDER = (2, 12)


def create_settings_store() -> dcc.Store:
    """The session-stored Segments settings; pages that reuse the segmentation include it too.

    It must sit in each page's own layout (not the shell): its restored value is then ready
    when the page's first callbacks read it.
    """
    return dcc.Store(id=STORE_ID, storage_type="session")


def params_from(
    features, scaling, algorithm, k, eps, min_samples, min_cluster_size
) -> SegmentParams:
    """Control values -> validated SegmentParams (a bad value raises, naming its field).

    Settings the chosen algorithm does not use take their defaults, so they neither raise nor
    split the cache: k only matters for the k-based algorithms, eps and min samples for DBSCAN,
    the smallest segment for HDBSCAN.
    """
    density = algorithm in ("dbscan", "hdbscan")
    return SegmentParams(
        features=tuple(features) if features else None,
        scaling=scaling,
        algorithm=algorithm,
        k=DEFAULTS["k"] if density else k,
        eps=eps if algorithm == "dbscan" else DEFAULTS["eps"],
        min_samples=min_samples if algorithm == "dbscan" else DEFAULTS["min_samples"],
        min_cluster_size=(min_cluster_size or None) if algorithm == "hdbscan" else None,
    )


def params_from_saved(saved: dict | None) -> SegmentParams:
    """SegmentParams from the session's saved Segments settings (defaults when none)."""
    saved = {**DEFAULTS, **(saved or {})}
    return params_from(
        *(
            saved[k]
            for k in (
                "features",
                "scaling",
                "algorithm",
                "k",
                "eps",
                "min_samples",
                "min_cluster_size",
            )
        )
    )


def settings_from_query(query: Mapping[str, str]) -> tuple[dict, list[str]]:
    """The page's control values from a URL query, and what in the link could not be used.

    Each unusable value is named in the returned problems (the page shows them) and its control
    keeps the default: a link is never silently reinterpreted.
    """
    values = dict(DEFAULTS)
    problems: list[str] = []
    if not query:
        return values, problems
    candidate = dict(DEFAULTS)
    raw_features = query.get("features")
    if raw_features:
        candidate["features"] = [f for f in raw_features.split(",") if f]
        if not candidate["features"]:  # e.g. features=,,, : said, not silently all features
            problems.append(
                f"The link's {FIELDS['features']} ({raw_features}): names no feature; "
                "showing all features."
            )
    for name in ("scaling", "algorithm", "view", "tab"):
        if query.get(name):
            candidate[name] = query[name]
    for name in ("k", "min_samples", "min_cluster_size"):
        if query.get(name):
            candidate[name] = _number(query[name])
    if query.get("eps"):
        candidate["eps"] = _number(query["eps"])
    for name, value in candidate.items():
        if value == DEFAULTS[name]:
            continue
        try:
            _check(name, value, candidate)
        except ParameterError as error:
            problems.append(f"The link's {FIELDS.get(name, name)} ({query.get(name)!s}): {error}")
        else:
            values[name] = value
    return values, problems


def _number(text: str):
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() else value


#: The choices a link may name, as the page labels them.
CHOICES = {
    "algorithm": ALGORITHM_LABELS,
    "scaling": SCALING_LABELS,
    "view": {"3d": "3D", "2d": "2D"},
    "tab": TABS,
}


def _check(name: str, value, candidate: dict) -> None:
    if name in CHOICES:
        labels = CHOICES[name]
        if value not in labels:
            *first, last = labels.values()
            raise ParameterError(
                f"the page offers {', '.join(first)} or {last}; showing the default, "
                f"{labels[DEFAULTS[name]]}.",
                parameter=name,
            )
        return
    if name == "features":
        unknown = [f for f in value if f not in FEATURES]
        if unknown:
            raise ParameterError(
                f"unknown feature(s) {', '.join(unknown)}; choose from {', '.join(FEATURES)}.",
                parameter="features",
            )
        return
    if name == "k" and not (
        isinstance(value, int) and K_SLIDER[0] <= value <= K_SLIDER[1]
    ):  # one message for every unusable k (text, a fraction, 1e400, out of the slider's range)
        raise ParameterError(
            f"the page offers k as a whole number from {K_SLIDER[0]} to {K_SLIDER[1]}.",
            parameter="k",
        )
    SegmentParams(**{**_params_fields(DEFAULTS), name: value})


def _params_fields(values: Mapping) -> dict:
    fields = {k: values[k] for k in SegmentParams.__dataclass_fields__}
    fields["features"] = tuple(fields["features"]) if fields["features"] else None
    return fields
