import numpy as np
import polars as pl
import pytest
from sklearn.metrics import adjusted_rand_score

from analytics.cleaning import clean_transactions
from analytics.errors import InsufficientDataError, ParameterError
from analytics.features import customer_features
from analytics.io import to_canonical
from analytics.segmentation import (
    ALGORITHMS,
    Segmenter,
    _relabel_by_size,
    elbow_point,
    scale,
    sweep_k,
)
from analytics.synthetic import synthetic_log


@pytest.fixture(scope="module")
def planted():
    tx, truth = synthetic_log(2_000, seed=7)
    cleaned, _ = clean_transactions(to_canonical(tx)[0])
    features = customer_features(cleaned)
    return features, features.join(truth, on="customer_id", how="left")["group"].to_numpy()


def test_recovers_planted_groups(planted):
    features, truth = planted
    seg = Segmenter(n_clusters=4, random_state=0).fit(features)
    assert adjusted_rand_score(truth, seg.labels_) >= 0.8
    rfm_only = Segmenter(
        ["recency_days", "frequency", "monetary", "tenure_days"], n_clusters=4
    ).fit(features)
    assert adjusted_rand_score(truth, rfm_only.labels_) >= 0.8


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_algorithm_runs(planted, algorithm):
    features, truth = planted
    seg = Segmenter(algorithm=algorithm, n_clusters=4, eps=1.0, min_samples=10).fit(features)
    assert len(seg.labels_) == features.height
    assert seg.metrics_.n_segments >= 1
    if algorithm in ("kmeans", "minibatch-kmeans", "gmm", "agglomerative"):
        assert set(seg.labels_) == {0, 1, 2, 3}
        assert adjusted_rand_score(truth, seg.labels_) >= 0.5
    if algorithm == "gmm":
        assert seg.probabilities_ is not None
        assert ((seg.probabilities_ > 0.25) & (seg.probabilities_ <= 1.0)).all()
        assert "probability" in seg.assignments().columns


def test_dbscan_marks_outliers():
    rng = np.random.default_rng(0)
    blob = rng.normal(0, 0.05, size=(60, 2))
    points = np.vstack([blob, blob + 5, [[50, 50]]])
    frame = pl.DataFrame(
        {
            "customer_id": [str(i) for i in range(len(points))],
            "frequency": points[:, 0],
            "monetary": points[:, 1],
        }
    )
    seg = Segmenter(
        ["frequency", "monetary"], scaling="standard", algorithm="dbscan", eps=0.3, min_samples=5
    ).fit(frame)
    assert seg.labels_[-1] == -1
    assert set(seg.labels_[:-1]) == {0, 1}
    assert seg.metrics_.outlier_share == pytest.approx(1 / 121)


def test_labels_are_numbered_by_size():
    assert _relabel_by_size(np.array([5, 5, 9, 9, 9, -1, 2])).tolist() == [1, 1, 0, 0, 0, -1, 2]


def test_log_standard_scaling_by_hand():
    scaled = scale(np.array([[0.0], [np.e - 1], [-(np.e - 1)]]), "log-standard")
    assert scaled[:, 0] == pytest.approx(np.array([0.0, 1.0, -1.0]) / np.sqrt(2 / 3))


@pytest.mark.parametrize(
    ("params", "error", "message"),
    [
        (
            {"algorithm": "spectral"},
            ParameterError,
            "The 'algorithm' parameter must be one of 'kmeans',",
        ),
        ({"scaling": "minmax"}, ParameterError, "The 'scaling' parameter must be one of"),
        (
            {"n_clusters": 1},
            ParameterError,
            "The 'n_clusters' parameter must be an int in [2, 50]. Got 1 instead.",
        ),
        ({"n_clusters": "four"}, ParameterError, "Got 'four' instead."),
        (
            {"algorithm": "dbscan", "eps": 0},
            ParameterError,
            "The 'eps' parameter must be a number in (0.0, 100.0]. Got 0 instead.",
        ),
        (
            {"features": ["loyalty"]},
            ParameterError,
            "Unknown feature 'loyalty'. Choose from: recency_days",
        ),
        ({"features": []}, ParameterError, "Choose at least one feature"),
        ({"n_clusters": 40}, InsufficientDataError, "6 customers are too few for 40 segments"),
    ],
)
def test_parameter_errors(params, error, message):
    frame = pl.DataFrame(
        {
            "customer_id": list("abcdef"),
            "recency_days": [1.0, 2, 3, 4, 5, 6],
            "frequency": [1, 2, 3, 4, 5, 6],
            "monetary": [1.0, 2, 3, 4, 5, 6],
        }
    )
    with pytest.raises(error) as info:
        Segmenter(**params).fit(frame)
    assert message in str(info.value)


def test_input_not_modified(planted):
    features, _ = planted
    copy = features.clone()
    Segmenter(n_clusters=3).fit(features)
    assert features.equals(copy)


def test_sweep_recommends_planted_k(planted):
    features, _ = planted
    calls = []
    rfm = ["recency_days", "frequency", "monetary"]
    sweep = sweep_k(
        features, range(2, 8), feature_names=rfm, progress=lambda d, t: calls.append((d, t))
    )
    assert sweep.table["k"].to_list() == [2, 3, 4, 5, 6, 7]
    assert calls[-1] == (6, 6) and len(calls) == 6
    assert sweep.recommended_k == 4
    assert "k=4" in sweep.reason
    assert sweep.table["inertia"].is_sorted(descending=True)


def test_sweep_rejects_density_algorithms(planted):
    with pytest.raises(
        ParameterError,
        match="The 'algorithm' parameter must be one of 'kmeans', 'minibatch-kmeans', 'gmm', 'agglomerative'",
    ):
        sweep_k(planted[0], algorithm="dbscan")


def test_elbow_point_by_hand():
    assert elbow_point([1, 2, 3, 4, 5], [100, 40, 30, 25, 22]) == 2


def test_pca_projection(planted):
    seg = Segmenter(n_clusters=4).fit(planted[0])
    proj = seg.project()
    assert proj.coordinates.shape == (planted[0].height, 3)
    ratios = proj.explained_variance_ratio
    assert ratios == sorted(ratios, reverse=True) and 0 < sum(ratios) <= 1
    assert len(proj.top_features(0)) == 2
    two = Segmenter(["frequency", "monetary"], n_clusters=3).fit(planted[0]).project()
    assert two.coordinates.shape[1] == 2


def test_bundled_resegment(bundled):
    features = customer_features(bundled.transactions)
    seg = Segmenter(n_clusters=5).fit(features)
    assert seg.metrics_.n_segments == 5
    assert seg.metrics_.silhouette_sample_size == 3_000
    assert 0 < seg.metrics_.silhouette < 1
