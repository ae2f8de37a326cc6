"""Segment explorer: re-cluster on chosen features, compare segments, find the best k."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import polars as pl
from dash import Input, Output, State, callback, ctx, dash_table, dcc, html, no_update
from dash.dash_table.Format import Format, Group, Scheme
from dash.exceptions import PreventUpdate

from analytics.export import to_csv
from analytics.features import FEATURES
from analytics.profiles import box_stats
from analytics.segmentation import ALGORITHMS, K_ALGORITHMS
from dashboard.app import service, settings
from dashboard.components.cards import create_persona_card
from dashboard.components.shell import create_card, create_job_status
from dashboard.components.tables import FONT, HEADER_STYLE, fixed, money, num, percent
from dashboard.errors import job_errors
from dashboard.figures import (
    box_figure,
    empty_figure,
    heatmap_figure,
    importance_figure,
    pca_figure,
    segment_color,
    sweep_figure,
)
from dashboard.formatting import fmt_percent
from dashboard.jobs import run_task
from dashboard.segment_settings import DEFAULTS, create_settings_store, params_from
from dashboard.service import SegmentParams

dash.register_page(
    __name__, path="/segments", name="Segments", title="Segments · Segmenta", order=1
)

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
#: Controls whose values are the page settings, saved in session storage across reloads.
CONTROLS = {
    "features": ("segments-features", "value"),
    "scaling": ("segments-scaling", "value"),
    "algorithm": ("segments-algorithm", "value"),
    "k": ("segments-k", "value"),
    "eps": ("segments-eps", "value"),
    "min_samples": ("segments-min-samples", "value"),
    "min_cluster_size": ("segments-min-cluster-size", "value"),
    "view": ("segments-view", "value"),
    "auto": ("segments-auto-k", "value"),
}


def _label(text: str, target: str | None = None):
    return dbc.Label(text, html_for=target, className="control-label")


def _number_input(component_id: str, value: float | None) -> dcc.Input:
    """A free number box: out-of-range values reach the analytics layer, which explains them."""
    return dcc.Input(
        id=component_id,
        type="number",
        step="any",
        value=value,
        debounce=True,
        className="form-control mb-2",
    )


def _controls() -> dbc.Card:
    return dbc.Card(
        dbc.CardBody(
            [
                _label("Features to cluster on", "segments-features"),
                dcc.Dropdown(
                    id="segments-features",
                    options=[{"label": label, "value": name} for name, label in FEATURES.items()],
                    value=DEFAULTS["features"],
                    multi=True,
                    placeholder="All available features",
                    className="mb-3",
                ),
                _label("Scaling", "segments-scaling"),
                dcc.Dropdown(
                    id="segments-scaling",
                    options=[{"label": v, "value": k} for k, v in SCALING_LABELS.items()],
                    value=DEFAULTS["scaling"],
                    clearable=False,
                    className="mb-3",
                ),
                _label("Algorithm", "segments-algorithm"),
                dcc.Dropdown(
                    id="segments-algorithm",
                    options=[{"label": ALGORITHM_LABELS[a], "value": a} for a in ALGORITHMS],
                    value=DEFAULTS["algorithm"],
                    clearable=False,
                    className="mb-3",
                ),
                html.Div(
                    [
                        _label("Number of segments (k)", "segments-k"),
                        dcc.Slider(
                            id="segments-k",
                            min=2,
                            max=12,
                            step=1,
                            value=DEFAULTS["k"],
                            marks={k: str(k) for k in range(2, 13)},
                        ),
                        dbc.Switch(
                            id="segments-auto-k",
                            label="Auto: find the best k and use it",
                            value=False,
                            className="mt-2",
                        ),
                    ],
                    id="segments-k-block",
                    className="mb-2",
                ),
                dbc.Collapse(
                    [
                        _label("DBSCAN radius (eps, scaled units)", "segments-eps"),
                        _number_input("segments-eps", DEFAULTS["eps"]),
                        _label("DBSCAN core size (min samples)", "segments-min-samples"),
                        _number_input("segments-min-samples", DEFAULTS["min_samples"]),
                        _label(
                            "HDBSCAN smallest segment (blank = 1% of customers)",
                            "segments-min-cluster-size",
                        ),
                        _number_input("segments-min-cluster-size", None),
                    ],
                    id="segments-density-params",
                    is_open=False,
                ),
                html.Hr(),
                dbc.ButtonGroup(
                    [
                        dbc.Button(
                            "Find best k", id="segments-sweep-button", color="primary", n_clicks=0
                        ),
                        dbc.Button(
                            "Cancel",
                            id="segments-sweep-cancel",
                            color="secondary",
                            outline=True,
                            disabled=True,
                            n_clicks=0,
                        ),
                    ],
                    className="w-100 mb-2",
                ),
                create_job_status("segments-sweep"),
                html.Hr(),
                dbc.Button(
                    "Download segments (CSV)",
                    id="segments-download-button",
                    color="success",
                    outline=True,
                    className="w-100",
                ),
                dcc.Download(id="segments-download"),
            ]
        ),
        className="shadow-sm mb-3",
    )


def layout(**_query) -> html.Div:
    table_style = {
        "style_table": {"overflowX": "auto"},
        "style_cell": {
            "fontFamily": FONT,
            "fontSize": 13,
            "padding": "6px",
            "whiteSpace": "normal",
            "height": "auto",
            "minWidth": "80px",
        },
        "style_cell_conditional": [
            {"if": {"column_id": c}, "textAlign": "left", "minWidth": "150px"}
            for c in ("name", "label", "effect")
        ],
        "style_header": HEADER_STYLE,
        "sort_action": "native",
    }
    return html.Div(
        [
            create_settings_store(),
            dcc.Store(id="segments-current"),
            dcc.Store(id="segments-sweep-token"),
            html.H3("Segment explorer", className="page-title mb-3"),
            dbc.Row(
                [
                    dbc.Col(_controls(), lg=3),
                    dbc.Col(
                        [
                            html.Div(id="segments-metrics", className="mb-3"),
                            dbc.Collapse(
                                create_card(
                                    "Best number of segments",
                                    [
                                        dcc.Graph(
                                            id="segments-sweep-graph", config={"displaylogo": False}
                                        ),
                                        html.P(id="segments-sweep-reason", className="small mb-2"),
                                        dbc.Button(
                                            id="segments-sweep-apply",
                                            color="warning",
                                            size="sm",
                                            n_clicks=0,
                                        ),
                                    ],
                                    subtitle="Silhouette is computed on a random sample of 3,000 customers",
                                ),
                                id="segments-sweep-card",
                                is_open=False,
                            ),
                            create_card(
                                "Customers in PCA space",
                                [
                                    dbc.RadioItems(
                                        id="segments-view",
                                        options=[
                                            {"label": "3D", "value": "3d"},
                                            {"label": "2D (faster for large data)", "value": "2d"},
                                        ],
                                        value=DEFAULTS["view"],
                                        inline=True,
                                        className="mb-2",
                                    ),
                                    dcc.Loading(
                                        dcc.Graph(id="segments-pca", config={"displaylogo": False}),
                                        type="dot",
                                    ),
                                    html.Small(id="segments-pca-caption", className="text-muted"),
                                ],
                            ),
                            create_card("Personas", html.Div(id="segments-personas")),
                            create_card(
                                "Segment profiles",
                                [
                                    dash_table.DataTable(
                                        id="segments-profile-table", **table_style
                                    ),
                                    html.H6(
                                        "Do the segments differ? (Kruskal-Wallis per feature)",
                                        className="mt-3",
                                    ),
                                    dash_table.DataTable(id="segments-tests-table", **table_style),
                                ],
                                subtitle="Means per segment; ratios to the average customer are in the heatmap",
                            ),
                            create_card(
                                "Feature by segment",
                                dcc.Graph(id="segments-heatmap", config={"displaylogo": False}),
                                subtitle="Segment mean ÷ average customer",
                            ),
                            create_card(
                                "What defines the segments",
                                dcc.Loading(html.Div(id="segments-surrogate"), type="dot"),
                                subtitle="A LightGBM classifier trained to predict each customer's segment from the features",
                            ),
                            create_card(
                                "Distribution by segment",
                                [
                                    dcc.Dropdown(
                                        id="segments-box-feature",
                                        value="monetary",
                                        clearable=False,
                                        className="mb-2",
                                        options=[
                                            {"label": label, "value": name}
                                            for name, label in FEATURES.items()
                                        ],
                                    ),
                                    dcc.Graph(id="segments-box", config={"displaylogo": False}),
                                ],
                            ),
                        ],
                        lg=9,
                    ),
                ]
            ),
        ]
    )


@callback(
    [Output(*target, allow_duplicate=True) for target in CONTROLS.values()],
    Output("segments-settings", "data"),
    [Input(*target) for target in CONTROLS.values()],
    State("segments-settings", "data"),
    prevent_initial_call="initial_duplicate",
)
def sync_settings(*args):
    """Restore saved settings on page load; save them on every change (survives a reload)."""
    *values, saved = args
    current = dict(zip(CONTROLS, values, strict=True))
    if ctx.triggered_id is None and saved:
        return [saved.get(name, no_update) for name in CONTROLS] + [no_update]
    return [no_update] * len(CONTROLS) + [current]


@callback(
    Output("segments-density-params", "is_open"),
    Output("segments-k-block", "style"),
    Input("segments-algorithm", "value"),
)
def toggle_algorithm_params(algorithm: str):
    density = algorithm in ("dbscan", "hdbscan")
    return density, {"opacity": 0.4} if density else {}


def _metrics_badges(result) -> html.Div:
    m = result.metrics
    items = [("Segments", f"{m.n_segments}"), ("Customers", f"{len(result.assignments):,}")]
    if m.silhouette is not None:
        items += [
            (
                "Silhouette",
                f"{m.silhouette:.3f}",
                f"on a random sample of {m.silhouette_sample_size:,} customers",
            ),
            ("Davies-Bouldin", f"{m.davies_bouldin:.3f}", "lower is better"),
            ("Calinski-Harabasz", f"{m.calinski_harabasz:,.0f}", "higher is better"),
        ]
    if m.outlier_share:
        items.append(("Outliers", fmt_percent(m.outlier_share)))
    return dbc.Row(
        [
            dbc.Col(
                dbc.Card(
                    dbc.CardBody(
                        [
                            html.Div(item[0], className="small text-muted"),
                            html.Div(item[1], className="fs-5 fw-bold"),
                            html.Div(item[2], className="small text-muted")
                            if len(item) > 2
                            else None,
                        ],
                        className="py-2",
                    ),
                    className="shadow-sm h-100",
                ),
                xs=6,
                md=4,
                xl=2,
            )
            for item in items
        ],
        className="g-2",
        id="segments-metrics-row",
    )


def _profile_table(result) -> tuple[list[dict], list[dict]]:
    table = result.profile.table.sort("segment")
    columns = [
        {"name": "Segment", "id": "name"},
        num("Customers", "customers", Format(group=Group.yes)),
        num("Share", "share", percent(1)),
        num("Revenue", "revenue", money(settings().currency)),
        num("Revenue share", "revenue_share", percent(1)),
    ]
    feature_names = [f for f in FEATURES if f"{f}_mean" in table.columns]
    for f in feature_names:
        columns.append(
            {
                "name": f"{FEATURES[f]} (mean)",
                "id": f"{f}_mean",
                "type": "numeric",
                "format": Format(precision=2, scheme=Scheme.fixed, group=Group.yes),
            }
        )
    keep = [c["id"] for c in columns]
    return table.select(keep).to_dicts(), columns


def _tests_table(result) -> tuple[list[dict], list[dict]]:
    tests = result.profile.tests.select(
        "label", "h_statistic", "p_value", "epsilon_squared", "effect"
    )
    columns = [
        {"name": "Feature", "id": "label"},
        num("H", "h_statistic", fixed(1, grouped=True)),
        num("p-value", "p_value", Format(precision=2, scheme=Scheme.exponent)),
        num("Effect size (ε²)", "epsilon_squared", fixed(3)),
        {"name": "Effect", "id": "effect"},
    ]
    return tests.to_dicts(), columns


@callback(
    Output("segments-current", "data"),
    Output("segments-metrics", "children"),
    Output("segments-pca", "figure"),
    Output("segments-pca-caption", "children"),
    Output("segments-personas", "children"),
    Output("segments-profile-table", "data"),
    Output("segments-profile-table", "columns"),
    Output("segments-tests-table", "data"),
    Output("segments-tests-table", "columns"),
    Output("segments-heatmap", "figure"),
    Input("segments-features", "value"),
    Input("segments-scaling", "value"),
    Input("segments-algorithm", "value"),
    Input("segments-k", "value"),
    Input("segments-eps", "value"),
    Input("segments-min-samples", "value"),
    Input("segments-min-cluster-size", "value"),
    Input("segments-view", "value"),
    Input("dataset-id", "data"),
)
def recluster(
    features, scaling, algorithm, k, eps, min_samples, min_cluster_size, view, dataset_id
):
    """Re-cluster with the chosen settings (cached per dataset and settings) and redraw."""
    params = params_from(features, scaling, algorithm, k, eps, min_samples, min_cluster_size)
    svc = service()
    result = svc.segmentation(dataset_id, params)
    currency = settings().currency
    customer_features = svc.features(dataset_id)
    pca, caption = pca_figure(result, customer_features, currency, dims=3 if view == "3d" else 2)
    revenue = dict(
        zip(
            result.profile.table["segment"].to_list(),
            result.profile.table["revenue"].to_list(),
            strict=True,
        )
    )
    personas = dbc.Row(
        [
            dbc.Col(
                create_persona_card(p, currency, segment_color(p.segment), revenue[p.segment]),
                md=6,
                xl=4,
                className="mb-3",
            )
            for p in sorted(result.profile.personas, key=lambda p: p.segment)
        ],
        className="g-3",
    )
    profile_rows, profile_columns = _profile_table(result)
    test_rows, test_columns = _tests_table(result)
    return (
        {"dataset_id": dataset_id, "params": params.to_dict()},
        _metrics_badges(result),
        pca,
        caption,
        personas,
        profile_rows,
        profile_columns,
        test_rows,
        test_columns,
        heatmap_figure(
            result.profile.table,
            [f for f in FEATURES if f"{f}_ratio" in result.profile.table.columns],
        ),
    )


@callback(
    Output("segments-box", "figure"),
    Input("segments-box-feature", "value"),
    Input("segments-current", "data"),
)
def update_box(feature: str, current: dict | None):
    if not current:
        raise PreventUpdate
    svc = service()
    result = svc.segmentation(current["dataset_id"], SegmentParams.from_dict(current["params"]))
    features = svc.features(current["dataset_id"])
    if features.get_column(feature).null_count() == features.height:
        return empty_figure(f"{FEATURES[feature]} is not available for this dataset")
    return box_figure(box_stats(features, result.assignments, feature), FEATURES[feature])


@callback(
    Output("segments-sweep-token", "data"),
    Input("segments-sweep-button", "n_clicks"),
    Input("segments-auto-k", "value"),
    State("session-id", "data"),
    State("dataset-id", "data"),
    State("segments-features", "value"),
    State("segments-scaling", "value"),
    State("segments-algorithm", "value"),
    background=True,
    progress=[
        Output("segments-sweep-progress", "value"),
        Output("segments-sweep-progress-text", "children"),
    ],
    running=[
        (Output("segments-sweep-button", "disabled"), True, False),
        (Output("segments-sweep-cancel", "disabled"), False, True),
        (Output("segments-sweep-status", "style"), {"display": "block"}, {"display": "none"}),
        (Output("segments-features", "disabled"), True, False),
        (Output("segments-scaling", "disabled"), True, False),
        (Output("segments-algorithm", "disabled"), True, False),
        (Output("segments-k", "disabled"), True, False),
    ],
    cancel=[Input("segments-sweep-cancel", "n_clicks")],
    prevent_initial_call=True,
)
@job_errors
def find_best_k(set_progress, n_clicks, auto, session_id, dataset_id, features, scaling, algorithm):
    """Background job: sweep k = 2..10 in a fresh process, reporting progress after each k."""
    if ctx.triggered_id == "segments-auto-k" and not auto:
        raise PreventUpdate
    set_progress((0, "Starting…"))
    sweep_algorithm = algorithm if algorithm in K_ALGORITHMS else "kmeans"
    params = params_from(features, scaling, sweep_algorithm, DEFAULTS["k"], None, None, None)
    result = run_task(
        settings(),
        "sweep",
        progress=lambda done, total, text: set_progress((round(100 * done / total), text)),
        dataset_id=dataset_id,
        params=params.to_dict(),
    )
    return {"dataset_id": dataset_id, "params": params.to_dict(), "session": session_id, **result}


@callback(
    Output("segments-sweep-card", "is_open"),
    Output("segments-sweep-graph", "figure"),
    Output("segments-sweep-reason", "children"),
    Output("segments-sweep-apply", "children"),
    Input("segments-sweep-token", "data"),
)
def show_sweep(token: dict | None):
    if not token:
        raise PreventUpdate
    sweep = service().sweep(token["dataset_id"], SegmentParams.from_dict(token["params"]))
    return (
        True,
        sweep_figure(sweep.table, sweep.recommended_k, sweep.elbow_k),
        sweep.reason,
        f"Use k = {sweep.recommended_k}",
    )


@callback(
    Output("segments-k", "value", allow_duplicate=True),
    Input("segments-sweep-apply", "n_clicks"),
    Input("segments-sweep-token", "data"),
    State("segments-auto-k", "value"),
    prevent_initial_call=True,
)
def apply_k(n_clicks: int, token: dict | None, auto: bool):
    """One click (or auto mode) applies the recommended k."""
    if (
        not token
        or (ctx.triggered_id == "segments-sweep-token" and not auto)
        or (ctx.triggered_id == "segments-sweep-apply" and not n_clicks)
    ):
        raise PreventUpdate
    return token["recommended_k"]


@callback(
    Output("segments-download", "data"),
    Input("segments-download-button", "n_clicks"),
    State("segments-current", "data"),
    prevent_initial_call=True,
)
def download_segments(n_clicks: int, current: dict | None):
    """customer_id, segment, segment_name (and probability for GMM) as CSV for a CRM."""
    if not current:
        raise PreventUpdate
    result = service().segmentation(
        current["dataset_id"], SegmentParams.from_dict(current["params"])
    )
    frame: pl.DataFrame = result.assignments
    return {"content": to_csv(frame), "filename": "segments.csv", "type": "text/csv"}


@callback(Output("segments-surrogate", "children"), Input("segments-current", "data"))
def explain_segments(current: dict | None):
    """Global importance from the segment surrogate, with its cross-validated accuracy."""
    if not current:
        raise PreventUpdate
    params = SegmentParams.from_dict(current["params"])
    surrogate = service().surrogate(current["dataset_id"], params)
    return html.Div(
        [
            html.P(
                f"The surrogate tells the segments apart with {surrogate.accuracy_:.1%} accuracy "
                "(3-fold cross-validation); the bars are each feature's share of its gain.",
                className="small mb-1",
                id="segments-surrogate-accuracy",
            ),
            dcc.Graph(
                figure=importance_figure(surrogate.importance(), FEATURES),
                config={"displaylogo": False},
            ),
        ]
    )
