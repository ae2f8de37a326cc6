"""The Celery workers' entry point: ``celery -A dashboard.celery_app worker --concurrency 2``.

The worker reads the same ``SEGMENTA_*`` environment as the web servers (``SEGMENTA_JOBS=celery``,
``SEGMENTA_REDIS_URL``, and ``SEGMENTA_CACHE_DIR`` naming the folder every host shares) and builds
the same Dash app, so it registers the pages' background callbacks under the task names the web
servers send. It never warms up the cache: that is the web servers' work, and a thread started
here would be inherited by the pool processes Celery forks.
"""

from __future__ import annotations

import dataclasses

from dashboard.settings import Settings


def _celery_app():
    settings = Settings.from_env()
    if settings.jobs != "celery":
        raise RuntimeError(
            "The Celery worker needs SEGMENTA_JOBS=celery and SEGMENTA_REDIS_URL (the Redis the "
            "web servers use), in the worker's environment as in the web servers'."
        )
    from dashboard.app import create_app

    dash_app = create_app(dataclasses.replace(settings, warm_up=False))
    return dash_app.server.config["SEGMENTA_JOB_MANAGER"].handle


#: What ``celery -A dashboard.celery_app`` runs: the Celery app with every page's job registered.
app = _celery_app()
