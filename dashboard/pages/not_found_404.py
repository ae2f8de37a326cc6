"""The page shown for unknown addresses."""

import dash
from dash import dcc, html

dash.register_page(__name__, path="/404", name="Not found", title="Not found · Segmenta")


def layout(**_query):
    return html.Div(
        [
            html.H3("Page not found", className="page-title"),
            html.P("There is no page at this address."),
            dcc.Link("Back to the overview", href="/"),
        ],
        className="py-4",
    )
