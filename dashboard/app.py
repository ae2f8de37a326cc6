"""The app factory: ``create_app(settings)`` returns a configured Dash app."""

from __future__ import annotations

import os
from pathlib import Path

import dash
import dash_bootstrap_components as dbc
import diskcache

from analytics.errors import set_audience
from dashboard.background import JobManager
from dashboard.components.shell import create_shell
from dashboard.errors import handle_callback_error
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
    manager = JobManager(diskcache.Cache(str(settings.cache_dir / "jobs")))
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
    install_uploads(app.server, settings, app.server.config["SEGMENTA_SERVICE"])
    app.layout = create_shell
    _register_shell_callbacks(app)
    return app


def _register_shell_callbacks(app: dash.Dash) -> None:
    @app.callback(dash.Output("topbar-dataset", "children"), dash.Input("dataset-id", "data"))
    def show_dataset(dataset_id: str) -> str:
        return service().source(dataset_id).label


def settings() -> Settings:
    """The running app's settings (works in callbacks and in forked background jobs)."""
    return dash.get_app().server.config["SEGMENTA_SETTINGS"]


def service() -> Service:
    """The running app's analytics service."""
    return dash.get_app().server.config["SEGMENTA_SERVICE"]


__all__ = ["create_app", "dbc", "service", "settings"]
