"""Customer tables in the app (issue 10): the service, the Data and Segments callbacks and the
transaction pages' gate, called as plain functions."""

import dash
import polars as pl
import pytest

from analytics.datasets import BUNDLED_ID, data_dir
from analytics.errors import DataError
from dashboard.service import NeedsTransactions, SegmentParams
from tests.dashboard.test_callbacks import page, triggered

MALL = data_dir() / "mall_customers.csv.gz"


def _store(svc, path, name=None):
    with open(path, "rb") as handle:
        return svc.store_upload(handle, name or path.name, "", 10**8)


@pytest.fixture
def svc(app):
    return app.server.config["SEGMENTA_SERVICE"]


@pytest.fixture
def mall(svc):
    dataset_id = _store(svc, MALL)
    svc.configure_table(dataset_id, None)
    return dataset_id


def test_a_table_alone_offers_its_columns_and_refuses_transaction_views(svc, mall):
    assert svc.kind(mall) == "customers"
    assert list(svc.feature_choices(mall)) == [
        "Age",
        "Annual Income (k$)",
        "Spending Score (1-100)",
        "Genre=Female",
        "Genre=Male",
    ]
    with pytest.raises(NeedsTransactions, match="mall_customers.csv.gz, is a customer table"):
        svc.transactions(mall)
    with pytest.raises(NeedsTransactions):
        svc.features(mall)


def test_segments_page_on_a_table(app, svc, mall):
    segments = page("segments")
    # a choice half in this dataset (Age is, Net spend is not) is not quietly cut to its half:
    # all features, and the page says why until features are picked again
    updated = triggered("dataset-id", "data")
    _, value, _, _ = segments.feature_options(mall, ["Age", "monetary"], "monetary")
    assert value == []
    note = updated["segments-features-note"]["children"]
    assert note == segments.features_dropped_note(["monetary"])
    assert "'Net spend (after returns)'" in note and "all available features" in note
    assert segments.clear_features_note(["Age"]) is None
    updated = triggered("dataset-id", "data")
    options, value, box_options, box = segments.feature_options(mall, ["monetary"], "monetary")
    assert [o["value"] for o in options][:3] == [
        "Age",
        "Annual Income (k$)",
        "Spending Score (1-100)",
    ]
    assert value == [] and box == "Age"  # the log's saved choices do not apply to a table
    triggered("segments-k")
    args = (None, "standard", "kmeans", 4, 1.0, 10, None, "3d", "Age")
    out = segments.recluster(*args, "map", mall)
    current, metrics, pca, caption, personas = out[:5]
    assert current["dataset_id"] == mall
    assert "200" in str(metrics)
    assert len(pca.data) == 4 and pca.data[0].customdata is None  # no spend to hover
    report = svc.segmentation(mall, SegmentParams(scaling="standard"))
    names = [p.name for p in report.profile.personas]
    assert all(name in str(personas) for name in names)
    assert "revenue" not in str(personas)
    out = segments.recluster(*args, "profiles", mall, None, None, current)  # the tab opened
    rows, columns = out[5], out[6]
    headers = [c["headerName"] for c in columns]
    assert "Revenue" not in headers
    assert headers[3:] == [
        "Age (mean)",
        "Annual Income (k$) (mean)",
        "Spending Score (1-100) (mean)",
        "Genre=Female (share)",
        "Genre=Male (share)",
    ]
    shares = [r["attr3"] + r["attr4"] for r in rows]
    assert shares == pytest.approx([1.0] * 4)
    heatmap = out[9]
    assert list(heatmap.data[0].x)[-2:] == ["Genre=Female", "Genre=Male"]
    out = segments.recluster(*args, "drivers", mall, None, None, out[0])
    assert "decision tree of depth 4" in str(out[11])


def test_joined_table_clusters_on_features_and_attributes(app, svc, tmp_path):
    ids = svc.features(BUNDLED_ID).get_column("customer_id")
    path = tmp_path / "crm.csv"
    pl.DataFrame(
        {
            "Client": ids[:3000],
            "Tier (level)": ["Gold" if i % 3 == 0 else "Basic" for i in range(3000)],
        }
    ).write_csv(path)
    joined = _store(svc, path)
    svc.configure_table(joined, None, BUNDLED_ID)
    assert svc.kind(joined) == "joined"
    assert svc.fingerprint(joined) == svc.fingerprint(BUNDLED_ID)  # the log's caches are shared
    choices = svc.feature_choices(joined)
    assert "monetary" in choices and "Tier (level)=Gold" in choices
    report = svc.segmentation(
        joined, SegmentParams(features=("monetary", "Tier (level)=Gold"), k=3)
    )
    assert report.assignments.height == 3000  # the customers the table describes
    assert "Tier (level)=Gold" in report.profile.table.columns
    gold = report.profile.table.get_column("Tier (level)=Gold").to_list()
    sizes = report.profile.table.get_column("customers").to_list()
    # a one-hot attribute is profiled as a share: weighted by size, the overall share of Gold
    assert sum(g * n for g, n in zip(gold, sizes, strict=True)) == pytest.approx(1000)
    assert max(gold) == 1.0 and min(gold) == 0.0  # the clustering split on it
    assert report.profile.personas[0].revenue_share is not None


def test_a_table_joins_only_to_a_log(svc, mall):
    other = _store(svc, MALL)
    with pytest.raises(DataError, match="joins to a transaction log"):
        svc.configure_table(other, None, mall)


def test_transaction_pages_are_gated_for_a_table(app, svc, mall):
    gate = app.callback_map["..shell-needs-log.children...shell-page.style.."]["callback"]
    with app.server.test_request_context():
        for path in ("/churn", "/baskets", "/lifecycle", "/customer/12346", "/"):
            alert, style = gate.__wrapped__(mall, path)
            assert style == {"display": "none"}
            assert "needs a transaction log" in str(alert)
        for path in ("/segments", "/data"):
            assert gate.__wrapped__(mall, path) == (None, {})
        assert gate.__wrapped__(BUNDLED_ID, "/churn") == (None, {})


def test_data_page_asks_for_the_id_column_of_a_table(app):
    data = page("data")
    triggered("data-kind")
    columns = ["CustomerID", "Genre", "Age"]
    result = {"dataset_id": "u-" + "0" * 32, "filename": "crm.csv", "columns": columns}
    pending, form, style = data.receive_upload(result, "customers")
    assert "Which column is the customer id?" in str(form)
    assert "'value': 'CustomerID'" in str(form) or "value='CustomerID'" in str(form)
    pending, form, style = data.receive_upload(result, "transactions")
    assert "No date column was recognised" in str(form)
    assert dash.no_update not in (pending, form)


def test_segment_explanation_on_a_joined_table_sees_its_columns(app, svc, tmp_path):
    ids = svc.features(BUNDLED_ID).get_column("customer_id")
    path = tmp_path / "crm.csv"
    pl.DataFrame(
        {"Client": ids[:600], "Score (pts)": [float(i % 7) for i in range(600)]}
    ).write_csv(path)
    joined = _store(svc, path)
    svc.configure_table(joined, None, BUNDLED_ID)
    params = SegmentParams(features=("monetary", "Score (pts)"), k=2)
    explanation = svc.explanation(joined, ids[0], "segment", params=params)
    assert explanation.target == "segment" and explanation.customer_id == ids[0]
    assert {c.feature for c in explanation.contributions} == {"monetary", "Score (pts)"}
    with pytest.raises(DataError, match="not in the joined customer table"):
        svc.explanation(joined, ids[700], "segment", params=params)
