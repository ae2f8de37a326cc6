"""The server side of hostile input: the upload route, dataset ownership and security headers.

- ``POST /upload`` streams the request body to a private file (0600, in a 0700 folder) in 1 MB
  chunks, so a request costs a megabyte of memory whatever its size. Bodies over
  ``settings.max_upload_bytes`` are refused with 413 from their ``Content-Length``, before
  anything is read (``MAX_CONTENT_LENGTH``), or as soon as a stream without one passes it. The
  columns are then read from the file's header by a job process under the job ceilings; the
  whole file is parsed later, in the background load job. A refused or unreadable upload leaves
  nothing on disk.
- Every browser gets a random owner id in Flask's signed session cookie (the server, not the page,
  knows who it is). An upload records its owner, and any request naming an upload id (``u-`` and
  32 hex digits) anywhere in its body or query, a Dash callback included, is refused with 403
  unless it comes from that owner: whatever id another session sends, it can neither read nor
  change the dataset. The REST API (``/api/...``) is outside this guard: it has no session and
  serves only ``SEGMENTA_API_DATASET``, never an upload (:mod:`dashboard.api`).
- Every response carries ``X-Frame-Options: DENY``, ``Content-Security-Policy:
  frame-ancestors 'none'``, ``X-Content-Type-Options: nosniff`` and
  ``Referrer-Policy: same-origin``.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from urllib.parse import unquote

import flask

from analytics.errors import SegmentaError
from dashboard.jobs import JobFailed, run_task
from dashboard.service import Service, UploadTooLarge
from dashboard.settings import Settings

log = logging.getLogger("segmenta")
UPLOAD_ROUTE = "/upload"
_UPLOAD_ID_IN_TEXT = re.compile(r"u-[0-9a-f]{32}")
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
#: Largest body of any other request (Dash callbacks carry ids, not data): 16 MB.
MAX_OTHER_REQUEST_BYTES = 16 * 2**20


def owner_id() -> str:
    """Who owns this request's uploads: the signed-in user (``user:NAME``, the same on every
    browser), or without logins this browser's random id in the signed session cookie."""
    from dashboard.auth import current_user, logins_enabled

    user = current_user()
    if logins_enabled() and user is not None:
        return f"user:{user.name}"
    owner = flask.session.get("owner")
    if not isinstance(owner, str) or not re.fullmatch(r"[0-9a-f]{32}", owner):
        owner = secrets.token_hex(16)
        flask.session["owner"] = owner
        flask.session.permanent = True
    return owner


def install(server: flask.Flask, settings: Settings, service: Service) -> None:
    """Add the upload route, the ownership guard and the security headers to ``server``."""
    server.config["MAX_CONTENT_LENGTH"] = settings.max_upload_bytes
    server.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    server.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    # The cookie is written only when the session changes (sign-in, sign-out, a new owner id).
    # Flask re-sent a permanent session's cookie with every response, so a slow callback started
    # before a sign-in answered after it with the old cookie and signed the user out.
    server.config["SESSION_REFRESH_EACH_REQUEST"] = False

    @server.before_request
    def _guard_datasets():
        if flask.request.path.startswith("/api/"):
            return None  # the REST API has no session and never names an upload (dashboard/api.py)
        owner = owner_id()
        if flask.request.path == UPLOAD_ROUTE:
            return None
        flask.request.max_content_length = min(MAX_OTHER_REQUEST_BYTES, settings.max_upload_bytes)
        named = set(_UPLOAD_ID_IN_TEXT.findall(flask.request.query_string.decode("latin-1")))
        if flask.request.method == "POST" and flask.request.content_length:
            named |= set(_UPLOAD_ID_IN_TEXT.findall(flask.request.get_data(as_text=True)))
        for dataset_id in named:
            if service.upload_owner(dataset_id) not in (None, owner):
                log.warning("Refused dataset %s to another session", dataset_id)
                return _refuse(
                    403,
                    "This dataset belongs to another user or browser session. Upload the file "
                    "again on the Data page, or use the bundled data.",
                )
        return None

    @server.after_request
    def _security_headers(response: flask.Response) -> flask.Response:
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    @server.errorhandler(413)
    def _too_large(_error):
        return _refuse(
            413,
            f"The file is larger than this app's upload limit of {settings.max_upload_mb:,} MB. "
            "Upload a smaller file (for example a shorter date range), or compress it as .csv.gz.",
        )

    @server.post(UPLOAD_ROUTE)
    def _upload():
        filename = unquote(flask.request.headers.get("X-Filename", "")).strip() or "upload.csv"
        filename = filename.replace("\\", "/").rsplit("/", 1)[-1][:200]
        # A body without Content-Length (and not a terminated chunked stream) reads as empty.
        dataset_id = None
        try:
            dataset_id = service.store_upload(
                flask.request.stream, filename, owner_id(), settings.max_upload_bytes
            )
            columns = run_task(settings, "inspect", dataset_id=dataset_id)["columns"]
        except SegmentaError as error:
            service.discard_upload(dataset_id)
            status = 413 if isinstance(error, UploadTooLarge) else 400
            return _refuse(status, str(error))
        except JobFailed:
            service.discard_upload(dataset_id)
            log.exception("Reading the header of upload %s failed", filename)
            return _refuse(
                400,
                f"{filename}: the file could not be read. Check that it is a CSV, "
                "Excel or Parquet file and try again.",
            )
        except BaseException:
            service.discard_upload(dataset_id)
            raise
        return flask.jsonify({"dataset_id": dataset_id, "filename": filename, "columns": columns})


def _refuse(status: int, message: str) -> flask.Response:
    response = flask.Response(
        json.dumps({"error": message}), status=status, mimetype="application/json"
    )
    # the body was not (fully) read: do not let the client reuse the connection for another request
    response.headers["Connection"] = "close"
    return response
