"""WSGI entry point: ``gunicorn wsgi:server`` (settings from SEGMENTA_* environment variables)."""

from dashboard.app import create_app

app = create_app()
server = app.server
