"""Segment explorer: re-cluster on chosen features, compare segments, find the best k."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import polars as pl
from dash import (
    Input,
    Output,
    State,
    callback,
    clientside_callback,
    ctx,
    dcc,
    html,
    no_update,
    set_props,
)
from dash.exceptions import PreventUpdate

from analytics.customer_table import levels
from analytics.export import to_csv
from analytics.features import FEATURES
from analytics.profiles import box_stats
from analytics.segmentation import ALGORITHMS, K_ALGORITHMS
from dashboard.app import service, settings
from dashboard.background import create_job_controls, job_callback
from dashboard.components.cards import create_persona_card
from dashboard.components.grid import create_grid
from dashboard.components.shell import create_card
from dashboard.components.tables import count, fixed, money, num, p_value, percent, text
from dashboard.errors import create_alert, reports_to
from dashboard.figures.common import GRAPH_CONFIG, empty_figure, importance_figure, segment_color
from dashboard.figures.segments import box_figure, heatmap_figure, pca_figure, sweep_figure
from dashboard.formatting import fmt_percent
from dashboard.jobs import run_task
from dashboard.segment_settings import (
    ALGORITHM_LABELS,
    DEFAULTS,
    FIELDS,
    SCALING_LABELS,
    TABS,
    create_settings_store,
    params_from,
    settings_from_query,
)
from dashboard.service import SegmentParams

dash.register_page(
    __name__, path="/segments", name="Segments", title="Segments · Segmenta", order=1
)

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
    "tab": ("segments-tabs", "active_tab"),
    "auto": ("segments-auto-k", "value"),
}
#: The controls restored from the session (the auto-k switch is not: it starts a job).
CONTROL_ORDER = (
    "features",
    "scaling",
    "algorithm",
    "k",
    "eps",
    "min_samples",
    "min_cluster_size",
    "view",
    "tab",
)


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


def _controls(values: dict) -> dbc.Card:
    return dbc.Card(
        dbc.CardBody(
            [
                _label("Features to cluster on", "segments-features"),
                dcc.Dropdown(
                    id="segments-features",
                    options=[{"label": label, "value": name} for name, label in FEATURES.items()],
                    value=values["features"],
                    multi=True,
                    placeholder="All available features",
                    className="mb-1",
                ),
                html.Div(id="segments-features-note", className="form-text mb-3"),
                _label("Scaling", "segments-scaling"),
                dcc.Dropdown(
                    id="segments-scaling",
                    options=[{"label": v, "value": k} for k, v in SCALING_LABELS.items()],
                    value=values["scaling"],
                    clearable=False,
                    className="mb-3",
                ),
                _label("Algorithm", "segments-algorithm"),
                dcc.Dropdown(
                    id="segments-algorithm",
                    options=[{"label": ALGORITHM_LABELS[a], "value": a} for a in ALGORITHMS],
                    value=values["algorithm"],
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
                            value=values["k"],
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
                        _number_input("segments-eps", values["eps"]),
                        _label("DBSCAN core size (min samples)", "segments-min-samples"),
                        _number_input("segments-min-samples", values["min_samples"]),
                        _label(
                            "HDBSCAN smallest segment (blank = 1% of customers)",
                            "segments-min-cluster-size",
                        ),
                        _number_input("segments-min-cluster-size", values["min_cluster_size"]),
                    ],
                    id="segments-density-params",
                    is_open=values["algorithm"] in ("dbscan", "hdbscan"),
                ),
                html.Hr(),
                create_job_controls("segments-sweep", "Find best k"),
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


def _map_tab(values: dict) -> list:
    return [
        create_card(
            "Customers in PCA space",
            [
                dbc.RadioItems(
                    id="segments-view",
                    options=[
                        {"label": "3D", "value": "3d"},
                        {"label": "2D (faster for large data)", "value": "2d"},
                    ],
                    value=values["view"],
                    inline=True,
                    className="mb-2",
                ),
                dcc.Graph(id="segments-pca", config=GRAPH_CONFIG),
                html.Small(id="segments-pca-caption", className="text-muted"),
            ],
        ),
        create_card("Personas", html.Div(id="segments-personas")),
    ]


def _profiles_tab() -> list:
    return [
        create_card(
            "Feature by segment",
            dcc.Graph(id="segments-heatmap", config=GRAPH_CONFIG),
            subtitle="Segment mean ÷ average customer",
        ),
        create_card(
            "Segment profiles",
            [
                create_grid("segments-profile-table", export_name="segments.csv"),
                html.H6("Do the segments differ? (Kruskal-Wallis per feature)", className="mt-3"),
                create_grid("segments-tests-table"),
            ],
            subtitle="Means per segment; ratios to the average customer are in the heatmap",
        ),
    ]


def _drivers_tab() -> list:
    return [
        create_card(
            "What defines the segments",
            html.Div(id="segments-surrogate"),
            subtitle="A shallow decision tree trained to reproduce each customer's segment from the features",
        ),
        create_card(
            "Distribution by segment",
            [
                dcc.Dropdown(
                    id="segments-box-feature",
                    value="monetary",
                    clearable=False,
                    className="mb-2",
                    options=[{"label": label, "value": name} for name, label in FEATURES.items()],
                ),
                dcc.Graph(id="segments-box", config=GRAPH_CONFIG),
            ],
        ),
    ]


def layout(**query) -> html.Div:
    """The page; its settings come from the URL query (defaults when absent)."""
    values, problems = settings_from_query(query)
    return html.Div(
        [
            create_settings_store(),
            dcc.Store(id="segments-current"),
            dcc.Store(id="segments-sweep-token"),
            # the page came without settings in its URL: restore the session's last ones
            dcc.Store(id="segments-restore", data=not query),
            html.H3("Segment explorer", className="page-title mb-3"),
            create_alert(
                "segments-link-alert",
                is_open=bool(problems),
                children=[html.Div(p) for p in problems] or None,
            ),
            create_alert("segments-alert"),
            dbc.Row(
                [
                    dbc.Col(_controls(values), lg=3),
                    dbc.Col(
                        [
                            html.Div(id="segments-metrics", className="mb-3"),
                            dbc.Collapse(
                                create_card(
                                    "Best number of segments",
                                    [
                                        dcc.Graph(id="segments-sweep-graph", config=GRAPH_CONFIG),
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
                            dbc.Tabs(
                                [
                                    dbc.Tab(
                                        _map_tab(values),
                                        label=TABS["map"],
                                        tab_id="map",
                                    ),
                                    dbc.Tab(
                                        _profiles_tab(),
                                        label=TABS["profiles"],
                                        tab_id="profiles",
                                    ),
                                    dbc.Tab(
                                        _drivers_tab(),
                                        label=TABS["drivers"],
                                        tab_id="drivers",
                                    ),
                                ],
                                id="segments-tabs",
                                active_tab=values["tab"],
                                className="mb-3",
                            ),
                        ],
                        lg=9,
                    ),
                ]
            ),
        ]
    )


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


def _profile_table(result, table=None) -> tuple[list[dict], list[dict]]:
    """Rows and columns of the profile grid; ``table``: the customer table profiled in it."""
    profile = result.profile.table.sort("segment")
    columns = [
        text("Segment", "name", min_width=170, pinned="left"),
        num("Customers", "customers", count()),
        num("Share", "share", percent(1)),
    ]
    if profile.get_column("revenue").null_count() < profile.height:
        columns += [
            num("Revenue", "revenue", money(settings().currency)),
            num("Revenue share", "revenue_share", percent(1)),
        ]
    feature_names = [f for f in FEATURES if f"{f}_mean" in profile.columns]
    for f in feature_names:
        columns.append(num(f"{FEATURES[f]} (mean)", f"{f}_mean", fixed(2, grouped=True)))
    keep = [pl.col(c["field"]) for c in columns]
    # a table's own column names go to AG Grid by position: it reads dots in a field as paths
    for i, column in enumerate(_attribute_columns(table)):
        keep.append(pl.col(column["field"]).alias(f"attr{i}"))
        columns.append({**column, "field": f"attr{i}"})
    rows = profile.select(keep).to_dicts()
    return rows, columns


def _attribute_columns(table) -> list[dict]:
    """A customer table's columns in the profile: numeric means, then category shares."""
    if table is None:
        return []
    columns = [num(f"{c} (mean)", f"{c}_mean", fixed(2, grouped=True)) for c in table.numeric]
    for names in levels(table).values():
        columns += [num(f"{n} (share)", n, percent(0)) for n in names]
    return columns


def _heatmap_features(result, table=None) -> list[str]:
    """Behavioural features and the table's columns (numeric, one-hot) that have a ratio."""
    names = [f for f in FEATURES if f"{f}_ratio" in result.profile.table.columns]
    if table is not None:
        names += [*table.numeric, *(n for ns in levels(table).values() for n in ns)]
    return names


def _tests_table(result) -> tuple[list[dict], list[dict]]:
    tests = result.profile.tests.select(
        "label", "h_statistic", "p_value", "epsilon_squared", "effect"
    )
    columns = [
        text("Feature", "label", min_width=170),
        num("H", "h_statistic", fixed(1, grouped=True)),
        num("p-value", "p_value", p_value()),
        num("Effect size (ε²)", "epsilon_squared", fixed(3)),
        text("Effect", "effect", min_width=100),
    ]
    return tests.to_dicts(), columns


def _personas(result, currency: str) -> dbc.Row:
    revenue = dict(
        zip(
            result.profile.table["segment"].to_list(),
            result.profile.table["revenue"].to_list(),
            strict=True,
        )
    )
    return dbc.Row(
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


def _box(result, features: pl.DataFrame, feature: str):
    label = FEATURES.get(feature, feature)
    if feature not in features.columns:  # the dataset changed; its own column comes next
        return empty_figure("Choose a feature above")
    if features.get_column(feature).null_count() == features.height:
        return empty_figure(f"{label} is not available for this dataset")
    return box_figure(box_stats(features, result.assignments, feature), label)


def _tree_card(result) -> html.Div:
    tree = result.tree
    if tree is None:
        return html.P(
            "Only one segment (besides outliers): there is nothing to tell apart.",
            className="small text-muted mb-0",
        )
    if tree.accuracy is None:
        accuracy = "Too few customers to hold some out and measure how well it does."
    else:
        accuracy = (
            f"It puts {tree.accuracy:.1%} of {tree.test_customers:,} customers it did not learn "
            "from in the segment the clustering chose"
        )
        accuracy += (
            "; the bars are each feature's share of the tree's gain (the impurity its splits remove)."
            if tree.accuracy
            else "."
        )
    return html.Div(
        [
            html.P(
                f"A decision tree of depth {tree.depth} on the clustered features. {accuracy}",
                className="small mb-1",
                id="segments-surrogate-accuracy",
            ),
            dcc.Graph(
                figure=importance_figure(tree.importance, FEATURES),
                config=GRAPH_CONFIG,
            ),
        ]
    )


#: What each tab draws, in the order of ``recluster``'s outputs after the metrics.
TAB_OUTPUTS = {
    "map": ("pca", "caption", "personas"),
    "profiles": ("profile_rows", "profile_columns", "test_rows", "test_columns", "heatmap"),
    "drivers": ("box", "tree"),
}
OUTPUT_ORDER = tuple(name for names in TAB_OUTPUTS.values() for name in names)


@callback(
    Output("segments-current", "data"),
    Output("segments-metrics", "children"),
    Output("segments-pca", "figure"),
    Output("segments-pca-caption", "children"),
    Output("segments-personas", "children"),
    Output("segments-profile-table", "rowData"),
    Output("segments-profile-table", "columnDefs"),
    Output("segments-tests-table", "rowData"),
    Output("segments-tests-table", "columnDefs"),
    Output("segments-heatmap", "figure"),
    Output("segments-box", "figure"),
    Output("segments-surrogate", "children"),
    Input("segments-features", "value"),
    Input("segments-scaling", "value"),
    Input("segments-algorithm", "value"),
    Input("segments-k", "value"),
    Input("segments-eps", "value"),
    Input("segments-min-samples", "value"),
    Input("segments-min-cluster-size", "value"),
    Input("segments-view", "value"),
    Input("segments-box-feature", "value"),
    Input("segments-tabs", "active_tab"),
    Input("dataset-id", "data"),
    State("segments-profile-table", "columnDefs"),
    State("segments-tests-table", "columnDefs"),
    State("segments-current", "data"),
)
@reports_to("segments-alert", FIELDS)
def recluster(
    features,
    scaling,
    algorithm,
    k,
    eps,
    min_samples,
    min_cluster_size,
    view,
    box,
    tab,
    dataset_id,
    shown_profile_columns=None,
    shown_test_columns=None,
    shown=None,
):
    """Re-cluster with the chosen settings and redraw the open tab in one round trip.

    Only the open tab is drawn: the others are drawn when opened (each remembers the settings it
    shows, so going back to a tab already drawn costs nothing). A change of k used to redraw two
    grids, a heatmap, a box plot and a bar chart nobody was looking at, which cost the browser
    more than the 3D chart itself. The segmentation report is cached per dataset and settings.
    """
    params = params_from(features, scaling, algorithm, k, eps, min_samples, min_cluster_size)
    tab = tab if tab in TABS else DEFAULTS["tab"]
    svc = service()
    shows = {"dataset_id": dataset_id, "params": params.to_dict(), "view": view}
    drawn = dict((shown or {}).get("drawn") or {})
    same = bool(shown) and {k_: shown.get(k_) for k_ in shows} == shows
    if not same:
        drawn = {}
    current = {**shows, "tab": tab}
    out = dict.fromkeys(OUTPUT_ORDER, no_update)
    metrics = no_update
    marker = box if tab == "drivers" else True  # what a drawn tab shows besides the settings
    if not same or drawn.get(tab) != marker:
        result = svc.segmentation(dataset_id, params)
        if not same:
            metrics = _metrics_badges(result)
        if tab == "drivers" and "drivers" in drawn:  # only the box plot's feature changed
            out["box"] = _box(result, svc.segment_features(dataset_id), box)
        else:
            out.update(
                _draw_tab(
                    tab, result, dataset_id, view, box, shown_profile_columns, shown_test_columns
                )
            )
        drawn[tab] = marker
    current["drawn"] = drawn
    return (current, metrics, *(out[name] for name in OUTPUT_ORDER))


def _draw_tab(
    tab, result, dataset_id, view, box, shown_profile_columns, shown_test_columns
) -> dict:
    """The outputs of one tab for ``result``."""
    svc = service()
    if tab == "map":
        currency = settings().currency
        pca, caption = pca_figure(
            result, svc.segment_features(dataset_id), currency, dims=3 if view == "3d" else 2
        )
        return {"pca": pca, "caption": caption, "personas": _personas(result, currency)}
    if tab == "profiles":
        table = svc.attributes(dataset_id)
        profile_rows, profile_columns = _profile_table(result, table)
        test_rows, test_columns = _tests_table(result)
        # Columns the grids already show are not sent again: a new columnDefs makes AG Grid
        # rebuild the grid, which cost the browser as much as the 3D chart on a change of k
        return {
            "profile_rows": profile_rows,
            "profile_columns": no_update
            if profile_columns == shown_profile_columns
            else profile_columns,
            "test_rows": test_rows,
            "test_columns": no_update if test_columns == shown_test_columns else test_columns,
            "heatmap": heatmap_figure(result.profile.table, _heatmap_features(result, table)),
        }
    return {
        "box": _box(result, svc.segment_features(dataset_id), box),
        "tree": _tree_card(result),
    }


# The settings go to the URL (replaceState: no reload, no server round trip) and to the
# session store the other pages read.
clientside_callback(
    """
    function(current) {
        if (!current) { return window.dash_clientside.no_update; }
        const p = current.params;
        const q = new URLSearchParams();
        if (p.features && p.features.length) { q.set("features", p.features.join(",")); }
        q.set("scaling", p.scaling);
        q.set("algorithm", p.algorithm);
        if (p.algorithm === "dbscan") {
            q.set("eps", p.eps);
            q.set("min_samples", p.min_samples);
        } else if (p.algorithm === "hdbscan") {
            if (p.min_cluster_size) { q.set("min_cluster_size", p.min_cluster_size); }
        } else {
            q.set("k", p.k);
        }
        q.set("view", current.view);
        if (current.tab && current.tab !== "map") { q.set("tab", current.tab); }
        window.history.replaceState(window.history.state, "", "?" + q.toString());
        return {
            features: p.features || [], scaling: p.scaling, algorithm: p.algorithm, k: p.k,
            eps: p.eps, min_samples: p.min_samples, min_cluster_size: p.min_cluster_size,
            view: current.view, tab: current.tab || "map"
        };
    }
    """,
    Output("segments-settings", "data"),
    Input("segments-current", "data"),
    prevent_initial_call=True,
)

# Opened without settings in the URL (e.g. from the side navigation): the session's last ones.
clientside_callback(
    """
    function(restore, saved) {
        const keys = ["features", "scaling", "algorithm", "k", "eps", "min_samples",
                      "min_cluster_size", "view", "tab"];
        if (!restore || !saved) { return keys.map(() => window.dash_clientside.no_update); }
        return keys.map((k) => (k in saved ? saved[k] : window.dash_clientside.no_update));
    }
    """,
    [Output(*CONTROLS[name], allow_duplicate=True) for name in CONTROL_ORDER],
    Input("segments-restore", "data"),
    State("segments-settings", "data"),
    prevent_initial_call="initial_duplicate",
)

clientside_callback(
    """
    function(algorithm) {
        const density = algorithm === "dbscan" || algorithm === "hdbscan";
        return [density, density ? {opacity: 0.4} : {}];
    }
    """,
    Output("segments-density-params", "is_open"),
    Output("segments-k-block", "style"),
    Input("segments-algorithm", "value"),
)


@job_callback(
    "segments-sweep",
    Output("segments-sweep-token", "data"),
    Input("segments-sweep-button", "n_clicks"),
    Input("segments-auto-k", "value"),
    State("session-id", "data"),
    State("dataset-id", "data"),
    State("segments-features", "value"),
    State("segments-scaling", "value"),
    State("segments-algorithm", "value"),
    disable=["segments-features", "segments-scaling", "segments-algorithm", "segments-k"],
    fields=FIELDS,
)
def find_best_k(progress, n_clicks, auto, session_id, dataset_id, features, scaling, algorithm):
    """Sweep k = 2..10 in a fresh process, reporting progress after each k."""
    if ctx.triggered_id == "segments-auto-k" and not auto:
        raise PreventUpdate
    sweep_algorithm = algorithm if algorithm in K_ALGORITHMS else "kmeans"
    params = params_from(features, scaling, sweep_algorithm, DEFAULTS["k"], None, None, None)
    result = run_task(
        settings(), "sweep", progress=progress, dataset_id=dataset_id, params=params.to_dict()
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
        if ctx.triggered_id is None:  # the page's first load: nothing swept yet
            raise PreventUpdate
        # the sweep ended without a result (see the alert): no earlier sweep stays on show
        return False, empty_figure("No sweep result"), "", ""

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


# -- customer tables (issue 10): the features a dataset offers --------------------------------
@callback(
    Output("segments-features-note", "children"),
    Input("segments-features", "value"),
    prevent_initial_call=True,
)
def clear_features_note(chosen: list[str] | None):
    """The note goes once features are picked again (its cause is gone)."""
    if not chosen:
        raise PreventUpdate
    return None


def features_dropped_note(dropped: list[str]) -> str:
    """What the page says when the features chosen before are not all in this dataset."""
    names = ", ".join(f"'{FEATURES.get(name, name)}'" for name in dropped)
    few = "this dataset has no column" if len(dropped) == 1 else "this dataset has no columns"
    return (
        f"Clustering on all available features: the choice made before named {names}, and "
        f"{few} by that name. Pick features again to narrow it."
    )


@callback(
    Output("segments-features", "options"),
    Output("segments-features", "value", allow_duplicate=True),
    Output("segments-box-feature", "options"),
    Output("segments-box-feature", "value"),
    Input("dataset-id", "data"),
    State("segments-features", "value"),
    State("segments-box-feature", "value"),
    prevent_initial_call="initial_duplicate",
)
def feature_options(dataset_id: str, chosen: list[str] | None, box: str | None):
    """The dataset's features: behavioural ones, a customer table's columns (numeric and
    one-hot, as written), or both for a log with a joined table. Choices saved for another
    dataset that this one lacks are dropped from the selection (the page would refuse them).

    Not wrapped in ``reports_to``: its success would close the page's alert while it holds the
    reclustering's own error (both run when the page opens). A failure here goes to the app's
    alert (the dataset itself is then unreadable, and the other callbacks say so too)."""
    choices = service().feature_choices(dataset_id)
    options = [{"label": label, "value": name} for name, label in choices.items()]
    dropped = [name for name in chosen or [] if name not in choices]
    # a choice this dataset lacks goes, and so does the rest of it: a half-kept choice (one
    # feature of three) would quietly cluster on something nobody picked; all features instead,
    # and the page says why
    value = [] if dropped else no_update
    set_props(
        "segments-features-note",
        {"children": features_dropped_note(dropped) if dropped else None},
    )
    box_value = (
        box if box in choices else ("monetary" if "monetary" in choices else next(iter(choices)))
    )
    return options, value, options, box_value if box_value != box else no_update
