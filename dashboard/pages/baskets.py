"""Market baskets: which products sell together, overall, per segment or country; cross-sell."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import polars as pl
from dash import Input, Output, State, callback, clientside_callback, ctx, dcc, html, set_props
from dash.exceptions import PreventUpdate

from analytics.baskets import rules_csv_frame, segment_rules, top_pairs
from analytics.errors import ParameterError, SegmentaError
from analytics.export import to_csv
from analytics.words import count_of
from dashboard.app import service, settings
from dashboard.background import job_callback
from dashboard.components.grid import create_grid
from dashboard.components.shell import create_card, create_job_status
from dashboard.components.tables import fixed, num, percent, text
from dashboard.errors import create_alert, reports_to
from dashboard.figures.baskets import pairs_figure, rules_network, rules_scatter
from dashboard.figures.common import GRAPH_CONFIG, empty_figure
from dashboard.jobs import run_task
from dashboard.segment_settings import create_settings_store, params_from_saved
from dashboard.service import BasketParams

dash.register_page(__name__, path="/baskets", name="Baskets", title="Baskets · Segmenta", order=4)

TABLE_ROWS = 2_000
WAITING = "Rules appear here once mined (progress on the left)"
FIGURES = ("baskets-scatter", "baskets-network", "baskets-pairs")


def _show_no_rules(error: Exception) -> None:
    """A failed or invalid run leaves no rules on screen that were not mined for these settings."""
    for figure_id in FIGURES:
        set_props(figure_id, {"figure": empty_figure(f"No rules: {_first_sentence(error)}")})
    set_props("baskets-summary", {"children": None})
    set_props("baskets-rules-table", {"rowData": []})


def _first_sentence(error: Exception) -> str:
    text = str(error) if isinstance(error, SegmentaError) else "mining failed"
    return text.split(". ")[0].rstrip(".")[:90]


def _slider(
    id_: str, label: str, low: float, high: float, step: float, value: float, marks: dict
) -> html.Div:
    return html.Div(
        [
            dbc.Label(label, html_for=id_, className="control-label"),
            dcc.Slider(
                id=id_,
                min=low,
                max=high,
                step=step,
                value=value,
                marks=marks,
                tooltip={"placement": "bottom"},
                persistence=True,
                persistence_type="session",
            ),
        ],
        className="mb-3",
    )


#: Field labels on the page, for messages that point at the control to change.
FIELDS = {
    "min_support": "Minimum support",
    "min_confidence": "Minimum confidence",
    "min_lift": "Minimum lift",
    "start": "Invoice dates",
    "end": "Invoice dates",
    "min_item_baskets": "Minimum baskets per item",
    "max_basket_size": "Maximum items per basket",
}
#: What a link may set, with the page's defaults and the sliders' ranges.
LINK_DEFAULTS = {"support": 0.01, "confidence": 0.3, "lift": 1.0, "algorithm": "fpgrowth"}
LINK_RANGES = {"support": (0.002, 0.05), "confidence": (0.05, 1.0), "lift": (0.0, 20.0)}


def _from_query(query: dict) -> tuple[dict, list[str]]:
    """Support, confidence, lift and algorithm from a link, and what in it could not be used."""
    values, problems = dict(LINK_DEFAULTS), []
    for name, (low, high) in LINK_RANGES.items():
        raw = query.get(name)
        if not raw:
            continue
        try:
            value = float(raw)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            problems.append(
                f"The link's {name} ({raw}) is not a number between {low:g} and {high:g}; "
                f"showing {LINK_DEFAULTS[name]:g}."
            )
        else:
            values[name] = value
    if query.get("algorithm"):
        if query["algorithm"] in ("fpgrowth", "apriori"):
            values["algorithm"] = query["algorithm"]
        else:
            problems.append(
                f"The link's algorithm ({query['algorithm']}) is not fpgrowth or apriori; "
                "showing FP-Growth."
            )
    return values, problems


def layout(**query) -> html.Div:
    """The page; support, confidence, lift and algorithm come from the URL when it has them."""
    values, problems = _from_query(query)
    controls = dbc.Card(
        dbc.CardBody(
            [
                _slider(
                    "baskets-support",
                    "Minimum support (share of baskets)",
                    0.002,
                    0.05,
                    0.001,
                    values["support"],
                    {0.002: "0.2%", 0.01: "1%", 0.02: "2%", 0.03: "3%", 0.05: "5%"},
                ),
                _slider(
                    "baskets-confidence",
                    "Minimum confidence",
                    0.05,
                    1.0,
                    0.05,
                    values["confidence"],
                    {0.1: "10%", 0.3: "30%", 0.5: "50%", 0.7: "70%", 1.0: "100%"},
                ),
                _slider(
                    "baskets-lift",
                    "Minimum lift",
                    0.0,
                    20.0,
                    0.5,
                    values["lift"],
                    {0: "0", 5: "5", 10: "10", 15: "15", 20: "20"},
                ),
                dbc.Label("Algorithm", className="control-label"),
                dbc.RadioItems(
                    id="baskets-algorithm",
                    options=[
                        {"label": "FP-Growth", "value": "fpgrowth"},
                        {"label": "Apriori", "value": "apriori"},
                    ],
                    value=values["algorithm"],
                    inline=True,
                    className="mb-3",
                    persistence=True,
                    persistence_type="session",
                ),
                dbc.Label("Scope", html_for="baskets-scope", className="control-label"),
                dcc.Dropdown(
                    id="baskets-scope",
                    options=[
                        {"label": "All baskets", "value": "all"},
                        {"label": "One segment", "value": "segment"},
                        {"label": "One country", "value": "country"},
                    ],
                    value="all",
                    clearable=False,
                    className="mb-2",
                    persistence=True,
                    persistence_type="session",
                ),
                dcc.Dropdown(id="baskets-scope-value", placeholder="Choose…", className="mb-3"),
                dbc.Label("Invoice dates", className="control-label"),
                dcc.DatePickerRange(
                    id="baskets-dates",
                    display_format="D MMM YYYY",
                    clearable=True,
                    className="mb-3",
                ),
                dbc.Row(
                    [
                        dbc.Col(
                            [
                                dbc.Label(
                                    "Min. baskets per item",
                                    html_for="baskets-min-item",
                                    className="control-label",
                                ),
                                dcc.Input(
                                    id="baskets-min-item",
                                    type="number",
                                    step=1,
                                    value=1,
                                    debounce=True,
                                    className="form-control",
                                ),
                            ],
                            width=12,
                        ),
                        dbc.Col(
                            [
                                dbc.Label(
                                    "Max. items per basket",
                                    html_for="baskets-max-size",
                                    className="control-label",
                                ),
                                dcc.Input(
                                    id="baskets-max-size",
                                    type="number",
                                    step=1,
                                    value=None,
                                    debounce=True,
                                    placeholder="no cap",
                                    className="form-control",
                                ),
                            ],
                            width=12,  # one a row: beside each other, "no cap" showed as "no"
                        ),
                    ],
                    className="mb-3 g-2",
                ),
                dbc.Button(
                    "Cancel mining",
                    id="baskets-cancel",
                    color="secondary",
                    outline=True,
                    disabled=True,
                    className="w-100 mb-2",
                    n_clicks=0,
                ),
                create_job_status("baskets-mine"),
                create_alert("baskets-alert"),
                dbc.Button(
                    "Download rules (CSV)",
                    id="baskets-download-button",
                    color="success",
                    outline=True,
                    className="w-100",
                ),
                dcc.Download(id="baskets-download"),
            ]
        ),
        className="shadow-sm mb-3",
    )
    return html.Div(
        [
            create_settings_store(),
            dcc.Store(id="baskets-params"),
            dcc.Store(id="baskets-url"),
            create_alert(
                "baskets-link-alert",
                is_open=bool(problems),
                children=[html.Div(p) for p in problems] or None,
            ),
            dcc.Store(id="baskets-token"),
            dcc.Store(id="baskets-need"),
            html.H3("Market baskets", className="page-title mb-3"),
            dbc.Row(
                [
                    dbc.Col(controls, lg=3),
                    dbc.Col(
                        [
                            html.Div(id="baskets-summary", className="mb-3"),
                            create_card(
                                "Association rules",
                                create_grid(
                                    "baskets-rules-table",
                                    page_size=12,
                                    filters=True,
                                    export_name="rules.csv",
                                    compact=True,
                                ),
                                subtitle="Click a header to sort; type in the box under it to filter (e.g. JUMBO)",
                            ),
                            html.Div(id="baskets-segment-block"),
                            dbc.Row(
                                [
                                    dbc.Col(
                                        create_card(
                                            "Support vs confidence",
                                            dcc.Graph(
                                                id="baskets-scatter",
                                                figure=empty_figure(WAITING),
                                                config=GRAPH_CONFIG,
                                            ),
                                        ),
                                        xl=12,  # full width: the network needs room for labels on both sides
                                    ),
                                    dbc.Col(
                                        create_card(
                                            "Strongest rules as a network",
                                            dcc.Graph(
                                                id="baskets-network",
                                                figure=empty_figure(WAITING),
                                                config=GRAPH_CONFIG,
                                            ),
                                            subtitle="The 25 rules with the highest lift; arrows run from what was bought to what comes with it",
                                        ),
                                        xl=12,
                                    ),
                                ]
                            ),
                            create_card(
                                "Top product pairs",
                                dcc.Graph(
                                    id="baskets-pairs",
                                    figure=empty_figure(WAITING),
                                    config=GRAPH_CONFIG,
                                ),
                                subtitle="Share of baskets containing both",
                            ),
                            create_card(
                                "Cross-sell for a customer",
                                [
                                    dcc.Dropdown(
                                        id="baskets-customer",
                                        placeholder="Type a customer id, e.g. 12347",
                                        className="mb-2",
                                    ),
                                    html.Div(id="baskets-cross-sell"),
                                ],
                                subtitle="Products the customer has not bought, from rules whose left side they have all bought, ranked by lift × confidence",
                            ),
                        ],
                        lg=9,
                    ),
                ]
            ),
        ]
    )


def filter_notes(baskets, max_basket_size: int | None, min_item_baskets: int) -> list[str]:
    """What the basket filters left out, in words from their counts."""
    notes = []
    if baskets.capped_baskets:
        note = (
            f"{count_of(baskets.capped_baskets, 'basket')} over "
            f"{count_of(max_basket_size or 0, 'product')} left out"
        )
        if baskets.capped_items:
            note += f", with {count_of(baskets.capped_items, 'product')} found only in them"
        notes.append(note)
    if baskets.rare_items:
        notes.append(
            f"{count_of(baskets.rare_items, 'product')} in fewer than "
            f"{count_of(min_item_baskets, 'basket')} left out"
        )
    return notes


@callback(
    Output("baskets-scope-value", "options"),
    Output("baskets-scope-value", "value"),
    Output("baskets-scope-value", "style"),
    Input("baskets-scope", "value"),
    Input("dataset-id", "data"),
    State("segments-settings", "data"),
)
def scope_choices(scope: str, dataset_id: str, saved: dict | None):
    if scope == "country":
        countries = service().countries(dataset_id)
        return [{"label": c, "value": c} for c in countries], countries[0], {}
    if scope == "segment":
        result = service().segmentation(dataset_id, params_from_saved(saved))
        options = [
            {"label": p.name, "value": str(p.segment)}
            for p in sorted(result.profile.personas, key=lambda p: p.segment)
        ]
        return options, options[0]["value"], {}
    return [], None, {"display": "none"}


@callback(
    Output("baskets-params", "data"),
    Output("baskets-token", "data"),
    Output("baskets-need", "data"),
    Input("baskets-support", "value"),
    Input("baskets-confidence", "value"),
    Input("baskets-lift", "value"),
    Input("baskets-algorithm", "value"),
    Input("baskets-scope", "value"),
    Input("baskets-scope-value", "value"),
    Input("baskets-dates", "start_date"),
    Input("baskets-dates", "end_date"),
    Input("baskets-min-item", "value"),
    Input("baskets-max-size", "value"),
    Input("dataset-id", "data"),
    State("segments-settings", "data"),
)
@reports_to("baskets-alert", FIELDS)
def check_cache(
    support,
    confidence,
    lift,
    algorithm,
    scope,
    scope_value,
    start,
    end,
    min_item,
    max_size,
    dataset_id,
    saved,
):
    """Cached rules show at once; otherwise the background job mines them."""
    if scope != "all" and scope_value is None:
        raise PreventUpdate
    try:
        params = _params(
            support,
            confidence,
            lift,
            algorithm,
            scope,
            scope_value,
            start,
            end,
            min_item,
            max_size,
            saved,
        )
    except SegmentaError as error:
        _show_no_rules(error)
        raise
    request = {"dataset_id": dataset_id, "params": params.to_dict()}
    svc = service()
    # cached rules, or rules derived from itemsets mined before (a new confidence or lift),
    # show at once; only a new support, scope or filter needs the mining job
    done = svc.quick_rules(dataset_id, params) is not None and (
        scope != "segment" or svc.quick_rules(dataset_id, params.overall()) is not None
    )
    return request, (request if done else dash.no_update), (dash.no_update if done else request)


def _params(
    support, confidence, lift, algorithm, scope, scope_value, start, end, min_item, max_size, saved
):
    return BasketParams(
        float(support),
        float(confidence),
        float(lift),
        algorithm,
        scope,
        scope_value if scope != "all" else None,
        params_from_saved(saved).to_dict() if scope == "segment" else None,
        start=start[:10] if start else None,
        end=end[:10] if end else None,
        min_item_baskets=_whole(min_item, "minimum baskets per item", 1),
        max_basket_size=_whole(max_size, "maximum items per basket", None),
    )


@job_callback(
    "baskets-mine",
    Output("baskets-token", "data", allow_duplicate=True),
    Input("baskets-need", "data"),
    State("session-id", "data"),
    button=False,
    cancel="baskets-cancel",
    viewer="mine",
)
def mine(progress, need: dict, session_id: str):
    """Build baskets and mine rules in a fresh process (cached per thresholds)."""
    try:
        run_task(
            settings(),
            "rules",
            progress=progress,
            dataset_id=need["dataset_id"],
            params=need["params"],
        )
    except SegmentaError as error:
        # rendered by ``render`` (the views and the page's alert say why)
        return {**need, "session": session_id, "error": str(error)}
    return {**need, "session": session_id}


# Support, confidence, lift and algorithm go to the URL: a link shows the same rules.
clientside_callback(
    """
    function(request) {
        if (!request) { return window.dash_clientside.no_update; }
        const p = request.params;
        const q = new URLSearchParams({
            support: p.min_support, confidence: p.min_confidence, lift: p.min_lift,
            algorithm: p.algorithm
        });
        window.history.replaceState(window.history.state, "", "?" + q.toString());
        return window.dash_clientside.no_update;
    }
    """,
    Output("baskets-url", "data"),
    Input("baskets-params", "data"),
    prevent_initial_call=True,
)


def _request(request: dict) -> tuple:
    """What a token or request asks for: the dataset and the thresholds and filters."""
    return request.get("dataset_id"), request.get("params")


def _whole(value, label: str, default):
    """A whole number from a number box (blank: the default), or a clear error."""
    if value in (None, ""):
        return default
    if float(value) != int(value) or int(value) < 1:
        raise ParameterError(
            f"The {label} must be a whole number of at least 1. Got {value!r} instead."
        )
    return int(value)


def _rules_table(rules: pl.DataFrame) -> tuple[list[dict], list[dict]]:
    shown = rules.head(TABLE_ROWS).select(
        antecedents=pl.col("antecedents").str.replace_all(r"\|", " + "),
        consequents=pl.col("consequents").str.replace_all(r"\|", " + "),
        support="support",
        confidence="confidence",
        lift="lift",
        leverage="leverage",
        conviction=pl.when(pl.col("conviction").is_infinite())
        .then(None)
        .otherwise(pl.col("conviction")),
    )
    columns = [
        # number columns narrow enough that all seven fit the ~830 px card at 1400 px: with
        # 130 px each the grid scrolled sideways and the item names wrapped to 4+ lines
        text("If bought", "antecedents", min_width=170, flex=3),
        text("Then also", "consequents", min_width=170, flex=3),
        num("Support", "support", percent(2), minWidth=85, flex=1),
        num("Confidence", "confidence", percent(0), minWidth=100, flex=1),
        num("Lift", "lift", fixed(2), minWidth=70, flex=1),
        num("Leverage", "leverage", fixed(4), minWidth=90, flex=1),
        num("Conviction (blank = ∞)", "conviction", fixed(2), minWidth=105, flex=1),
    ]
    return shown.to_dicts(), columns


@callback(
    Output("baskets-summary", "children"),
    Output("baskets-rules-table", "rowData"),
    Output("baskets-rules-table", "columnDefs"),
    Output("baskets-scatter", "figure"),
    Output("baskets-pairs", "figure"),
    Output("baskets-network", "figure"),
    Output("baskets-segment-block", "children"),
    Input("baskets-token", "data"),
    State("baskets-params", "data"),
)
@reports_to("baskets-alert", FIELDS)
def render(token: dict | None, latest: dict | None = None):
    """The rules of ``token``; a token for settings that were changed since (a mining job that
    ended after a cached result for the new settings was shown) is left unshown."""
    if token and latest and _request(token) != _request(latest):
        raise PreventUpdate
    if not token:
        if ctx.triggered_id is None:  # the page's first load
            raise PreventUpdate
        # the mining job ended without a result (the alert says why): clear the last rules
        ended = empty_figure("No rules: the mining job ended without a result")
        return None, [], dash.no_update, ended, ended, ended, None
    if token.get("error"):
        error = SegmentaError(token["error"])
        _show_no_rules(error)
        raise error  # the page's alert says why
    svc = service()
    params = BasketParams(**token["params"])
    rules = svc.cached_rules(token["dataset_id"], params)
    if rules is None:
        raise PreventUpdate
    baskets = svc.baskets(token["dataset_id"], params)
    notes = [
        f"{baskets.n_baskets:,} baskets",
        f"{len(baskets.items):,} products",
        f"{rules.itemsets.height:,} frequent itemsets",
        f"{rules.rules.height:,} rules ({'FP-Growth' if rules.algorithm == 'fpgrowth' else 'Apriori'})",
    ]
    if baskets.excluded_rows:
        notes.append(f"{baskets.excluded_rows:,} postage/fee lines left out")
    notes.extend(filter_notes(baskets, params.max_basket_size, params.min_item_baskets))
    summary = html.Div(
        [dbc.Badge(n, color="light", text_color="dark", className="me-2 border") for n in notes],
        id="baskets-summary-badges",
    )
    data, columns = _rules_table(rules.rules)
    segment_block = None
    if params.scope == "segment":
        overall = svc.cached_rules(token["dataset_id"], params.overall())
        stronger = segment_rules(overall, rules).head(50)
        rows, cols = _rules_table(stronger)
        for row, ratio in zip(rows, stronger.get_column("lift_ratio").to_list(), strict=True):
            row["lift_ratio"] = ratio
        cols.append(num("Lift vs all baskets (blank = segment only)", "lift_ratio", fixed(1)))
        segment_block = create_card(
            "Much stronger in this segment",
            create_grid("baskets-segment-table", rows, cols, page_size=10, compact=True),
            subtitle="Rules whose lift in the segment is at least 1.5× their lift over all baskets",
        )
    return (
        summary,
        data,
        columns,
        rules_scatter(rules.rules),
        pairs_figure(top_pairs(rules)),
        rules_network(rules.rules),
        segment_block,
    )


@callback(
    Output("baskets-customer", "options"),
    Input("baskets-customer", "search_value"),
    State("baskets-customer", "value"),
    State("dataset-id", "data"),
)
def suggest(search, value, dataset_id):
    return service().customer_options(dataset_id, search, value)


@callback(
    Output("baskets-cross-sell", "children"),
    Input("baskets-customer", "value"),
    Input("baskets-token", "data"),
)
def show_cross_sell(customer_id: str | None, token: dict | None):
    if not customer_id or not token:
        return html.P("Choose a customer.", className="text-muted small")
    offers = service().cross_sell(token["dataset_id"], BasketParams(**token["params"]), customer_id)
    if offers.height == 0:
        return dbc.Alert(
            "No rule applies to this customer at these thresholds: lower the support or confidence.",
            color="light",
            className="border",
        )
    return create_grid(
        "baskets-cross-sell-table",
        offers.with_columns(because=pl.col("because").str.replace_all(r"\|", " + ")).to_dicts(),
        [
            text("Offer", "item", min_width=180, flex=2),
            text("Because they bought", "because", min_width=180, flex=2),
            num("Confidence", "confidence", percent(0)),
            num("Lift", "lift", fixed(1)),
            num("Score (lift × confidence)", "score", fixed(2)),
        ],
        compact=True,
    )


@callback(
    Output("baskets-download", "data"),
    Input("baskets-download-button", "n_clicks"),
    State("baskets-token", "data"),
    prevent_initial_call=True,
)
def download_rules(n_clicks, token):
    if not token:
        raise PreventUpdate
    rules = service().cached_rules(token["dataset_id"], BasketParams(**token["params"]))
    return {
        "content": to_csv(rules_csv_frame(rules)),
        "filename": "rules.csv",
        "type": "text/csv",
    }
