"""Customer segmentation: a scikit-learn-style :class:`Segmenter`, the k sweep and the PCA view.

Scaling happens before clustering. ``log-standard`` (the default) applies ``sign(x) * log1p(|x|)``
and then standardises: spend and order counts are heavy-tailed, and without the log the biggest
wholesalers would form segments of their own. Labels are renumbered by segment size (0 = largest);
noise points of DBSCAN/HDBSCAN get ``-1``, the "Outliers" segment.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from sklearn.cluster import DBSCAN, HDBSCAN, AgglomerativeClustering, KMeans, MiniBatchKMeans
from sklearn.decomposition import PCA
from sklearn.metrics import calinski_harabasz_score, davies_bouldin_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import RobustScaler, StandardScaler

from analytics.choices import ALGORITHMS, K_ALGORITHMS, SCALINGS
from analytics.errors import InsufficientDataError, ParameterError
from analytics.features import FEATURES, numeric_feature_names
from analytics.words import count_of

K_RANGE = (2, 50)
#: Ward linkage needs memory quadratic in the number of customers.
MAX_AGGLOMERATIVE = 20_000
MAX_DENSITY = 200_000
SILHOUETTE_SAMPLE = 3_000
OUTLIER = -1

Progress = Callable[[int, int], None]


def _check_choice(name: str, value: object, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise ParameterError(
            f"The {name!r} parameter must be one of {', '.join(map(repr, allowed))}. "
            f"Got {value!r} instead.",
            parameter=name,
        )


def _check_int(name: str, value: object, low: int, high: int) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, np.integer))
        or not low <= value <= high
    ):
        raise ParameterError(
            f"The {name!r} parameter must be an int in [{low}, {high}]. Got {value!r} instead.",
            parameter=name,
        )


def _check_float(name: str, value: object, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low < value <= high:
        raise ParameterError(
            f"The {name!r} parameter must be a number in ({low}, {high}]. Got {value!r} instead.",
            parameter=name,
        )


#: Columns of a behavioural features frame that are not features to cluster on.
NOT_FEATURES = ("customer_id", "first_purchase", "last_purchase", "country", "segment")


def attribute_names(features: pl.DataFrame) -> list[str]:
    """The numeric columns of a features frame that are not behavioural features: a customer
    table's columns as written, numeric or one-hot (``Genre=Female``), see
    :mod:`analytics.customer_table`."""
    return [
        name
        for name, dtype in features.schema.items()
        if name not in FEATURES and name not in NOT_FEATURES and dtype.is_numeric()
    ]


def select_features(features: pl.DataFrame, names: Sequence[str] | None) -> list[str]:
    """Validate a feature subset against a features frame (None: every available numeric feature
    and every customer-table column in it)."""
    attributes = attribute_names(features)
    available = numeric_feature_names(features) + attributes
    if names is None:
        return available
    names = list(dict.fromkeys(n.strip() for n in names if n and n.strip()))
    if not names:
        raise ParameterError("Choose at least one feature to segment on.", parameter="features")
    for name in names:
        if name in attributes:
            continue
        if name not in FEATURES:
            raise ParameterError(
                f"Unknown feature {name!r}. Choose from: {', '.join(available)}.",
                parameter="features",
            )
        if name not in available:
            raise ParameterError(
                f"Feature {name!r} is not available for this data (the log has no product "
                f"column). Choose from: {', '.join(available)}.",
                parameter="features",
            )
    return names


def scale(matrix: np.ndarray, scaling: str) -> np.ndarray:
    """Scale a feature matrix with one of :data:`SCALINGS`."""
    _check_choice("scaling", scaling, SCALINGS)
    if scaling == "log-standard":
        return StandardScaler().fit_transform(np.sign(matrix) * np.log1p(np.abs(matrix)))
    if scaling == "robust":
        return RobustScaler().fit_transform(matrix)
    return StandardScaler().fit_transform(matrix)


def _relabel_by_size(labels: np.ndarray) -> np.ndarray:
    """Renumber clusters 0..k-1 by decreasing size (ties: by old label); noise stays -1."""
    labels = np.asarray(labels, dtype=np.int64)
    clusters, counts = np.unique(labels[labels != OUTLIER], return_counts=True)
    order = clusters[np.lexsort((clusters, -counts))]
    out = np.full(len(labels), OUTLIER, dtype=np.int64)
    for new, old in enumerate(order):
        out[labels == old] = new
    return out


@dataclass(frozen=True)
class ClusterMetrics:
    """Quality of one clustering (noise points excluded)."""

    n_segments: int
    silhouette: float | None
    silhouette_sample_size: int
    davies_bouldin: float | None
    calinski_harabasz: float | None
    inertia: float | None
    outlier_share: float

    def as_dict(self) -> dict[str, float | int | None]:
        return dict(self.__dict__)


def cluster_metrics(
    scaled: np.ndarray,
    labels: np.ndarray,
    *,
    sample_size: int = SILHOUETTE_SAMPLE,
    random_state: int = 0,
) -> ClusterMetrics:
    """Silhouette (on a random sample of at most ``sample_size`` customers), Davies-Bouldin,
    Calinski-Harabasz and inertia (within-segment sum of squares in scaled space)."""
    kept = labels != OUTLIER
    points, assigned = scaled[kept], labels[kept]
    n_segments = len(np.unique(assigned))
    outlier_share = float(1 - kept.mean()) if len(labels) else 0.0
    if n_segments < 2 or n_segments >= len(points):
        return ClusterMetrics(n_segments, None, 0, None, None, None, outlier_share)
    sample = min(sample_size, len(points))
    silhouette = silhouette_score(
        points,
        assigned,
        sample_size=sample if sample < len(points) else None,
        random_state=random_state,
    )
    inertia = 0.0
    for label in np.unique(assigned):
        members = points[assigned == label]
        inertia += float(((members - members.mean(axis=0)) ** 2).sum())
    return ClusterMetrics(
        n_segments=n_segments,
        silhouette=float(silhouette),
        silhouette_sample_size=sample,
        davies_bouldin=float(davies_bouldin_score(points, assigned)),
        calinski_harabasz=float(calinski_harabasz_score(points, assigned)),
        inertia=inertia,
        outlier_share=outlier_share,
    )


class Segmenter:
    """Cluster customers on a chosen subset of their features.

    Parameters
    ----------
    features : list of str or None
        Feature names from :data:`analytics.features.FEATURES`; None uses every available one.
    scaling : {"log-standard", "standard", "robust"}
    algorithm : {"kmeans", "minibatch-kmeans", "gmm", "agglomerative", "dbscan", "hdbscan"}
    n_clusters : int
        Number of segments for the k-based algorithms (2-50).
    eps, min_samples : float, int
        DBSCAN neighbourhood radius (in scaled units) and core-point size.
    min_cluster_size : int or None
        HDBSCAN smallest segment; None means 1 % of customers (at least 15).
    random_state : int

    Attributes
    ----------
    labels_ : ndarray of int, segment per customer (0 = largest, -1 = outliers)
    probabilities_ : ndarray of float or None, membership probability (GMM, HDBSCAN)
    customer_ids_ : list of str
    features_ : list of str, the features used
    scaled_ : ndarray, the scaled matrix the algorithm saw
    metrics_ : ClusterMetrics

    Examples
    --------
    >>> seg = Segmenter(features=["recency_days", "frequency", "monetary"], n_clusters=4)
    >>> seg.fit(features_frame).labels_  # doctest: +SKIP
    """

    def __init__(
        self,
        features: Sequence[str] | None = None,
        scaling: str = "log-standard",
        algorithm: str = "kmeans",
        n_clusters: int = 4,
        eps: float = 1.0,
        min_samples: int = 10,
        min_cluster_size: int | None = None,
        random_state: int = 0,
    ) -> None:
        self.features = features
        self.scaling = scaling
        self.algorithm = algorithm
        self.n_clusters = n_clusters
        self.eps = eps
        self.min_samples = min_samples
        self.min_cluster_size = min_cluster_size
        self.random_state = random_state

    def _validate(self, n_rows: int) -> None:
        _check_choice("scaling", self.scaling, SCALINGS)
        _check_choice("algorithm", self.algorithm, ALGORITHMS)
        if self.algorithm in K_ALGORITHMS:
            _check_int("n_clusters", self.n_clusters, *K_RANGE)
            if n_rows < self.n_clusters * 2:
                most = n_rows // 2
                raise InsufficientDataError(
                    f"{count_of(n_rows, 'customer')} "
                    f"{'is' if n_rows == 1 else 'are'} too few for {self.n_clusters} "
                    + (
                        f"segments: use at most {most} segments or more data."
                        if most >= K_RANGE[0]
                        else f"segments: segmenting needs at least {2 * K_RANGE[0]} customers "
                        "(two per segment, and at least two segments). Use more data."
                    )
                )
        if self.algorithm == "dbscan":
            _check_float("eps", self.eps, 0.0, 100.0)
            _check_int("min_samples", self.min_samples, 1, 10_000)
        if self.algorithm == "hdbscan" and self.min_cluster_size is not None:
            _check_int("min_cluster_size", self.min_cluster_size, 2, 1_000_000)
        if self.algorithm == "agglomerative" and n_rows > MAX_AGGLOMERATIVE:
            raise ParameterError(
                f"Agglomerative (Ward) clustering needs memory that grows with the square of the "
                f"customer count; {n_rows:,} customers is more than its limit of "
                f"{MAX_AGGLOMERATIVE:,}. Use 'kmeans' or 'minibatch-kmeans'."
            )
        if self.algorithm in ("dbscan", "hdbscan") and n_rows > MAX_DENSITY:
            raise ParameterError(
                f"{self.algorithm.upper()} on {n_rows:,} customers would take too long (limit "
                f"{MAX_DENSITY:,}). Use 'minibatch-kmeans'."
            )
        if n_rows < 3:
            raise InsufficientDataError(f"Segmentation needs at least 3 customers; got {n_rows}.")

    def fit(self, features: pl.DataFrame) -> Segmenter:
        """Scale the chosen features and cluster the customers; returns ``self``."""
        names = select_features(features, self.features)
        self._validate(features.height)
        matrix = features.select(names).fill_nan(None).to_numpy().astype(np.float64)
        if np.isnan(matrix).any():
            bad = [n for n, col in zip(names, matrix.T, strict=True) if np.isnan(col).any()]
            raise ParameterError(f"Features {', '.join(bad)} have missing values; leave them out.")
        self.features_ = names
        self.customer_ids_ = features.get_column("customer_id").to_list()
        self.scaled_ = scale(matrix, self.scaling)
        labels, self.probabilities_ = self._cluster(self.scaled_)
        self.labels_ = _relabel_by_size(labels)
        self.metrics_ = cluster_metrics(self.scaled_, self.labels_, random_state=self.random_state)
        return self

    def _cluster(self, scaled: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        return fit_labels(
            scaled,
            self.algorithm,
            self.n_clusters,
            eps=self.eps,
            min_samples=self.min_samples,
            min_cluster_size=self.min_cluster_size,
            random_state=self.random_state,
        )

    def assignments(self, names: dict[int, str] | None = None) -> pl.DataFrame:
        """``customer_id, segment[, segment_name][, probability]`` for every customer."""
        frame = pl.DataFrame({"customer_id": self.customer_ids_, "segment": self.labels_})
        if names is not None:
            frame = frame.with_columns(
                segment_name=pl.col("segment").replace_strict(names, return_dtype=pl.String)
            )
        if self.probabilities_ is not None:
            frame = frame.with_columns(probability=pl.Series(self.probabilities_))
        return frame

    def project(self, n_components: int = 3) -> Projection:
        """PCA of the scaled features (what the clustering saw) for plotting."""
        return pca_projection(self.scaled_, self.features_, n_components)


def fit_labels(
    scaled: np.ndarray,
    algorithm: str,
    n_clusters: int,
    *,
    eps: float = 0.5,
    min_samples: int = 10,
    min_cluster_size: int | None = None,
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Run one clustering algorithm on scaled data; returns raw labels and probabilities."""
    n = len(scaled)
    if algorithm == "kmeans":
        model = KMeans(n_clusters=n_clusters, init="k-means++", n_init=3, random_state=random_state)
        return model.fit_predict(scaled), None
    if algorithm == "minibatch-kmeans":
        model = MiniBatchKMeans(
            n_clusters=n_clusters, batch_size=4096, n_init=3, random_state=random_state
        )
        return model.fit_predict(scaled), None
    if algorithm == "gmm":
        model = GaussianMixture(
            n_components=n_clusters, covariance_type="full", n_init=2, random_state=random_state
        ).fit(scaled)
        proba = model.predict_proba(scaled)
        return proba.argmax(axis=1), proba.max(axis=1)
    if algorithm == "agglomerative":
        return AgglomerativeClustering(n_clusters=n_clusters, linkage="ward").fit_predict(
            scaled
        ), None
    if algorithm == "dbscan":
        return DBSCAN(eps=eps, min_samples=min_samples).fit_predict(scaled), None
    size = min_cluster_size or max(15, round(0.01 * n))
    model = HDBSCAN(min_cluster_size=size, copy=True).fit(scaled)
    return model.labels_, model.probabilities_


@dataclass(frozen=True)
class Projection:
    """Customers in principal-component space."""

    coordinates: np.ndarray  # (n_customers, n_components)
    explained_variance_ratio: list[float]
    loadings: dict[str, list[float]]  # component -> weight per feature

    def top_features(self, component: int, n: int = 2) -> list[str]:
        weights = self.loadings[f"PC{component + 1}"]
        names = list(self.loadings["feature"])
        order = np.argsort(-np.abs(np.asarray(weights)))
        return [names[i] for i in order[:n]]


def pca_projection(scaled: np.ndarray, names: Sequence[str], n_components: int = 3) -> Projection:
    """Project scaled features on their first principal components (at most one per feature)."""
    n_components = min(n_components, scaled.shape[1], len(scaled))
    pca = PCA(n_components=n_components, random_state=0).fit(scaled)
    loadings: dict[str, list] = {"feature": list(names)}
    for i, component in enumerate(pca.components_):
        loadings[f"PC{i + 1}"] = component.tolist()
    return Projection(pca.transform(scaled), pca.explained_variance_ratio_.tolist(), loadings)


@dataclass(frozen=True)
class KSweep:
    """Quality metrics per number of segments, with the recommended k and why."""

    table: pl.DataFrame  # k, silhouette, davies_bouldin, calinski_harabasz, inertia
    recommended_k: int
    elbow_k: int
    reason: str
    silhouette_sample_size: int


def elbow_point(ks: Sequence[int], inertia: Sequence[float]) -> int:
    """The k furthest below the straight line from the first to the last inertia (kneedle)."""
    x = np.asarray(ks, dtype=float)
    y = np.asarray(inertia, dtype=float)
    if len(x) < 3 or y[0] == y[-1]:
        return int(x[0])
    xn = (x - x[0]) / (x[-1] - x[0])
    yn = (y - y[-1]) / (y[0] - y[-1])
    return int(x[np.argmax((1 - xn) - yn)])


def sweep_k(
    features: pl.DataFrame,
    k_values: Sequence[int] = range(2, 11),
    *,
    feature_names: Sequence[str] | None = None,
    scaling: str = "log-standard",
    algorithm: str = "kmeans",
    random_state: int = 0,
    progress: Progress | None = None,
) -> KSweep:
    """Cluster for every k in ``k_values`` and recommend one.

    The recommendation is the k with the best mean rank over silhouette (higher is better),
    Davies-Bouldin (lower) and Calinski-Harabasz (higher), ties going to the higher silhouette.
    The inertia elbow is reported beside it. ``progress(done, total)`` is called after each k.

    Raises
    ------
    ParameterError
        For an algorithm without a k, or k values outside 2-50 / fewer than two of them.
    """
    _check_choice("algorithm", algorithm, K_ALGORITHMS)
    ks = sorted(set(int(k) for k in k_values))
    if len(ks) < 2:
        raise ParameterError(f"The k sweep needs at least two values of k. Got {ks} instead.")
    for k in ks:
        _check_int("k", k, *K_RANGE)
    names = select_features(features, feature_names)
    Segmenter(names, scaling, algorithm, ks[-1])._validate(features.height)
    scaled = scale(features.select(names).to_numpy().astype(np.float64), scaling)
    rows = []
    for i, k in enumerate(ks):
        labels, _ = fit_labels(scaled, algorithm, k, random_state=random_state)
        m = cluster_metrics(scaled, labels, random_state=random_state)
        rows.append(
            {
                "k": k,
                "silhouette": m.silhouette,
                "davies_bouldin": m.davies_bouldin,
                "calinski_harabasz": m.calinski_harabasz,
                "inertia": m.inertia,
            }
        )
        if progress is not None:
            progress(i + 1, len(ks))
    table = pl.DataFrame(rows).with_columns(
        rank=(
            pl.col("silhouette").rank(descending=True)
            + pl.col("davies_bouldin").rank()
            + pl.col("calinski_harabasz").rank(descending=True)
        )
        / 3
    )
    best = table.sort(["rank", "silhouette"], descending=[False, True]).row(0, named=True)
    elbow = elbow_point(table["k"].to_list(), table["inertia"].to_list())
    top_sil = table.sort("silhouette", descending=True)["k"][0]
    reason = (
        f"k={best['k']} has the best average rank over the three quality scores: silhouette "
        f"{best['silhouette']:.3f} (best: k={top_sil}), Davies-Bouldin {best['davies_bouldin']:.3f} "
        f"(lower is better), Calinski-Harabasz {best['calinski_harabasz']:,.0f}. "
        + (
            f"The inertia elbow agrees (k={elbow})."
            if elbow == best["k"]
            else f"The inertia elbow is at k={elbow}."
        )
    )
    return KSweep(
        table=table.drop("rank"),
        recommended_k=int(best["k"]),
        elbow_k=elbow,
        reason=reason,
        silhouette_sample_size=min(SILHOUETTE_SAMPLE, features.height),
    )
