"""The app factory: ``create_app(settings)`` returns a configured Dash app."""

from __future__ import annotations

import dataclasses
import logging
import os
import threading
from pathlib import Path

import dash
import dash_bootstrap_components as dbc

from analytics.errors import SegmentaError, set_audience
from dashboard.api import install as install_api
from dashboard.auth import install as install_auth
from dashboard.components.shell import create_needs_log_alert, create_shell, needs_log_page
from dashboard.errors import ALERT_ID, handle_callback_error
from dashboard.figures.common import install_template
from dashboard.job_manager import make_manager
from dashboard.service import Service
from dashboard.settings import Settings
from dashboard.uploads import install as install_uploads

HERE = Path(__file__).resolve().parent


def create_app(settings: Settings | None = None) -> dash.Dash:
    """Build the Dash app on ``settings`` (default: from the environment).

    One diskcache folder (``settings.cache_dir``, absolute) holds the background-job store and
    the analytics results, so every gunicorn worker sees the same jobs and the same results.
    """
    settings = settings or Settings.from_env()
    settings.configure_logging()
    set_audience("web")  # messages name the page's fields, not the CLI's flags
    # Every file this process and its jobs create (uploads, cleaned data, caches) is private.
    os.umask(0o077)
    settings.cache_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    install_template()
    manager = make_manager(settings)
    app = dash.Dash(
        __name__,
        use_pages=True,
        pages_folder=str(HERE / "pages"),
        assets_folder=str(HERE.parent / "assets"),
        background_callback_manager=manager,
        on_error=handle_callback_error,
        suppress_callback_exceptions=True,
        title="Segmenta",
        update_title=None,
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
    )
    app.server.secret_key = settings.secret_key
    app.server.config["SEGMENTA_SETTINGS"] = settings
    app.server.config["SEGMENTA_SERVICE"] = Service(settings)
    app.server.config["SEGMENTA_DASH"] = app
    app.server.config["SEGMENTA_JOB_MANAGER"] = manager  # the Celery worker takes its Celery app
    install_auth(app.server, settings)  # before the upload guard: it owns uploads by user
    install_uploads(app.server, settings, app.server.config["SEGMENTA_SERVICE"])
    install_api(app.server, settings, app.server.config["SEGMENTA_SERVICE"])
    app.layout = create_shell
    _register_shell_callbacks(app)
    if settings.warm_up:
        threading.Thread(
            target=_warm_up,
            args=(app.server.config["SEGMENTA_SERVICE"], settings.default_dataset),
            name="segmenta-warm-up",
            daemon=True,
        ).start()
    return app


def _register_shell_callbacks(app: dash.Dash) -> None:
    @app.callback(dash.Output("topbar-dataset", "children"), dash.Input("dataset-id", "data"))
    def show_dataset(dataset_id: str) -> str:
        return service().source(dataset_id).label

    @app.callback(
        dash.Output("shell-needs-log", "children"),
        dash.Output("shell-page", "style"),
        dash.Input("dataset-id", "data"),
        dash.Input("_pages_location", "pathname"),
    )
    def gate_transaction_pages(dataset_id: str, pathname: str | None):
        """A transaction page with a customer table active: a friendly alert instead of the page."""
        page = needs_log_page(pathname)
        if page is None:
            return None, {}
        try:
            source = service().source(dataset_id)
        except SegmentaError:
            return None, {}  # the page's own callbacks say what is wrong with the dataset
        if source.kind != "customers":
            return None, {}
        return create_needs_log_alert(page, source.label), {"display": "none"}

    # The shell's alert speaks about the page it was raised on: a new page closes it.
    app.clientside_callback(
        "function(path) { return false; }",
        dash.Output(ALERT_ID, "is_open", allow_duplicate=True),
        dash.Input("_pages_location", "pathname"),
        prevent_initial_call=True,
    )


def _warm_up(service: Service, dataset_id: str) -> None:
    """Compute what the first visitor sees (cleaned data, features, the default segmentation at
    every k of the slider and for every algorithm, overview and basket rules), so nobody waits
    for it; the per-result locks make workers share
    the work. Mining runs in a fresh process, as a job does (this process has threads)."""
    from analytics.basket_analysis import BasketParams
    from analytics.periods import default_period
    from analytics.segmentation import ALGORITHMS
    from dashboard.jobs import run_task
    from dashboard.segment_settings import K_SLIDER, params_from_saved

    try:
        first, last = service.date_range(dataset_id)
        service.overview(dataset_id, *default_period(first, last))
        default = params_from_saved(None)
        service.segmentation(dataset_id, default)
        if service.quick_rules(dataset_id, BasketParams()) is None:
            run_task(
                service.settings, "rules", dataset_id=dataset_id, params=BasketParams().to_dict()
            )
        # Every k the slider offers, then each other algorithm with its defaults, so moving the
        # slider or picking an algorithm answers from the cache. In a fresh process: this
        # worker's threads keep serving while it runs (the per-result locks share the work).
        others = [dataclasses.replace(default, k=k) for k in range(K_SLIDER[0], K_SLIDER[1] + 1)]
        others += [params_from_saved({"algorithm": a}) for a in ALGORITHMS]
        run_task(
            service.settings,
            "segmentations",
            background=True,
            dataset_id=dataset_id,
            params=[p.to_dict() for p in others],
        )
    except Exception:  # noqa: BLE001 - a failed warm-up only means the first visitor waits
        logging.getLogger("segmenta").exception("Warming up %s failed", dataset_id)


def settings() -> Settings:
    """The running app's settings (works in callbacks and in forked background jobs)."""
    return dash.get_app().server.config["SEGMENTA_SETTINGS"]


def service() -> Service:
    """The running app's analytics service."""
    return dash.get_app().server.config["SEGMENTA_SERVICE"]


__all__ = ["create_app", "dbc", "service", "settings"]
