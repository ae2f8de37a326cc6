"""One customer: history, features, segment and RFM segment, churn and CLV, and why (LIME)."""

from __future__ import annotations

import dash
import dash_bootstrap_components as dbc
import polars as pl
from dash import Input, Output, State, callback, clientside_callback, ctx, dcc, html, set_props
from dash.exceptions import PreventUpdate

from analytics.alive import churn_model_band
from analytics.errors import SegmentaError
from analytics.explain import describe_value
from analytics.features import FEATURES
from analytics.rfm import RFM_SEGMENTS, rfm_table
from dashboard.app import service, settings
from dashboard.auth import request_service
from dashboard.background import create_job_progress, job_callback
from dashboard.components.alive import (
    RISK_HORIZON,
    create_alive_section,
    register_alive_callbacks,
)
from dashboard.components.grid import create_grid
from dashboard.components.shell import create_card
from dashboard.components.tables import count, fixed, num, text
from dashboard.errors import create_alert, reports_to
from dashboard.figures.common import GRAPH_CONFIG, empty_figure, explanation_figure
from dashboard.figures.customer import history_figure
from dashboard.formatting import fmt_money, fmt_percent
from dashboard.jobs import run_task
from dashboard.segment_settings import create_settings_store, params_from_saved

dash.register_page(
    __name__, path="/customer", name="Customer", title="Customer · Segmenta", order=3
)

register_alive_callbacks()

HORIZON = RISK_HORIZON
TARGETS = {
    "churn": "Why this churn risk",
    "clv": "Why this predicted CLV",
    "segment": "Why this segment",
}


def layout(id: str | None = None, **_query) -> html.Div:  # noqa: A002 - the query parameter is ?id=
    return html.Div(
        [
            create_settings_store(),
            dcc.Store(id="customer-explain-token"),
            # set by the explanation job when it trained the models (see explain_customer)
            dcc.Store(id="customer-models-trained"),
            dbc.Row(
                [
                    dbc.Col(html.H3("Customer", className="page-title mb-0"), md=4),
                    dbc.Col(
                        dcc.Dropdown(
                            id="customer-search",
                            value=id,
                            # a Dash 4 dropdown drops a value missing from its options, which
                            # emptied the page when a link navigated here client-side
                            options=[id] if id else [],
                            placeholder="Type a customer id, e.g. 12347",
                            searchable=True,
                            clearable=False,
                        ),
                        md=8,
                    ),
                ],
                className="mb-3 align-items-center g-2",
            ),
            create_alert("customer-alert"),
            dcc.Loading(html.Div(id="customer-profile"), type="dot"),
            create_alive_section(),
            create_card(
                "Explanations",
                [
                    html.Div(
                        [
                            create_job_progress("customer-explain"),
                            create_alert("customer-explain-alert"),
                        ]
                    ),
                    html.Div(
                        id="customer-explanations",
                        children=html.P("Choose a customer.", className="text-muted"),
                    ),
                ],
                subtitle="LIME: which of this customer's facts push each prediction up or down",
            ),
        ]
    )


@callback(
    Output("customer-search", "options"),
    Input("customer-search", "search_value"),
    State("customer-search", "value"),
    State("dataset-id", "data"),
)
def suggest(search: str | None, value: str | None, dataset_id: str):
    """Up to 20 ids matching what was typed (the chosen id stays listed)."""
    return service().customer_options(dataset_id, search, value)


def _interval_label(predictions) -> str:
    """'80% CLV range (held 81% in backtest)': the level and its measured coverage."""
    intervals = predictions.backtest.intervals if predictions.backtest else None
    if intervals is None:
        return "CLV range"
    return f"{intervals.level:.0%} CLV range (held {intervals.coverage:.0%} in backtest)"


def _interval_text(p: dict, currency: str) -> str:
    if p.get("clv_low") is None or p.get("clv_high") is None:
        return "no backtest to size it"
    return f"{fmt_money(p['clv_low'], currency)} – {fmt_money(p['clv_high'], currency)}"


def _fact(label: str, value: str, id_: str | None = None) -> dbc.Col:
    return dbc.Col(
        dbc.Card(
            dbc.CardBody(
                [
                    html.Div(label, className="small text-muted"),
                    html.Div(value, className="fs-5 fw-bold", **({"id": id_} if id_ else {})),
                ],
                className="py-2",
            ),
            className="shadow-sm h-100",
        ),
        xs=6,
        md=4,
        xl=2,
        className="mb-2",
    )


@callback(
    Output("customer-profile", "children"),
    Input("customer-search", "value"),
    Input("dataset-id", "data"),
    State("segments-settings", "data"),
    # the explanation job trains the churn and CLV models: then it redraws the profile, which
    # said "appear once the models are trained" until the next lookup
    Input("customer-models-trained", "data"),
)
@reports_to("customer-alert")
def show_customer(
    customer_id: str | None, dataset_id: str, saved: dict | None, _trained: str | None = None
):
    if not customer_id:
        return dbc.Alert(
            "Search for a customer by id to see their history, predictions and explanations.",
            color="light",
            className="border",
        )
    svc = service()
    currency = settings().currency
    history = svc.customer(dataset_id, customer_id)
    features = svc.features(dataset_id)
    row = features.filter(pl.col("customer_id") == customer_id)
    facts = []
    if row.height:
        f = row.row(0, named=True)
        rfm = rfm_table(features).filter(pl.col("customer_id") == customer_id).row(0, named=True)
        segmentation = svc.segmentation(dataset_id, params_from_saved(saved))
        segment = segmentation.assignments.filter(pl.col("customer_id") == customer_id)[
            "segment_name"
        ][0]
        facts += [
            _fact("Segment", segment, "customer-segment"),
            _fact("RFM segment", f"{rfm['rfm_segment']} ({rfm['rfm_score']})", "customer-rfm"),
            _fact("Orders", f"{f['frequency']:,}"),
            _fact("Net spend", fmt_money(f["monetary"], currency)),
            _fact(
                "Last purchase",
                f"{f['last_purchase']:%d %b %Y} ({f['recency_days']:.0f} days ago)",
                "customer-last-purchase",
            ),
            _fact("Customer for", f"{f['tenure_days']:.0f} days"),
        ]
        action_rfm = RFM_SEGMENTS[rfm["rfm_segment"]].action
    else:
        action_rfm = "No purchase on record (only returns)."
    predictions = svc.cached_predictions(dataset_id, HORIZON)
    scored = (
        predictions.table.filter(pl.col("customer_id") == customer_id)
        if predictions is not None
        else None
    )
    if scored is not None and scored.height:
        p = scored.row(0, named=True)
        facts += [
            _fact(
                f"Churn risk: no order in {HORIZON} d (churn model)",
                f"{fmt_percent(p['churn_probability'], 0)} "
                f"({churn_model_band(p['churn_probability'])})",
                "customer-churn",
            ),
            _fact(
                f"Predicted CLV ({HORIZON} d)",
                fmt_money(p["predicted_clv"], currency),
                "customer-clv",
            ),
            _fact(
                _interval_label(predictions),
                _interval_text(p, currency),
                "customer-clv-interval",
            ),
            _fact("Quadrant", p["quadrant"], "customer-quadrant"),
        ]
        action = html.Div(
            [
                html.Strong("Recommended action: "),
                p["action"],
                html.Br(),
                html.Strong("RFM playbook: "),
                action_rfm,
            ],
            className="small persona-action mb-3",
        )
    else:
        action = html.Div(
            [
                html.Strong("RFM playbook: "),
                action_rfm,
                html.Br(),
                html.Span(
                    "Churn and CLV appear once the models are trained (the explanation job below trains them).",
                    className="text-muted",
                ),
            ],
            className="small persona-action mb-3",
        )
    feature_rows = (
        [
            {
                "feature": FEATURES[k],
                "value": describe_value(k, v, currency, orders=row["frequency"][0]),
            }
            for k, v in row.row(0, named=True).items()
            if k in FEATURES and v is not None
        ]
        if row.height
        else []
    )
    products = history.top_products.to_dicts()
    return html.Div(
        [
            dbc.Row(facts, className="g-2 mb-2"),
            action,
            dbc.Row(
                [
                    dbc.Col(
                        create_card(
                            "Orders over time",
                            dcc.Graph(
                                figure=history_figure(history.monthly, currency),
                                config=GRAPH_CONFIG,
                            ),
                        ),
                        lg=7,
                    ),
                    dbc.Col(
                        create_card(
                            "Top products",
                            create_grid(
                                "customer-products-table",
                                products,
                                [
                                    # narrow number columns: at 1400 px the card is ~400 px
                                    # wide and the Spend column was cut off behind a scrollbar
                                    text("Product", "product", min_width=150, flex=3),
                                    num("Units", "quantity", count(), minWidth=90, flex=1),
                                    num(
                                        f"Spend ({currency})",
                                        "spend",
                                        fixed(0, grouped=True),
                                        minWidth=110,
                                        flex=1,
                                    ),
                                ],
                                page_size=10,
                                compact=True,
                            ),
                        ),
                        lg=5,
                    ),
                ]
            ),
            create_card(
                "Features",
                create_grid(
                    "customer-features-table",
                    feature_rows,
                    [text("Feature", "feature"), text("This customer", "value")],
                ),
            ),
        ]
    )


def _viewer_may_explain(values: dict) -> str | None:
    """Viewers get explanations of trained models only (the job would train them otherwise)."""
    dataset_id = values.get("dataset-id.data")
    if isinstance(dataset_id, str) and request_service().cached_predictions(dataset_id, HORIZON):
        return None
    return "train"


@job_callback(
    "customer-explain",
    Output("customer-explain-token", "data"),
    Input("customer-search", "value"),
    State("session-id", "data"),
    State("dataset-id", "data"),
    State("segments-settings", "data"),
    button=False,
    prevent_initial_call=False,
    viewer=_viewer_may_explain,
)
def explain_customer(progress, customer_id, session_id, dataset_id, saved):
    """LIME explanations of churn, CLV and segment in a fresh process (trains models if needed).

    This runs in the forked job process, where polars must not run (FIELD-NOTES): everything
    about the customer is looked up by the ``explain`` task in its own interpreter.
    """
    if not customer_id:
        raise PreventUpdate
    params = params_from_saved(saved)
    outcome = run_task(
        settings(),
        "explain",
        progress=progress,
        dataset_id=dataset_id,
        customer_id=customer_id,
        horizon_days=HORIZON,
        params=params.to_dict(),
    )
    if outcome.get("trained"):
        # Not an Output: Dash would then hold the profile and the Alive card back until this
        # job ended (they depend on it), instead of drawing them at once
        set_props("customer-models-trained", {"data": f"{dataset_id}:{customer_id}"})
    return {
        "dataset_id": dataset_id,
        "customer_id": customer_id,
        "params": params.to_dict(),
        "outcome": outcome,
        "session": session_id,
    }


# A new lookup: the URL names the customer shown (a copied link shows the same one), and the
# previous customer's explanations go at once (they stood for 6-8 s beside the new profile,
# under a progress bar still saying "Done", until the new job reported).
clientside_callback(
    """
    function(customerId) {
        const no = window.dash_clientside.no_update;
        if (!customerId) { return [no, no, no]; }
        const url = new URL(window.location.href);
        if (url.searchParams.get("id") !== String(customerId)) {
            url.searchParams.set("id", customerId);
            window.history.replaceState(window.history.state, "", url.pathname + url.search);
        }
        return [
            {props: {children: "Explaining customer " + customerId + "…",
                     className: "text-muted"}, type: "P", namespace: "dash_html_components"},
            0,
            "Starting…"
        ];
    }
    """,
    Output("customer-explanations", "children", allow_duplicate=True),
    Output("customer-explain-progress", "value", allow_duplicate=True),
    Output("customer-explain-progress-text", "children", allow_duplicate=True),
    Input("customer-search", "value"),
    prevent_initial_call="initial_duplicate",
)


@callback(Output("customer-explanations", "children"), Input("customer-explain-token", "data"))
def show_explanations(token: dict | None):
    if not token:
        if ctx.triggered_id is None:  # the page's first load
            raise PreventUpdate
        # the job ended without a result (the alert says why): nothing from an earlier customer
        return html.P("No explanations: the job ended without a result.", className="text-muted")
    from dashboard.service import SegmentParams

    svc = service()
    cards = []
    for target, title in TARGETS.items():
        if token["outcome"].get(target) != "ok":
            cards.append(
                dbc.Col(
                    create_card(
                        title,
                        dbc.Alert(token["outcome"].get(target, "Not available."), color="light"),
                    ),
                    xl=4,
                )
            )
            continue
        try:
            explanation = svc.explanation(
                token["dataset_id"],
                token["customer_id"],
                target,
                HORIZON,
                SegmentParams.from_dict(token["params"]),
            )
        except SegmentaError as error:
            cards.append(dbc.Col(create_card(title, dbc.Alert(str(error), color="light")), lg=4))
            continue
        figure = (
            explanation_figure(explanation)
            if explanation.contributions
            else empty_figure("Nothing to explain")
        )
        cards.append(
            dbc.Col(
                create_card(
                    title,
                    [
                        html.Div(
                            explanation.label,
                            className="fw-semibold mb-1",
                            id=f"customer-explain-{target}",
                        ),
                        dcc.Graph(figure=figure, config=GRAPH_CONFIG),
                        html.Small(f"Local fit R² {explanation.score:.2f}", className="text-muted"),
                    ],
                ),
                xl=4,
            )
        )
    return dbc.Row(cards, className="g-3")
