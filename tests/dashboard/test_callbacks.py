"""Callbacks called as plain functions, on the bundled data."""

import datetime as dt
import sys

import dash
import polars as pl
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


def triggered(component_id: str | None, prop: str = "value") -> dict:
    """Pretend ``component_id.prop`` triggered the next callback; returns its ``set_props`` record."""
    inputs = [{"prop_id": f"{component_id}.{prop}", "value": None}] if component_id else []
    updated: dict = {}
    context_value.set(AttributeDict(triggered_inputs=inputs, updated_props=updated))
    return updated


@pytest.fixture
def segments(app):
    return page("segments")


@pytest.fixture
def overview(app):
    return page("overview")


def test_overview_callbacks(overview):
    triggered("dataset-id", "data")
    first, last, start, end, preset, cards, trend, rfm, countries = overview.update_overview(
        BUNDLED_ID, None, None, None
    )
    assert (start, end) == ("2010-12-10", "2011-12-09")
    assert len(cards.children) == 8
    assert "£7.98M" in str(cards)
    full, partial, line = trend.data
    assert (len(full.x), len(partial.x), len(line.x)) == (11, 2, 13)
    labels = [(a.text, a.xanchor) for a in trend.layout.annotations]
    assert labels == [("22 of 31 days", "left"), ("9 of 31 days", "right")]  # Dec 2010, Dec 2011
    assert partial.marker.pattern.shape == "/"
    # the axis spans the data's months only (it was Jul 2010 - May 2012), whole labels at both
    # ends, and the partial first and last months are starred
    axis = trend.layout.xaxis
    start, end = (dt.datetime.fromisoformat(str(v)[:19]) for v in axis.range)
    assert dt.datetime(2010, 11, 14) <= start < dt.datetime(2010, 12, 1)
    assert dt.datetime(2011, 12, 1) < end <= dt.datetime(2011, 12, 18)
    assert axis.ticktext[0] == "Dec<br>2010*" and axis.ticktext[-1] == "Dec<br>2011*"
    assert axis.ticktext[1] == "Jan<br>2011" and axis.ticktext[2] == "Feb"
    assert sum(t.endswith("*") for t in axis.ticktext) == 2
    assert len(rfm.data[0].y) == 11
    assert countries.data[0].y[-1] == "United Kingdom"


def test_overview_preset_sets_the_dates_and_editing_clears_it(overview):
    triggered("overview-preset")
    out = overview.update_overview(BUNDLED_ID, "2010-12-10", "2011-12-09", "qtd")
    assert out[2:5] == ("2011-10-01", "2011-12-09", dash.no_update)
    triggered("overview-dates", "start_date")
    out = overview.update_overview(BUNDLED_ID, "2011-11-01", "2011-12-09", "qtd")
    assert out[2:5] == ("2011-11-01", "2011-12-09", None)


def test_overview_error_opens_and_success_closes_its_alert(overview):
    updated = triggered("overview-preset")
    out = overview.update_overview(BUNDLED_ID, "2009-12-01", "2010-01-31", "last-year")
    assert out is dash.no_update
    alert = updated["overview-alert"]
    assert alert["is_open"] and alert["children"].startswith("Check “Period”: A year before")
    updated = triggered("overview-preset")
    overview.update_overview(BUNDLED_ID, None, None, "ytd")
    assert updated["overview-alert"] == {"is_open": False}


def test_recluster_draws_the_open_tab_and_each_tab_once(segments):
    """A change of settings draws the open tab; another tab is drawn when opened, once."""
    triggered("segments-k")
    features = ["recency_days", "frequency", "monetary"]
    args = (features, "log-standard", "kmeans", 5, 1.0, 10, None, "3d", "monetary")
    out = segments.recluster(*args, "map", BUNDLED_ID)
    (
        current,
        metrics,
        pca,
        caption,
        personas,
        rows,
        columns,
        tests,
        test_columns,
        heatmap,
        box,
        tree,
    ) = out
    assert current["params"]["k"] == 5 and current["view"] == "3d" and current["tab"] == "map"
    assert "5,878" in str(metrics)
    assert len(pca.data) == 5 and pca.data[0].type == "scatter3d"
    assert "Showing all 5,878 customers" in caption
    assert len(personas.children) == 5
    # the closed tabs are not drawn (nobody looks at them)
    assert all(
        v is dash.no_update for v in (rows, columns, tests, test_columns, heatmap, box, tree)
    )
    # the Profiles tab opened: its grids and heatmap, nothing else (same settings)
    triggered("segments-tabs", "active_tab")
    out = segments.recluster(*args, "profiles", BUNDLED_ID, None, None, current)
    current, metrics, pca, caption, personas, rows, columns, tests, test_columns, heatmap = out[:10]
    assert all(v is dash.no_update for v in (metrics, pca, caption, personas, out[10], out[11]))
    assert len(rows) == 5 and {c["field"] for c in columns} >= {
        "name",
        "customers",
        "revenue_share",
        "monetary_mean",
    }
    assert len(tests) == 9 and tests[0]["label"] == "Days since last purchase"
    p_column = next(c for c in test_columns if c["field"] == "p_value")
    assert "< 1e-300" in p_column["valueFormatter"]["function"]
    assert len(heatmap.data[0].y) == 5
    assert current["tab"] == "profiles" and set(current["drawn"]) == {"map", "profiles"}
    # the third tab
    out = segments.recluster(*args, "drivers", BUNDLED_ID, None, None, current)
    current, box, tree = out[0], out[10], out[11]
    assert all(v is dash.no_update for v in out[1:10])
    assert len(box.data) == 5
    assert "A decision tree of depth 4 on the clustered features" in str(tree)
    assert len(tree.children[1].figure.data[0].y) == 3
    # back to a tab already drawn with these settings: nothing is sent again
    out = segments.recluster(*args, "map", BUNDLED_ID, None, None, current)
    assert out[0]["tab"] == "map" and all(v is dash.no_update for v in out[1:])
    # new settings: every tab is stale again, the open one is drawn
    triggered("segments-k")
    out = segments.recluster(*args[:3], 4, *args[4:], "map", BUNDLED_ID, None, None, out[0])
    assert len(out[2].data) == 4 and out[0]["drawn"] == {"map": True}
    triggered("segments-view")
    two_d = segments.recluster(
        None, "robust", "gmm", 3, 1.0, 10, None, "2d", "monetary", "map", BUNDLED_ID
    )[2]
    assert two_d.data[0].type == "scattergl" and len(two_d.data) == 3
    # the legend sits below the x-axis title (it covered "PC1 (38%)" and the tick labels)
    from dashboard.figures.segments import AXIS_TITLE_PX

    margin = two_d.layout.margin
    plot_px = two_d.layout.height - margin.t - margin.b
    assert -two_d.layout.legend.y * plot_px >= AXIS_TITLE_PX
    assert margin.b >= AXIS_TITLE_PX + 20


def test_box_feature_change_redraws_only_the_box(segments):
    shown = {
        "dataset_id": BUNDLED_ID,
        "params": SegmentParams().to_dict(),
        "view": "3d",
        "drawn": {"map": True, "drivers": "monetary"},
    }
    args = (None, "log-standard", "kmeans", 4, 1.0, 10, None, "3d", "frequency")
    triggered("segments-box-feature")
    out = segments.recluster(*args, "drivers", BUNDLED_ID, None, None, shown)
    assert all(v is dash.no_update for v in out[1:10]) and out[11] is dash.no_update
    assert len(out[10].data) == 4 and out[0]["drawn"]["drivers"] == "frequency"
    # a box feature set with a new dataset (its own columns): the whole tab follows
    triggered("segments-box-feature")
    out = segments.recluster(*args, "drivers", BUNDLED_ID, None, None, {**shown, "dataset_id": "x"})
    assert out[0]["dataset_id"] == BUNDLED_ID and len(out[10].data) == 4
    assert out[11] is not dash.no_update and out[1] is not dash.no_update


def test_recluster_dbscan_has_outliers(segments):
    triggered("segments-algorithm")
    out = segments.recluster(
        ["recency_days", "frequency", "monetary"],
        "log-standard",
        "dbscan",
        4,
        0.3,
        10,
        None,
        "3d",
        "monetary",
        "map",
        BUNDLED_ID,
    )
    names = [trace.name for trace in out[2].data]
    assert "Outliers" in names


def test_invalid_parameter_opens_the_page_alert_naming_the_field(segments):
    updated = triggered("segments-eps")
    out = segments.recluster(
        None, "log-standard", "dbscan", 4, 0, 10, None, "3d", "monetary", "map", BUNDLED_ID
    )
    assert out is dash.no_update
    assert updated["segments-alert"] == {
        "children": "Check “DBSCAN radius (eps)”: The 'eps' parameter must be a number in "
        "(0.0, 100.0]. Got 0.0 instead.",
        "color": "warning",
        "is_open": True,
    }
    updated = triggered("segments-eps")
    segments.recluster(
        None, "log-standard", "dbscan", 4, 0.5, 10, None, "3d", "monetary", "map", BUNDLED_ID
    )
    assert updated["segments-alert"] == {"is_open": False}
    assert alert_props(RuntimeError("boom"))["color"] == "danger"


def test_unused_settings_neither_raise_nor_split_the_cache():
    from dashboard.segment_settings import params_from

    kmeans = params_from(None, "log-standard", "kmeans", 5, None, None, None)
    assert kmeans == params_from(None, "log-standard", "kmeans", 5, 3.0, 99, 40)
    with pytest.raises(ParameterError, match="'eps' parameter"):
        params_from(None, "log-standard", "dbscan", 5, None, 10, None)
    with pytest.raises(ParameterError, match="'k' parameter must be an int"):
        params_from(None, "log-standard", "kmeans", 4.5, None, None, None)


@pytest.mark.parametrize(
    ("query", "expected", "problem"),
    [
        ({}, {"k": 4, "algorithm": "kmeans"}, None),
        (
            {"k": "7", "algorithm": "gmm", "view": "2d"},
            {"k": 7, "algorithm": "gmm", "view": "2d"},
            None,
        ),
        ({"features": "monetary,frequency"}, {"features": ["monetary", "frequency"]}, None),
        (
            {"k": "abc"},
            {"k": 4},
            "The link's Number of segments (k) (abc): the page offers k as a whole number "
            "from 2 to 12.",
        ),
        ({"k": "40"}, {"k": 4}, "(40): the page offers k as a whole number from 2 to 12."),
        ({"k": "1e400"}, {"k": 4}, "(1e400): the page offers k as a whole number from 2 to 12."),
        ({"k": "4.5"}, {"k": 4}, "(4.5): the page offers k as a whole number from 2 to 12."),
        (
            {"features": ",,,"},
            {"features": []},
            "The link's Features to cluster on (,,,): names no feature; showing all features.",
        ),
        (
            {"algorithm": "magic"},
            {"algorithm": "kmeans"},
            "The link's Algorithm (magic): the page offers K-Means (k-means++), MiniBatch "
            "K-Means (large data), Gaussian mixture (probabilities), Agglomerative (Ward), "
            "DBSCAN (density, finds outliers) or HDBSCAN (density, finds outliers); showing the "
            "default, K-Means (k-means++).",
        ),
        (
            {"scaling": "zz"},
            {"scaling": "log-standard"},
            "The link's Scaling (zz): the page offers Log + standardise (default), Standardise or "
            "Robust (median/IQR); showing the default, Log + standardise (default).",
        ),
        (
            {"view": "4d"},
            {"view": "3d"},
            "The link's 3D / 2D view (4d): the page offers 3D or 2D; showing the default, 3D.",
        ),
        ({"features": "monetary,shoe_size"}, {"features": []}, "unknown feature(s) shoe_size"),
        ({"eps": "-1", "algorithm": "dbscan"}, {"eps": 1.0, "algorithm": "dbscan"}, "'eps'"),
        ({"tab": "drivers"}, {"tab": "drivers"}, None),
        (
            {"tab": "nonsense"},
            {"tab": "map"},
            "The link's Tab (nonsense): the page offers Map and personas, Profiles or What "
            "defines them; showing the default, Map and personas.",
        ),
    ],
)
def test_settings_from_the_url(query, expected, problem):
    from dashboard.segment_settings import settings_from_query

    values, problems = settings_from_query(query)
    assert {k: values[k] for k in expected} == expected
    if problem is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problem in problems[0]


def test_box_download_and_apply(segments):
    current = {"dataset_id": BUNDLED_ID, "params": SegmentParams(k=4).to_dict()}
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


def _find(component, component_id):
    """The component with this id in a Dash component tree (depth first), or None."""
    if getattr(component, "id", None) == component_id:
        return component
    children = getattr(component, "children", None)
    for child in children if isinstance(children, list | tuple) else [children]:
        if child is not None and not isinstance(child, str | int | float):
            found = _find(child, component_id)
            if found is not None:
                return found
    return None


def test_churn_and_customer_pages(app):
    """Train once through the service (as the job does), then render both pages' callbacks."""
    churn, customer = page("churn"), page("customer")
    service = app.server.config["SEGMENTA_SERVICE"]
    token, need = churn.check_cache(BUNDLED_ID, 90)
    assert token is dash.no_update and need == {"dataset_id": BUNDLED_ID, "horizon": 90}
    # a job that reports done while its models are not in this cache: said, not a blank page
    triggered("churn-token", "data")
    missing = churn.render({"dataset_id": BUNDLED_ID, "horizon": 90})
    assert missing.children == churn.TRAINED_BUT_MISSING and "Press Retrain" in missing.children
    service.predictions(BUNDLED_ID, 90)
    token, need = churn.check_cache(BUNDLED_ID, 90)
    assert token == {"dataset_id": BUNDLED_ID, "horizon": 90} and need is dash.no_update
    triggered("churn-token", "data")
    charts = str(churn.render(token))
    assert "CLV calibration by decile" in charts and "churn-shap-churn" in charts
    by_threshold, at_risk = churn.render_threshold(token, 0.5)
    content = str(by_threshold)
    assert (
        "LightGBM (calibrated)" in content
        and "Loyal Champions" in content
        and "Recency baseline" in content
    )
    assert "churn-at-risk-table" in str(at_risk)
    # a threshold change moves the counts, not the charts
    stricter = str(churn.render_threshold(token, 0.8)[0])
    assert "risk ≥ 80%" in stricter and "CLV calibration by decile" not in stricter
    download = churn.download_predictions(1, token, 0.5)
    assert (
        download["content"].splitlines()[0]
        == "customer_id,churn_probability,predicted_clv,clv_low,clv_high,quadrant,action,"
        "revenue_at_risk,value_at_risk"
    )
    assert customer.suggest("1234", None, BUNDLED_ID)[0] == {"label": "12346", "value": "12346"}
    triggered("customer-search")
    profile = str(customer.show_customer("12347", BUNDLED_ID, None))
    assert (
        "Champions (545)" in profile
        and "Loyal Champions" in profile
        and "Last purchase 2 days ago" in profile
    )
    # the two risks are labelled with model and horizon, and a sentence built from both numbers
    # says whether they agree (12347: BG/NBD "Low", the churn model its own figure)
    assert "Churn risk: no order in 90 d (churn model)" in profile
    # Top products sits in a ~400 px card at 1400 px: its columns' minimum widths must fit it
    # (the Spend column was cut off behind a scrollbar)
    products = _find(customer.show_customer("12347", BUNDLED_ID, None), "customer-products-table")
    assert sum(c["minWidth"] for c in products.columnDefs) <= 380
    assert "07 Dec 2011 (2 days ago)" in profile
    from analytics.alive import compare_risks
    from dashboard.components.alive import show_alive

    facts, _ = show_alive("12347", BUNDLED_ID)
    shown = str(facts)
    alive_row = (
        service.alive(BUNDLED_ID).table.filter(pl.col("customer_id") == "12347").row(0, named=True)
    )
    churn_p = service.cached_predictions(BUNDLED_ID, 90).table.filter(
        pl.col("customer_id") == "12347"
    )["churn_probability"][0]
    assert compare_risks(alive_row["p_alive"], churn_p, 90) in shown
    assert "Dropout risk now (BG/NBD)" in shown and "the last on 07 Dec 2011" in shown
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


def test_unknown_customer_opens_the_customer_alert(app):
    updated = triggered("customer-search")
    assert page("customer").show_customer("99999", BUNDLED_ID, None) is dash.no_update
    alert = updated["customer-alert"]
    assert alert["is_open"] and "No customer with id '99999' in this dataset" in alert["children"]
    updated = triggered("customer-search")
    page("customer").show_customer("12347", BUNDLED_ID, None)
    assert updated["customer-alert"] == {"is_open": False}


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
    # the seven rule columns fit the ~830 px card at 1400 px without sideways scrolling
    assert len(columns) == 7 and sum(c["minWidth"] for c in columns) <= 800
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


def test_a_mining_job_for_settings_changed_since_is_not_shown(app):
    # a mining job (Apriori) still runs when the user switches to settings whose rules are cached
    # (FP-Growth, shown at once); when the job ends its rules must not replace the shown ones
    baskets = page("baskets")
    service = app.server.config["SEGMENTA_SERVICE"]
    from dashboard.jobs import run_task

    context_value.set(AttributeDict(updated_props={}, triggered_inputs=[]))
    _, _, apriori = baskets.check_cache(
        0.03, 0.3, 1.0, "apriori", "all", None, None, None, 1, None, BUNDLED_ID, None
    )
    fpgrowth, _, need = baskets.check_cache(
        0.03, 0.3, 1.0, "fpgrowth", "all", None, None, None, 1, None, BUNDLED_ID, None
    )
    for request in (apriori, need):
        run_task(service.settings, "rules", dataset_id=BUNDLED_ID, params=request["params"])
    ended = {**apriori, "session": "s"}
    with pytest.raises(PreventUpdate):
        baskets.render(ended, fpgrowth)
    with pytest.raises(PreventUpdate):  # nor its error
        baskets.render({**ended, "error": "Mining stopped."}, fpgrowth)
    assert "(Apriori)" in str(baskets.render(ended, apriori)[0])
    assert "(FP-Growth)" in str(baskets.render({**fpgrowth, "session": "s"}, fpgrowth)[0])


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


def test_data_page_upload_callbacks(app):
    data = page("data")
    triggered("data-upload-result", "data")
    service = app.server.config["SEGMENTA_SERVICE"]
    dataset_id, columns = service.save_upload(
        b"Client;OrderedAt;Total\nA;31/12/2011;2,5\n", "shop.csv"
    )
    assert columns == ["Client", "OrderedAt", "Total"] and dataset_id.startswith("u-")
    result = {"dataset_id": dataset_id, "filename": "shop.csv", "columns": columns}
    pending, form, button = data.receive_upload(result)
    assert pending == result and button == {}  # the Load button shows with the column form
    assert "3 columns found" in str(form)
    pending, form, button = data.receive_upload({"uploading": "shop.csv", "at": 1})
    assert pending is None and "Uploading shop.csv" in str(form)
    assert button == {"display": "none"}
    current = str(data.show_current(BUNDLED_ID))
    assert "1,044,847 rows read" in current and "exact duplicate rows" in current
    from analytics.errors import DataError

    updated = triggered("data-upload-result", "data")
    refused = data.receive_upload({"error": "script.py: unsupported file type. Upload a CSV."})
    assert refused is dash.no_update
    assert "script.py: unsupported file type" in updated["data-upload-alert"]["children"]
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
        "baskets over 50 products left out" in summary
        and "products in fewer than 20 baskets left out" in summary
    )
    context_value.set(AttributeDict(updated_props={}, triggered_inputs=[]))
    out = baskets.check_cache(
        0.02, 0.3, 1.0, "apriori", "all", None, None, None, 1, 0, BUNDLED_ID, None
    )
    assert out is dash.no_update
    # the page's alert says why, and the charts no longer show rules mined for other settings
    shown = context_value.get().updated_props
    assert shown["baskets-alert"]["is_open"] and (
        "The maximum items per basket must be a whole number of at least 1. Got 0 instead."
        in shown["baskets-alert"]["children"]
    )
    assert shown["baskets-network"]["figure"].layout.annotations[0].text == (
        "No rules: The maximum items per basket must be a whole number of at least 1"
    )
    assert shown["baskets-rules-table"] == {"rowData": []}


def test_failed_mining_replaces_the_waiting_charts(app):
    baskets = page("baskets")
    token = {
        "dataset_id": BUNDLED_ID,
        "params": {},
        "error": "This log has no product column. Map one.",
    }
    context_value.set(AttributeDict(updated_props={}, triggered_inputs=[]))
    assert baskets.render(token) is dash.no_update
    shown = context_value.get().updated_props
    assert shown["baskets-alert"]["children"] == token["error"]
    assert shown["baskets-summary"] == {"children": None}
    assert shown["baskets-rules-table"] == {"rowData": []}
    for figure_id in ("baskets-scatter", "baskets-pairs", "baskets-network"):
        assert shown[figure_id]["figure"].layout.annotations[0].text == (
            "No rules: This log has no product column"
        )


def test_overview_link_outside_the_data_shows_the_default_and_says_why(overview):
    updated = triggered(None)
    out = overview.update_overview(BUNDLED_ID, "1990-01-01", "1990-02-01", None)
    assert out[2:4] == ("2010-12-10", "2011-12-09")
    alert = updated["overview-link-alert"]
    assert alert["is_open"] and alert["children"].startswith(
        "01 Jan 1990 – 01 Feb 1990 has no data: this log runs from 01 Dec 2009 to 09 Dec 2011."
    )
    # picked by hand, it is an error on the page's own alert and nothing is redrawn
    updated = triggered("overview-dates", "end_date")
    assert overview.update_overview(BUNDLED_ID, "2030-01-01", "2030-02-01", None) is dash.no_update
    assert "has no data" in updated["overview-alert"]["children"]


def test_overview_reversed_link_is_named(overview):
    start, end, problems = overview._query_dates({"start": "2011-03-31", "end": "2011-01-01"})
    assert (start, end) == (None, None)
    assert problems == [
        "The link's period ends (2011-01-01) before it starts (2011-03-31); showing the last 12 "
        "months instead."
    ]


def test_recluster_sends_grid_columns_only_when_they_change(segments):
    """A new k keeps the grids' columns (AG Grid rebuilds itself on any new columnDefs)."""
    args = (["recency_days", "frequency", "monetary"], "log-standard", "kmeans")
    tail = (1.0, 10, None, "3d", "monetary", "profiles", BUNDLED_ID)
    triggered("segments-k")
    first = segments.recluster(*args, 5, *tail)
    shown_profile, shown_tests = first[6], first[8]
    again = segments.recluster(*args, 6, *tail, shown_profile, shown_tests)
    assert again[6] is dash.no_update and again[8] is dash.no_update
    assert len(again[5]) == 6  # the rows do change
    # columns the page does not show yet (first load, or after a failed first call) are sent
    assert segments.recluster(*args, 6, *tail, None, shown_tests)[6] == shown_profile


def test_basket_filter_notes_say_what_each_filter_left_out(app):
    """A cap of 1 product left out 36,308 baskets and the 3,648 products found only in them;
    those were reported as "in fewer than 1 baskets", which no product can be."""
    from types import SimpleNamespace

    baskets = page("baskets")
    built = SimpleNamespace(capped_baskets=36_308, capped_items=3_648, rare_items=0)
    assert baskets.filter_notes(built, 1, 1) == [
        "36,308 baskets over 1 product left out, with 3,648 products found only in them"
    ]
    built = SimpleNamespace(capped_baskets=1, capped_items=0, rare_items=1)
    assert baskets.filter_notes(built, 50, 20) == [
        "1 basket over 50 products left out",
        "1 product in fewer than 20 baskets left out",
    ]
