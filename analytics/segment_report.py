"""A segmentation report: what the CLI prints and the Segments page shows, composed once.

:class:`SegmentParams` declares and validates every setting of a segmentation (it is also the
cache key). :func:`segment_report` fits the segmenter, profiles every available feature (the
clustered ones and the rest, so a segment built on recency still shows its spend), names the
personas, projects the customers on three principal components and fits a shallow decision tree
that says which features define the segments. Both front ends call it, so they never disagree.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import polars as pl
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier

from analytics.customer_table import CustomerTable, table_profile, with_attributes
from analytics.errors import ParameterError
from analytics.profiles import SegmentProfile, profile_segments
from analytics.segmentation import (
    ALGORITHMS,
    K_RANGE,
    OUTLIER,
    SCALINGS,
    ClusterMetrics,
    Segmenter,
    _check_choice,
    _check_float,
    _check_int,
)

#: Depth of the decision tree that describes the segments (readable, and fast on any data).
TREE_DEPTH = 4
#: Customers the tree learns from (a random sample beyond this; its accuracy is measured on others).
TREE_SAMPLE = 20_000


def _as_int(name: str, value: object) -> object:
    """Whole numbers that went through JSON or a number box (``4.0``) become ``4``; others stay."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return value


@dataclass(frozen=True)
class SegmentParams:
    """Every setting that decides a segmentation; validated on creation, hashable, JSON-safe.

    Parameters
    ----------
    features : tuple of str or None
        Features to cluster on (None: every available one).
    scaling : {"log-standard", "standard", "robust"}
    algorithm : {"kmeans", "minibatch-kmeans", "gmm", "agglomerative", "dbscan", "hdbscan"}
    k : int
        Number of segments for the k-based algorithms, in ``K_RANGE``.
    eps : float
        DBSCAN radius in scaled units, in (0, 100].
    min_samples : int
        DBSCAN core size, in [1, 10000].
    min_cluster_size : int or None
        HDBSCAN smallest segment (None: 1 % of customers).

    Raises
    ------
    ParameterError
        Naming the parameter, the rule and the value; ``error.parameter`` is the field name.
    """

    features: tuple[str, ...] | None = None
    scaling: str = "log-standard"
    algorithm: str = "kmeans"
    k: int = 4
    eps: float = 1.0
    min_samples: int = 10
    min_cluster_size: int | None = None

    def __post_init__(self) -> None:
        features = self.features
        if features is not None:
            if isinstance(features, str) or not all(isinstance(f, str) for f in features):
                raise ParameterError(
                    f"The 'features' parameter must be a list of feature names. Got {features!r} "
                    "instead.",
                    parameter="features",
                )
            features = tuple(features) or None
        object.__setattr__(self, "features", features)
        _check_choice("scaling", self.scaling, SCALINGS)
        _check_choice("algorithm", self.algorithm, ALGORITHMS)
        for name in ("k", "min_samples", "min_cluster_size"):
            object.__setattr__(self, name, _as_int(name, getattr(self, name)))
        _check_int("k", self.k, *K_RANGE)
        if isinstance(self.eps, int) and not isinstance(self.eps, bool):
            object.__setattr__(self, "eps", float(self.eps))
        _check_float("eps", self.eps, 0.0, 100.0)
        _check_int("min_samples", self.min_samples, 1, 10_000)
        if self.min_cluster_size is not None:
            _check_int("min_cluster_size", self.min_cluster_size, 2, 1_000_000)

    def key(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def to_dict(self) -> dict:
        values = asdict(self)
        values["features"] = list(self.features) if self.features else None
        return values

    @classmethod
    def from_dict(cls, values: Mapping) -> SegmentParams:
        """From a JSON dict; unknown keys are an error, missing ones take their defaults."""
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ParameterError(
                f"Unknown segmentation settings: {', '.join(sorted(unknown))}.",
                parameter=sorted(unknown)[0],
            )
        features = values.get("features")
        return cls(**{**values, "features": tuple(features) if features else None})

    def segmenter(self) -> Segmenter:
        return Segmenter(
            features=list(self.features) if self.features else None,
            scaling=self.scaling,
            algorithm=self.algorithm,
            n_clusters=self.k,
            eps=self.eps,
            min_samples=self.min_samples,
            min_cluster_size=self.min_cluster_size,
        )


@dataclass(frozen=True)
class SegmentTree:
    """A shallow decision tree that reproduces the segments from the features.

    ``accuracy`` is measured on customers the tree did not learn from (None when there are too
    few to hold some out); ``importance`` is each feature's share of the tree's impurity decrease.
    """

    accuracy: float | None
    importance: dict[str, float]
    depth: int
    test_customers: int


@dataclass(frozen=True)
class SegmentReport:
    """A fitted segmentation reduced to what the pages and the CLI show."""

    params: SegmentParams
    assignments: pl.DataFrame  # customer_id, segment, segment_name[, probability]
    metrics: ClusterMetrics
    features: list[str]  # the features clustered on
    coordinates: np.ndarray  # PCA, float32, one row per customer (same order as assignments)
    explained_variance: list[float]
    loadings: dict[str, list]
    profile: SegmentProfile
    tree: SegmentTree | None


def describe_segments(
    features: pl.DataFrame,
    labels: np.ndarray,
    feature_names: list[str],
    *,
    depth: int = TREE_DEPTH,
    sample: int = TREE_SAMPLE,
    random_state: int = 0,
) -> SegmentTree | None:
    """Fit a depth-``depth`` tree on the segments (outliers left out); None with one segment."""
    keep = labels != OUTLIER
    y = labels[keep]
    if len(np.unique(y)) < 2:
        return None
    X = features.select(feature_names).to_numpy().astype(np.float64)[keep]
    test_customers = 0
    accuracy = None
    counts = np.bincount(y)
    if len(y) >= 50 and counts[counts > 0].min() >= 2:
        train_size = min(sample, int(0.75 * len(y)))
        X_train, X_test, y_train, y_test = train_test_split(
            X, y, train_size=train_size, stratify=y, random_state=random_state
        )
        test_customers = len(y_test)
    else:
        X_train, y_train, X_test, y_test = X, y, None, None
    tree = DecisionTreeClassifier(max_depth=depth, random_state=random_state).fit(X_train, y_train)
    if X_test is not None:
        accuracy = float((tree.predict(X_test) == y_test).mean())
    total = tree.feature_importances_.sum()
    shares = tree.feature_importances_ / total if total else tree.feature_importances_
    return SegmentTree(
        accuracy,
        dict(zip(feature_names, (float(v) for v in shares), strict=True)),
        depth,
        test_customers,
    )


def segment_report(
    features: pl.DataFrame, params: SegmentParams, table: CustomerTable | None = None
) -> SegmentReport:
    """Fit, profile, name, project and describe one segmentation.

    Parameters
    ----------
    features
        Customer features (:func:`analytics.features.customer_features`).
    params
        The segmentation's settings.
    table
        The customer table whose columns are in ``features``: alone
        (:func:`~analytics.customer_table.table_features`, segments named from its columns as
        ``segment --format customers`` names them) or joined to a log's features
        (:func:`~analytics.customer_table.joined_features`, its columns profiled beside them).

    Returns
    -------
    SegmentReport

    Raises
    ------
    ParameterError, InsufficientDataError
        When the settings do not fit the data (too few customers for k, a missing feature, ...).
    """
    seg = params.segmenter().fit(features)
    if table is not None and "monetary" not in features.columns:
        profile = table_profile(features, seg.labels_, table)
    else:
        profile = profile_segments(features, seg.labels_)
        if table is not None:
            profile = with_attributes(profile, features, seg.labels_, table)
    projection = seg.project(3)
    return SegmentReport(
        params=params,
        assignments=seg.assignments(profile.names()),
        metrics=seg.metrics_,
        features=seg.features_,
        coordinates=projection.coordinates.astype(np.float32),
        explained_variance=projection.explained_variance_ratio,
        loadings=projection.loadings,
        profile=profile,
        tree=describe_segments(features, seg.labels_, seg.features_),
    )
