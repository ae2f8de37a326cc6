"""Callbacks called as plain functions, on the bundled data."""

import sys

import dash
import pytest
from dash._callback_context import context_value
from dash._utils import AttributeDict
from dash.exceptions import PreventUpdate

from analytics.datasets import BUNDLED_ID
from analytics.errors import ParameterError
from dashboard.errors import alert_props
from dashboard.service import SegmentParams


def page(name: str):
    module = next(
        p["module"] for p in dash.page_registry.values() if p["module"].endswith(f"pages.{name}")
    )
    return sys.modules[module]


def triggered(component_id: str | None, prop: str = "value"):
    inputs = [{"prop_id": f"{component_id}.{prop}", "value": None}] if component_id else []
    context_value.set(AttributeDict(triggered_inputs=inputs))


@pytest.fixture
def segments(app):
    return page("segments")


@pytest.fixture
def overview(app):
    return page("overview")


def test_overview_callbacks(overview):
    first, last, start, end = overview.init_dates(BUNDLED_ID)
    assert (str(start), str(end)) == ("2010-12-10", "2011-12-09")
    cards, trend, rfm, countries = overview.update_overview(str(start), str(end), BUNDLED_ID)
    assert len(cards.children) == 8
    assert "£7.98M" in str(cards)
    assert len(trend.data) == 2 and len(trend.data[0].x) == 13
    assert len(rfm.data[0].y) == 11
    assert countries.data[0].y[-1] == "United Kingdom"
    with pytest.raises(PreventUpdate):
        overview.update_overview(None, None, BUNDLED_ID)


def test_recluster_updates_everything(segments):
    out = segments.recluster(
        ["recency_days", "frequency", "monetary"],
        "log-standard",
        "kmeans",
        5,
        1.0,
        10,
        None,
        "3d",
        BUNDLED_ID,
    )
    current, metrics, pca, caption, personas, rows, columns, tests, test_columns, heatmap = out
    assert current["params"]["k"] == 5
    assert len(pca.data) == 5 and pca.data[0].type == "scatter3d"
    assert "Showing all 5,878 customers" in caption
    assert len(personas.children) == 5
    assert len(rows) == 5 and {c["id"] for c in columns} >= {
        "name",
        "customers",
        "revenue_share",
        "monetary_mean",
    }
    assert len(tests) == 9 and tests[0]["label"] == "Days since last purchase"
    assert len(heatmap.data[0].y) == 5
    two_d = segments.recluster(None, "robust", "gmm", 3, 1.0, 10, None, "2d", BUNDLED_ID)[2]
    assert two_d.data[0].type == "scattergl" and len(two_d.data) == 3


def test_recluster_dbscan_has_outliers(segments):
    out = segments.recluster(
        ["recency_days", "frequency", "monetary"],
        "log-standard",
        "dbscan",
        4,
        0.3,
        10,
        None,
        "3d",
        BUNDLED_ID,
    )
    names = [trace.name for trace in out[2].data]
    assert "Outliers" in names


def test_invalid_parameter_raises_user_error(segments):
    with pytest.raises(ParameterError) as info:
        segments.recluster(None, "log-standard", "dbscan", 4, 0, 10, None, "3d", BUNDLED_ID)
    assert alert_props(info.value) == {
        "children": "The 'eps' parameter must be a number in (0.0, 100.0]. Got 0.0 instead.",
        "color": "warning",
        "is_open": True,
    }
    assert alert_props(RuntimeError("boom"))["color"] == "danger"


def test_settings_restore_and_save(segments):
    saved = {
        "features": ["monetary"],
        "scaling": "robust",
        "algorithm": "gmm",
        "k": 6,
        "eps": 1.0,
        "min_samples": 10,
        "min_cluster_size": None,
        "view": "2d",
        "auto": False,
    }
    values = [[], "log-standard", "kmeans", 4, 1.0, 10, None, "3d", False]
    triggered(None)
    restored = segments.sync_settings(*values, saved)
    assert restored[:-1] == [saved[name] for name in segments.CONTROLS]
    triggered("segments-k")
    changed = segments.sync_settings(*values[:3], 7, *values[4:], saved)
    assert changed[-1]["k"] == 7 and all(v is dash.no_update for v in changed[:-1])


def test_box_download_and_apply(segments):
    current = {"dataset_id": BUNDLED_ID, "params": SegmentParams(k=4).to_dict()}
    box = segments.update_box("monetary", current)
    assert len(box.data) == 4
    download = segments.download_segments(1, current)
    lines = download["content"].splitlines()
    assert lines[0] == "customer_id,segment,segment_name" and len(lines) == 5_879
    token = {"recommended_k": 4}
    triggered("segments-sweep-apply", "n_clicks")
    assert segments.apply_k(1, token, False) == 4
    triggered("segments-sweep-token", "data")
    with pytest.raises(PreventUpdate):
        segments.apply_k(0, token, False)
    assert segments.apply_k(0, token, True) == 4


def test_show_sweep_reads_the_cached_result(segments, app):
    params = SegmentParams(features=("recency_days", "frequency", "monetary"))
    sweep = app.server.config["SEGMENTA_SERVICE"].sweep(BUNDLED_ID, params)
    is_open, figure, reason, label = segments.show_sweep(
        {"dataset_id": BUNDLED_ID, "params": params.to_dict(), "recommended_k": sweep.recommended_k}
    )
    assert is_open and label == f"Use k = {sweep.recommended_k}"
    assert len(figure.data) == 3 and reason.startswith(f"k={sweep.recommended_k}")


def test_churn_and_customer_pages(app):
    """Train once through the service (as the job does), then render both pages' callbacks."""
    churn, customer = page("churn"), page("customer")
    service = app.server.config["SEGMENTA_SERVICE"]
    token, need = churn.check_cache(BUNDLED_ID, 90)
    assert token is dash.no_update and need == {"dataset_id": BUNDLED_ID, "horizon": 90}
    service.predictions(BUNDLED_ID, 90)
    token, need = churn.check_cache(BUNDLED_ID, 90)
    assert token == {"dataset_id": BUNDLED_ID, "horizon": 90} and need is dash.no_update
    content = str(churn.render(token, 0.5))
    assert (
        "LightGBM (calibrated)" in content
        and "Loyal Champions" in content
        and "Recency baseline" in content
    )
    download = churn.download_predictions(1, token, 0.5)
    assert (
        download["content"].splitlines()[0]
        == "customer_id,churn_probability,predicted_clv,quadrant,action,value_at_risk"
    )
    assert customer.suggest("1234", None, BUNDLED_ID)[0] == {"label": "12346", "value": "12346"}
    profile = str(customer.show_customer("12347", BUNDLED_ID, None))
    assert (
        "Champions (545)" in profile
        and "Loyal Champions" in profile
        and "Last purchase 2 days ago" in profile
    )
    for target in ("churn", "clv", "segment"):
        assert service.explanation(BUNDLED_ID, "12347", target).contributions
    shown = str(
        customer.show_explanations(
            {
                "dataset_id": BUNDLED_ID,
                "customer_id": "12347",
                "params": SegmentParams().to_dict(),
                "outcome": {"churn": "ok", "clv": "ok", "segment": "ok"},
            }
        )
    )
    assert "probability of no purchase" in shown and "surrogate confidence" in shown


def test_unknown_customer_is_a_user_error(app):
    from analytics.errors import DataError

    with pytest.raises(DataError, match="No customer with id '99999' in this dataset"):
        page("customer").show_customer("99999", BUNDLED_ID, None)


def test_baskets_page_callbacks(app):
    baskets = page("baskets")
    service = app.server.config["SEGMENTA_SERVICE"]
    request, token, need = baskets.check_cache(
        0.02, 0.3, 1.0, "apriori", "all", None, None, None, 1, None, BUNDLED_ID, None
    )
    assert token is dash.no_update and need == request
    from dashboard.jobs import run_task

    outcome = run_task(service.settings, "rules", dataset_id=BUNDLED_ID, params=request["params"])
    assert outcome["rules"] > 0
    request, token, need = baskets.check_cache(
        0.02, 0.3, 1.0, "apriori", "all", None, None, None, 1, None, BUNDLED_ID, None
    )
    assert token == request and need is dash.no_update
    summary, data, columns, scatter, pairs, network, segment_block = baskets.render(token)
    assert "39,516 baskets" in str(summary) and "(Apriori)" in str(summary)
    assert len(data) == outcome["rules"] and data[0]["lift"] >= data[-1]["lift"]
    assert (
        len(scatter.data[0].x) == len(data) and len(pairs.data[0].y) > 0 and segment_block is None
    )
    offers = baskets.show_cross_sell("12347", token)
    assert offers.id == "baskets-cross-sell-table"
    download = baskets.download_rules(1, token)
    assert (
        download["content"].splitlines()[0]
        == "antecedents,consequents,support,confidence,lift,leverage,conviction"
    )
    options, value, _ = baskets.scope_choices("country", BUNDLED_ID, None)
    assert value == "United Kingdom" and len(options) == 43
    options, value, _ = baskets.scope_choices("segment", BUNDLED_ID, None)
    assert len(options) == 4 and value == "0"


def test_segment_scope_compares_with_all_baskets(app):
    baskets = page("baskets")
    service = app.server.config["SEGMENTA_SERVICE"]
    from dashboard.jobs import run_task

    request, _, need = baskets.check_cache(
        0.02, 0.3, 1.0, "fpgrowth", "segment", "1", None, None, 1, None, BUNDLED_ID, None
    )
    run_task(service.settings, "rules", dataset_id=BUNDLED_ID, params=need["params"])
    _, token, _ = baskets.check_cache(
        0.02, 0.3, 1.0, "fpgrowth", "segment", "1", None, None, 1, None, BUNDLED_ID, None
    )
    summary, *_, segment_block = baskets.render(token)
    assert "Much stronger in this segment" in str(segment_block)


def test_segment_surrogate_card(segments):
    card = segments.explain_segments(
        {"dataset_id": BUNDLED_ID, "params": SegmentParams(k=4).to_dict()}
    )
    text = str(card)
    assert "accuracy (3-fold cross-validation)" in text
    graph = card.children[1]
    assert len(graph.figure.data[0].y) == 9


def test_data_page_upload_callbacks(app):
    data = page("data")
    service = app.server.config["SEGMENTA_SERVICE"]
    dataset_id, columns = service.save_upload(
        b"Client;OrderedAt;Total\nA;31/12/2011;2,5\n", "shop.csv"
    )
    assert columns == ["Client", "OrderedAt", "Total"] and dataset_id.startswith("u-")
    result = {"dataset_id": dataset_id, "filename": "shop.csv", "columns": columns}
    pending, form = data.receive_upload(result)
    assert pending == result
    assert "3 columns found" in str(form)
    pending, form = data.receive_upload({"uploading": "shop.csv", "at": 1})
    assert pending is None and "Uploading shop.csv" in str(form)
    current = str(data.show_current(BUNDLED_ID))
    assert "1,044,847 rows read" in current and "exact duplicate rows" in current
    from analytics.errors import DataError

    with pytest.raises(DataError, match="script.py: unsupported file type"):
        data.receive_upload({"error": "script.py: unsupported file type. Upload a CSV."})
    with pytest.raises(DataError, match="unsupported file type"):
        service.save_upload(b"x", "script.py")


def test_basket_filters_are_applied_and_reported(app):
    baskets = page("baskets")
    service = app.server.config["SEGMENTA_SERVICE"]
    from dashboard.jobs import run_task

    _, _, need = baskets.check_cache(
        0.02, 0.3, 1.0, "apriori", "all", None, "2011-01-01", "2011-06-30", 20, 50, BUNDLED_ID, None
    )
    assert need["params"]["start"] == "2011-01-01" and need["params"]["max_basket_size"] == 50
    run_task(service.settings, "rules", dataset_id=BUNDLED_ID, params=need["params"])
    _, token, _ = baskets.check_cache(
        0.02, 0.3, 1.0, "apriori", "all", None, "2011-01-01", "2011-06-30", 20, 50, BUNDLED_ID, None
    )
    summary = str(baskets.render(token)[0])
    assert (
        "baskets over 50 items left out" in summary
        and "items in fewer than 20 baskets left out" in summary
    )
    with pytest.raises(
        ParameterError,
        match="The maximum items per basket must be a whole number of at least 1. Got 0 instead.",
    ):
        baskets.check_cache(
            0.02, 0.3, 1.0, "apriori", "all", None, None, None, 1, 0, BUNDLED_ID, None
        )
