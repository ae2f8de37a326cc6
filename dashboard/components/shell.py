"""The app shell: top bar, side navigation, the shared alert and the session stores."""

from __future__ import annotations

import uuid

import dash
import dash_bootstrap_components as dbc
from dash import dcc, html

from dashboard.errors import create_alert

PRODUCT = "Segmenta"


def create_user_badge() -> html.Div:
    """Who is signed in, with their role and a sign-out link; or that the app has no logins."""
    from dashboard.auth import SINGLE_USER_NOTE, current_user, logins_enabled

    user = current_user()
    if not logins_enabled() or user is None:
        return html.Div(SINGLE_USER_NOTE, id="topbar-user", className="small text-white-50 ms-3")
    parts = [
        html.Span(user.name, id="topbar-user-name", className="text-white"),
        html.Span(f" ({user.role})", id="topbar-user-role", className="text-white-50"),
    ]
    if not dash.get_app().server.config["SEGMENTA_SETTINGS"].auth_header:
        parts.append(html.A("Sign out", href="/logout", className="text-white ms-2"))
    return html.Div(parts, id="topbar-user", className="small ms-3 text-nowrap")


def create_topbar() -> dbc.Navbar:
    """Product name on the left, the active dataset and the user on the right."""
    return dbc.Navbar(
        dbc.Container(
            [
                dbc.NavbarBrand(
                    [html.Span("◆ ", className="text-info"), PRODUCT], href="/", className="fw-bold"
                ),
                html.Div(
                    [
                        html.Span("Dataset: ", className="text-white-50 me-1"),
                        html.Span(id="topbar-dataset", className="text-white"),
                    ],
                    className="small text-truncate ms-auto",
                ),
                create_user_badge(),
            ],
            fluid=True,
        ),
        color="primary",
        dark=True,
        className="mb-0 shadow-sm",
    )


def create_sidebar() -> html.Nav:
    """Links to every registered page, in their ``order``."""
    links = [
        dbc.NavLink(
            page["name"],
            href=page["relative_path"],
            active="exact",
            id=f"nav-{page['module'].split('.')[-1]}",
        )
        for page in dash.page_registry.values()
        if page.get("path") not in (None, "/404") and not page["module"].endswith("not_found_404")
    ]
    return html.Nav(dbc.Nav(links, vertical=True, pills=True), className="app-sidebar p-3")


def create_shell() -> html.Div:
    """The whole page around ``dash.page_container``; a function so each load gets a new session id.

    The root's ``role-<role>`` class hides ``analyst-only`` controls from viewers (the server
    refuses what they start anyway: :mod:`dashboard.auth`).
    """
    from dashboard.auth import current_user

    user = current_user()
    return html.Div(
        [
            dcc.Store(id="session-id", storage_type="session", data=uuid.uuid4().hex),
            dcc.Store(
                id="dataset-id",
                storage_type="session",
                data=dash.get_app().server.config["SEGMENTA_SETTINGS"].default_dataset,
            ),
            create_topbar(),
            html.Div(
                [
                    create_sidebar(),
                    html.Main(
                        [
                            html.Div(id="shell-needs-log"),
                            # hidden with the page when it needs a log the dataset lacks: the
                            # page's own errors would say the same again
                            html.Div([create_alert(), dash.page_container], id="shell-page"),
                        ],
                        className="app-main p-3 p-lg-4",
                    ),
                ],
                className="app-body",
            ),
        ],
        className=f"role-{user.role}" if user is not None else None,
    )


def create_card(title: str, body, *, subtitle: str | None = None, class_name: str = "") -> dbc.Card:
    """A titled card: the unit every page is built from."""
    header = [html.H6(title, className="mb-0 fw-semibold")]
    if subtitle:
        header.append(html.Small(subtitle, className="text-muted"))
    return dbc.Card(
        [dbc.CardHeader(header, className="bg-white"), dbc.CardBody(body)],
        className=f"shadow-sm mb-3 {class_name}",
    )


def create_job_status(prefix: str, *extra) -> html.Div:
    """Progress bar and text of a background job, hidden until it runs (``extra``: shown with it).

    Ids: ``{prefix}-status`` (shown while running), ``{prefix}-progress``, ``{prefix}-progress-text``.
    """
    return html.Div(
        [
            dbc.Progress(
                id=f"{prefix}-progress",
                value=0,
                striped=True,
                animated=True,
                style={"height": "1.2rem"},
            ),
            html.Small(id=f"{prefix}-progress-text", className="text-muted"),
            *extra,
        ],
        id=f"{prefix}-status",
        style={"display": "none"},
        className="mb-2",
    )


#: Pages that analyse dated purchases: a customer table alone cannot feed them.
TRANSACTION_PAGES = ("/", "/churn", "/baskets", "/lifecycle", "/customer")


def needs_log_page(pathname: str | None) -> str | None:
    """The name of the transaction page at ``pathname`` (None for any other page)."""
    path = (pathname or "/").rstrip("/") or "/"
    for page in dash.page_registry.values():
        root = page["path"]
        if root in TRANSACTION_PAGES and (path == root or path.startswith(root.rstrip("/") + "/")):
            if root != "/" or path == "/":
                return page["name"]
    return None


def create_needs_log_alert(page: str, label: str) -> dbc.Alert:
    """The friendly stop on a transaction page when the active dataset is a customer table."""
    return dbc.Alert(
        [
            html.H5(f"{page} needs a transaction log", className="alert-heading"),
            html.P(
                f"The active dataset, {label}, is a customer table: one row per customer, with "
                "no purchases or dates. This page works on a transaction log (customer, date and "
                "amount per purchase).",
                className="mb-2",
            ),
            html.Div(
                [
                    dcc.Link("Load a transaction log on the Data page", href="/data"),
                    html.Span(" (you can join this table to it there), or ", className="mx-1"),
                    dcc.Link("segment the table on the Segments page", href="/segments"),
                    ".",
                ]
            ),
        ],
        color="info",
        id="shell-needs-log-alert",
    )
