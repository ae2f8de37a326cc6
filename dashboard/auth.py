"""Who is asking, and what they may do: logins, the trusted proxy header and role checks.

Three modes, decided per request:

- **no users** (``python -m dashboard users list`` is empty) and no proxy header configured: the
  app runs for a single local user, with every right, as before logins existed; the top bar says so;
- **own logins**: ``GET /login`` shows a form, ``POST /login`` checks the password and puts the
  user's name in Flask's signed session cookie, ``/logout`` clears it. The user's role is read
  from the store on every request, so removing a user or changing a role applies at once;
- **trusted proxy** (``SEGMENTA_AUTH_HEADER``, e.g. ``X-Remote-User``): a reverse proxy doing
  single sign-on names the user in that header, and the role comes from
  ``SEGMENTA_AUTH_ROLE_HEADER`` when set, else from the user store, else ``viewer``. Only
  honoured when the setting is on; the proxy must strip the header from clients' requests.

Without a user, pages redirect to ``/login`` and other requests get 401. The REST API
(``/api/...``) is outside: it has its own keys (:mod:`dashboard.api`).

Rights are enforced by the server, in one ``before_request`` hook:

- ``POST /upload`` needs an analyst (403 JSON for a viewer);
- a Dash callback request (``/_dash-update-component``) whose callback was registered with
  ``job_callback(..., viewer=False)`` (or a ``viewer`` predicate that says no for these inputs)
  is refused for a viewer: the job never starts and the page's alert says why.
"""

from __future__ import annotations

import html
import json
import logging
from collections.abc import Callable
from urllib.parse import urlsplit

import flask
from dash import _callback as dash_callback

from dashboard.errors import ALERT_ID
from dashboard.settings import Settings
from dashboard.users import NAME_PATTERN, ROLES, User, UserStore

log = logging.getLogger("segmenta")
LOGIN_ROUTE = "/login"
LOGOUT_ROUTE = "/logout"
LOCAL_USER = User("local", "admin")
SINGLE_USER_NOTE = "Single local user — no logins configured"
WRONG_PASSWORD = "Wrong user name or password. Check both and try again."
VIEWER_REFUSED = (
    "Viewers cannot start this: it would {what}. Ask an analyst or an admin to do it, "
    "or to give you the analyst role."
)
#: What each refused job would have done, for the viewer's message.
JOB_WORDS = {
    "upload": "upload data",
    "train": "train the churn and CLV models",
    "mine": "mine new basket rules",
    "job": "change the data or train models",
}
SSO_ONLY = (
    "You are not signed in: this app takes your name from the company's single sign-on. "
    "Open it through the sign-on address."
)
_OPEN = ("/_dash-component-suites/", "/assets/", "/_favicon.ico", "/favicon.ico")


def current_user() -> User | None:
    """The user of this request (``LOCAL_USER`` when the app has no logins); None if signed out."""
    return flask.g.get("segmenta_user") if flask.has_request_context() else None


def request_service():
    """The service of the app serving this request (for ``viewer`` rules, run before Dash)."""
    return flask.current_app.config["SEGMENTA_SERVICE"]


def logins_enabled() -> bool:
    """Whether this request's app has logins (users, or the trusted proxy header)."""
    return flask.has_request_context() and bool(flask.g.get("segmenta_logins"))


def viewer_rule(fn: Callable) -> Callable | bool:
    """The ``viewer`` rule recorded on a Dash callback function by ``job_callback`` (True: none)."""
    while fn is not None:
        if "segmenta_viewer" in getattr(fn, "__dict__", {}):
            return fn.segmenta_viewer
        fn = getattr(fn, "__wrapped__", None)
    return True


def install(server: flask.Flask, settings: Settings) -> None:
    """Add login, logout and the role guard to ``server`` (before the upload guard)."""
    store = UserStore.for_settings(settings)

    @server.before_request
    def _authenticate():
        request = flask.request
        if request.path.startswith("/api/"):
            return None  # API keys, not users (dashboard/api.py)
        user, logins = _identify(settings, store)
        flask.g.segmenta_user = user
        flask.g.segmenta_logins = logins
        if request.path in (LOGIN_ROUTE, LOGOUT_ROUTE) or request.path.startswith(_OPEN):
            return None
        if user is None:
            if settings.auth_header:
                return _json(401, SSO_ONLY)
            if request.method == "GET" and "text/html" in request.headers.get("Accept", ""):
                return flask.redirect(f"{LOGIN_ROUTE}?next={_safe_next(request.full_path)}")
            return _json(401, "You are signed out. Sign in again at /login.")
        if user.may("analyst"):
            return None
        if request.path == "/upload":
            log.warning("Refused an upload to viewer %s", user.name)
            return _json(403, VIEWER_REFUSED.format(what=JOB_WORDS["upload"]))
        if request.path == "/_dash-update-component" and request.method == "POST":
            return _guard_callback(user)
        return None

    @server.get(LOGIN_ROUTE)
    def _login_form():
        if flask.g.get("segmenta_user") is not None and flask.g.get("segmenta_logins"):
            return flask.redirect(_safe_next(flask.request.args.get("next", "/")))
        if settings.auth_header:
            return _json(401, SSO_ONLY)
        return _login_page(flask.request.args.get("next", "/"))

    @server.post(LOGIN_ROUTE)
    def _login():
        name = flask.request.form.get("username", "").strip()
        password = flask.request.form.get("password", "")
        target = flask.request.form.get("next", "/")
        if settings.auth_header:
            return _json(400, SSO_ONLY)
        user = store.authenticate(name, password) if NAME_PATTERN.match(name) else None
        if user is None:
            log.warning("Failed sign-in for %r", name[:64])
            # 200: the form again, with the message (browsers log a 401 page as an error)
            return _login_page(target, WRONG_PASSWORD, name)
        flask.session.clear()  # a new session: nothing of a previous user carries over
        flask.session["user"] = user.name
        flask.session.permanent = True
        log.info("%s signed in", user.name)
        return flask.redirect(_safe_next(target))

    @server.route(LOGOUT_ROUTE, methods=["GET", "POST"])
    def _logout():
        flask.session.clear()
        return flask.redirect(LOGIN_ROUTE)


def _identify(settings: Settings, store: UserStore) -> tuple[User | None, bool]:
    """(the request's user or None, whether logins are on)."""
    if settings.auth_header:
        name = flask.request.headers.get(settings.auth_header, "").strip()
        if not name or not NAME_PATTERN.match(name):
            return None, True
        role = flask.request.headers.get(settings.auth_role_header, "").strip().lower()
        if settings.auth_role_header and role in ROLES:
            return User(name, role), True
        stored = store.get(name)
        return User(name, stored.role if stored else "viewer"), True
    if not store.any():
        return LOCAL_USER, False
    name = flask.session.get("user")
    user = store.get(name) if isinstance(name, str) else None
    return user, True


def _guard_callback(user: User):
    body = flask.request.get_json(silent=True) or {}
    output = body.get("output")
    if not isinstance(output, str):
        return None
    app = flask.current_app.config.get("SEGMENTA_DASH")
    # Dash copies page callbacks into ``callback_map`` on its first request: look in both
    entry = (app.callback_map if app is not None else {}).get(output)
    entry = entry or dash_callback.GLOBAL_CALLBACK_MAP.get(output)
    if entry is None:
        return None
    rule = viewer_rule(entry.get("callback"))
    if rule is True:
        return None
    values = {}
    for item in [*body.get("inputs", []), *body.get("state", [])]:
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            values[f"{item['id']}.{item.get('property')}"] = item.get("value")
    if callable(rule):
        what = rule(values)
    else:
        what = rule if isinstance(rule, str) else "job"
    if what is None:
        return None
    log.warning("Refused callback %s to viewer %s", output, user.name)
    message = VIEWER_REFUSED.format(what=JOB_WORDS.get(what, what))
    # A Dash answer that updates nothing and opens the page's alert: the job never starts.
    response = flask.Response(
        json.dumps(
            {
                "multi": True,
                "response": {},
                "sideUpdate": {
                    ALERT_ID: {"children": message, "color": "warning", "is_open": True}
                },
                "error": message,
            }
        ),
        status=200,
        mimetype="application/json",
    )
    response.headers["X-Segmenta-Refused"] = "viewer"
    return response


def _json(status: int, message: str) -> flask.Response:
    return flask.Response(
        json.dumps({"error": message}), status=status, mimetype="application/json"
    )


def _safe_next(target: str) -> str:
    """Only a path on this site (no scheme, no host): never an open redirect."""
    parts = urlsplit(target or "/")
    if parts.scheme or parts.netloc or not parts.path.startswith("/") or target.startswith("//"):
        return "/"
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    return "/" if parts.path in (LOGIN_ROUTE, LOGOUT_ROUTE) else path


def _login_page(target: str, error: str = "", name: str = "") -> str:
    alert = (
        f'<div class="error" id="login-error" role="alert">{html.escape(error)}</div>'
        if error
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in · Segmenta</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body {{ font-family: system-ui, sans-serif; background: #f4f6f8; margin: 0; }}
form {{ max-width: 22rem; margin: 10vh auto; background: #fff; padding: 2rem;
  border-radius: .5rem; box-shadow: 0 1px 4px rgba(0,0,0,.15); }}
h1 {{ font-size: 1.4rem; color: #2c3e50; margin-top: 0; }}
label {{ display: block; margin: 1rem 0 .3rem; font-size: .9rem; }}
input[type=text], input[type=password] {{ width: 100%; box-sizing: border-box; padding: .5rem;
  border: 1px solid #ccd; border-radius: .3rem; font-size: 1rem; }}
button {{ margin-top: 1.5rem; width: 100%; padding: .6rem; background: #2c3e50; color: #fff;
  border: 0; border-radius: .3rem; font-size: 1rem; cursor: pointer; }}
.error {{ background: #fdecea; color: #922; padding: .6rem; border-radius: .3rem;
  margin-bottom: .5rem; font-size: .9rem; }}
</style></head>
<body><form method="post" action="{LOGIN_ROUTE}">
<h1>◆ Segmenta</h1>{alert}
<label for="username">User name</label>
<input type="text" id="username" name="username" value="{html.escape(name)}" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input type="password" id="password" name="password" autocomplete="current-password" required>
<input type="hidden" name="next" value="{html.escape(_safe_next(target))}">
<button type="submit" id="login-button">Sign in</button>
</form></body></html>"""
