"""The REST API for CRMs and email tools: ``/api/v1`` on the app's own Flask server.

- ``GET /api/v1/customers/<customer_id>``: one customer's segment, persona, RFM segment, churn
  probability and band, predicted CLV, quadrant, recommended action and cross-sell products;
- ``GET /api/v1/segments?format=json|csv``: the same for every customer, streamed;
- ``POST /api/v1/score``: one customer's transactions in, the same fields out, scored with the
  current models (:mod:`analytics.scoring`); nothing is stored;
- ``GET /api/v1/openapi.json``: the OpenAPI 3 description (:mod:`dashboard.api_spec`), public.

Every number comes from the same cached :class:`dashboard.service.Service` calls the pages make,
at the app's default segmentation settings, on ``settings.api_dataset`` (the bundled data unless
``SEGMENTA_API_DATASET`` says otherwise). The API never reads a browser session and never serves an
upload. Nothing is trained in a request: before the churn and CLV models are trained (the
Churn & CLV page does it) those fields are null and ``notes`` says how to get them.

Requests carry ``Authorization: Bearer <key>`` (:mod:`dashboard.api_keys`); a missing, malformed,
wrong or revoked key gets 401, a key over its rate gets 429 with ``Retry-After``, a bad body
gets 422 naming the field.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import time

import flask
import polars as pl
from werkzeug.exceptions import RequestEntityTooLarge

from analytics.errors import DataError, SegmentaError
from analytics.export import iter_csv
from dashboard.api_keys import KeyStore, RateLimiter
from dashboard.api_spec import openapi_document
from dashboard.segment_settings import params_from_saved
from dashboard.service import Service
from dashboard.settings import Settings

log = logging.getLogger("segmenta")
PREFIX = "/api/v1"
HORIZON_DAYS = 90  # the Customer and Churn & CLV pages' default horizon
CROSS_SELL_TOP = 5
STREAM_ROWS = 1000
#: Fields of one posted transaction: name -> (required, kind).
TRANSACTION_FIELDS = {
    "invoice_id": (True, "id"),
    "invoice_date": (True, "datetime"),
    "product_id": (False, "id"),
    "description": (False, "text"),
    "quantity": (True, "number"),
    "unit_price": (False, "number"),
    "amount": (False, "number"),
    "country": (False, "text"),
}
NOT_TRAINED = (
    "Churn probability, predicted CLV, quadrant and recommended action are null: the churn and "
    "CLV models are not trained on this dataset yet. Open the app's Churn & CLV page once (it "
    "trains them in the background), then ask again."
)
NO_RULES = (
    "cross_sell is null: the basket rules are not mined yet. Open the app's Baskets page once "
    "(it mines them in the background), then ask again."
)


class ApiError(Exception):
    """An error answered as JSON: ``{"error": message[, "field": field]}`` with ``status``."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def _error(status: int, message: str, field: str | None = None, **headers) -> flask.Response:
    body = {"error": message} | ({"field": field} if field else {})
    response = flask.Response(json.dumps(body), status=status, mimetype="application/json")
    response.headers.update(headers)
    return response


def create_blueprint(settings: Settings, service: Service) -> flask.Blueprint:
    """The ``/api/v1`` blueprint, reading ``settings.api_dataset`` through ``service``."""
    api = flask.Blueprint("api_v1", __name__, url_prefix=PREFIX)
    keys = KeyStore.for_settings(settings)
    limiter = RateLimiter.for_settings(settings)
    dataset_id = settings.api_dataset
    params = params_from_saved(None)  # the app's default segmentation settings

    @api.before_request
    def _authenticate():
        if flask.request.endpoint == "api_v1.openapi":
            return None
        header = flask.request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            return _error(
                401,
                "This request has no API key. Send it as 'Authorization: Bearer <key>'; create "
                "one with: python -m dashboard keys create --name NAME",
                **{"WWW-Authenticate": 'Bearer realm="segmenta"'},
            )
        key = keys.verify(token.strip()) if scheme.lower() == "bearer" else None
        if key is None:
            return _error(
                401,
                "The API key is not valid (wrong, revoked or not sent as 'Authorization: "
                "Bearer <key>'). Ask your Segmenta administrator for a key.",
                **{"WWW-Authenticate": 'Bearer realm="segmenta", error="invalid_token"'},
            )
        wait = limiter.take(key.id)
        if wait > 0:
            seconds = max(1, math.ceil(wait))
            return _error(
                429,
                f"Too many requests for this API key (limit {settings.api_rate_per_minute} per "
                f"minute, bursts of {settings.api_burst}). Retry in {seconds} s.",
                **{"Retry-After": str(seconds)},
            )
        flask.g.api_key = key
        allowed = {"format"} if flask.request.endpoint == "api_v1.segments" else set()
        unknown = sorted(set(flask.request.args) - allowed)
        if unknown:
            return _error(
                422,
                f"Unknown query parameter {unknown[0]!r}"
                + (": this endpoint takes format." if allowed else ": this endpoint takes none.")
                + " The API serves one dataset (SEGMENTA_API_DATASET); it cannot be chosen per "
                "request.",
                unknown[0],
            )
        try:
            service.source(dataset_id)
        except SegmentaError:
            return _error(
                503,
                f"The API's dataset {dataset_id!r} (SEGMENTA_API_DATASET) is not available on "
                "this server. Ask its administrator to set SEGMENTA_API_DATASET to an available "
                f"dataset, or to leave it unset for the bundled data.",
            )
        return None

    @api.errorhandler(ApiError)
    def _api_error(error: ApiError):
        return _error(error.status, error.message, error.field)

    @api.errorhandler(RequestEntityTooLarge)
    def _too_large(_error):
        return _too_large_response(settings)

    @api.errorhandler(SegmentaError)
    def _segmenta_error(error: SegmentaError):
        return _error(422, str(error))

    @api.get("/openapi.json")
    def openapi():
        return flask.jsonify(openapi_document(settings))

    @api.get("/customers/<customer_id>")
    def customer(customer_id: str):
        table, status = service.api_customers(dataset_id, params, HORIZON_DAYS)
        row = table.filter(pl.col("customer_id") == customer_id)
        if row.height == 0:
            raise ApiError(
                404,
                f"No customer {customer_id!r} with a purchase in the API's dataset "
                f"({service.source(dataset_id).label}). Check the id (ids are matched exactly, "
                "as text).",
                "customer_id",
            )
        notes = [] if status["predictions"] else [NOT_TRAINED]
        offers = service.api_cross_sell(
            dataset_id, service.api_bought(dataset_id).get(customer_id, []), CROSS_SELL_TOP
        )
        if offers is None:
            notes.append(NO_RULES)
        answer = _customer_json(row.row(0, named=True), settings, _offers(offers), notes)
        return flask.jsonify(answer)

    @api.get("/segments")
    def segments():
        fmt = flask.request.args.get("format", "json")
        if fmt not in ("json", "csv"):
            raise ApiError(422, f"format must be 'json' or 'csv'. Got {fmt!r} instead.", "format")
        table, status = service.api_customers(dataset_id, params, HORIZON_DAYS)
        flat = _flat(table)
        notes = [] if status["predictions"] else [NOT_TRAINED]
        if fmt == "csv":
            response = flask.Response(
                flask.stream_with_context(iter_csv(flat, STREAM_ROWS)), mimetype="text/csv"
            )
            response.headers["Content-Disposition"] = 'attachment; filename="segments.csv"'
            if notes:
                response.headers["X-Segmenta-Note"] = notes[0]
            return response
        head = {
            "dataset": service.source(dataset_id).label,
            "horizon_days": HORIZON_DAYS,
            "currency": settings.currency,
            "customers_total": flat.height,
            "notes": notes,
        }
        return flask.Response(
            flask.stream_with_context(_iter_json(head, flat)), mimetype="application/json"
        )

    @api.post("/score")
    def score():
        body = _read_body(settings)
        customer_id, as_of, frame = _parse_score_body(body, settings)
        return flask.jsonify(
            _score(service, dataset_id, params, settings, customer_id, as_of, frame)
        )

    return api


def install(server: flask.Flask, settings: Settings, service: Service) -> None:
    """Register the API on the app's Flask server."""
    server.register_blueprint(create_blueprint(settings, service))


# -- answers ------------------------------------------------------------------------------------
def _num(value) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _offers(table: pl.DataFrame | None) -> list[dict] | None:
    """Cross-sell rows as JSON (None: the rules are not mined yet)."""
    if table is None:
        return None
    return [
        {
            "product": r["item"],
            "confidence": r["confidence"],
            "lift": r["lift"],
            "because_bought": r["because"],
        }
        for r in table.iter_rows(named=True)
    ]


def _customer_json(row: dict, settings: Settings, products, notes: list[str]) -> dict:
    """One customer's answer; ``row`` is a row of :meth:`Service.api_customers`' table."""
    trained = row.get("churn_probability") is not None
    return {
        "customer_id": row["customer_id"],
        "segment": {"id": row["segment"], "name": row["segment_name"]},
        "persona": {
            "name": row["segment_name"],
            "description": row["persona"],
            "action": row["persona_action"],
        },
        "rfm": {
            "segment": row["rfm_segment"],
            "score": row["rfm_score"],
            "action": row["rfm_action"],
        },
        "churn": {
            "probability": _num(row.get("churn_probability")),
            "band": row.get("churn_band"),
            "p_alive": _num(row.get("p_alive")),
            "horizon_days": HORIZON_DAYS,
        },
        "clv": {
            "predicted": _num(row.get("predicted_clv")),
            "low": _num(row.get("clv_low")),
            "high": _num(row.get("clv_high")),
            "horizon_days": HORIZON_DAYS,
            "currency": settings.currency,
        },
        "quadrant": row.get("quadrant"),
        "recommended_action": row.get("action") if trained else None,
        "cross_sell": products,
        "notes": notes,
    }


#: The flat columns of ``/segments`` (JSON objects and CSV columns).
FLAT_COLUMNS = (
    "customer_id",
    "segment",
    "segment_name",
    "rfm_segment",
    "rfm_score",
    "churn_band",
    "p_alive",
    "churn_probability",
    "predicted_clv",
    "clv_low",
    "clv_high",
    "quadrant",
    "recommended_action",
)


def _flat(table: pl.DataFrame) -> pl.DataFrame:
    return table.rename({"action": "recommended_action"}).select(FLAT_COLUMNS)


def _iter_json(head: dict, flat: pl.DataFrame):
    """``head`` then ``"customers": [...]`` as one JSON object, in chunks of rows."""
    yield json.dumps(head)[:-1] + ', "customers": ['
    for start in range(0, flat.height, STREAM_ROWS):
        chunk = flat.slice(start, STREAM_ROWS).write_json()[1:-1]
        yield ("," if start else "") + chunk
    yield "]}"


# -- POST /score: the body --------------------------------------------------------------------
def _too_large_response(settings: Settings) -> flask.Response:
    response = _error(
        413,
        f"The request body is larger than the API's limit of {settings.api_max_body_kb:,} KB "
        "(SEGMENTA_API_MAX_BODY_KB). Send fewer transactions per request.",
        "body",
    )
    response.headers["Connection"] = "close"
    return response


def _read_body(settings: Settings):
    limit = settings.api_max_body_bytes
    length = flask.request.content_length
    if length is not None and length > limit:
        raise RequestEntityTooLarge()
    flask.request.max_content_length = limit  # a body without Content-Length stops at the limit
    if not (flask.request.mimetype or "").endswith("json"):
        raise ApiError(422, "Send the body as JSON with 'Content-Type: application/json'.", "body")
    try:
        return json.loads(flask.request.get_data(cache=True) or b"null")
    except (ValueError, UnicodeDecodeError) as error:
        raise ApiError(422, f"The body is not valid JSON ({error}).", "body") from None


def _parse_datetime(value, field: str) -> dt.datetime:
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            parsed = None
        if parsed is not None:
            if parsed.tzinfo is not None:  # the logs' dates are naive local times
                parsed = parsed.replace(tzinfo=None)
            return parsed
    raise ApiError(
        422,
        f"{field} must be an ISO 8601 date or date-time such as '2011-12-09' or "
        f"'2011-12-09T12:50:00'. Got {value!r} instead.",
        field,
    )


def _parse_score_body(body, settings: Settings) -> tuple[str, dt.datetime | None, pl.DataFrame]:
    """Check the body field by field; return the customer id, ``as_of`` and a canonical log."""
    if not isinstance(body, dict):
        raise ApiError(
            422,
            "The body must be a JSON object with 'customer_id' and 'transactions'.",
            "body",
        )
    unknown = sorted(set(body) - {"customer_id", "transactions", "as_of"})
    if unknown:
        raise ApiError(
            422,
            f"Unknown field {unknown[0]!r}: the body takes customer_id, transactions and as_of.",
            unknown[0],
        )
    customer_id = body.get("customer_id")
    if isinstance(customer_id, int) and not isinstance(customer_id, bool):
        customer_id = str(customer_id)
    if not isinstance(customer_id, str) or not customer_id.strip() or len(customer_id) > 64:
        raise ApiError(
            422, "customer_id must be a non-empty text of at most 64 characters.", "customer_id"
        )
    as_of = body.get("as_of")
    as_of = None if as_of is None else _parse_datetime(as_of, "as_of")
    rows = body.get("transactions")
    if not isinstance(rows, list) or not rows:
        raise ApiError(
            422, "transactions must be a non-empty list of transaction objects.", "transactions"
        )
    if len(rows) > settings.api_max_rows:
        raise ApiError(
            422,
            f"transactions has {len(rows):,} rows; the API scores at most "
            f"{settings.api_max_rows:,} per request (SEGMENTA_API_MAX_ROWS).",
            "transactions",
        )
    columns: dict[str, list] = {name: [] for name in TRANSACTION_FIELDS}
    for i, row in enumerate(rows):
        where = f"transactions[{i}]"
        if not isinstance(row, dict):
            raise ApiError(422, f"{where} must be an object.", where)
        extra = sorted(set(row) - set(TRANSACTION_FIELDS) - {"customer_id"})
        if extra:
            raise ApiError(
                422,
                f"{where}.{extra[0]} is not a transaction field. Fields: "
                f"{', '.join(TRANSACTION_FIELDS)}.",
                f"{where}.{extra[0]}",
            )
        if "customer_id" in row and str(row["customer_id"]) != customer_id:
            raise ApiError(
                422,
                f"{where}.customer_id is {row['customer_id']!r}, not the body's customer_id "
                f"{customer_id!r}: send one customer per request.",
                f"{where}.customer_id",
            )
        if row.get("unit_price") is None and row.get("amount") is None:
            raise ApiError(422, f"{where} needs unit_price (or amount).", f"{where}.unit_price")
        for name, (required, kind) in TRANSACTION_FIELDS.items():
            columns[name].append(_field(row.get(name), f"{where}.{name}", required, kind))
    frame = pl.DataFrame(
        {
            "customer_id": [customer_id] * len(rows),
            **{k: columns[k] for k in ("invoice_id", "invoice_date", "product_id", "description")},
            "quantity": columns["quantity"],
            "unit_price": columns["unit_price"],
            "amount": [
                a if a is not None else q * p
                for a, q, p in zip(
                    columns["amount"], columns["quantity"], columns["unit_price"], strict=True
                )
            ],
            "country": columns["country"],
        },
        schema={
            "customer_id": pl.String,
            "invoice_id": pl.String,
            "invoice_date": pl.Datetime("us"),
            "product_id": pl.String,
            "description": pl.String,
            "quantity": pl.Float64,
            "unit_price": pl.Float64,
            "amount": pl.Float64,
            "country": pl.String,
        },
    )
    if as_of is not None:
        late = frame.get_column("invoice_date") >= as_of
        if late.any():
            i = int(late.arg_max())
            raise ApiError(
                422,
                f"transactions[{i}].invoice_date is on or after as_of ({as_of:%Y-%m-%d %H:%M}): "
                "send only transactions before as_of, or a later as_of.",
                f"transactions[{i}].invoice_date",
            )
    return customer_id, as_of, frame


def _field(value, field: str, required: bool, kind: str):
    if value is None:
        if required:
            raise ApiError(422, f"{field} is required.", field)
        return None
    if kind == "datetime":
        return _parse_datetime(value, field)
    if kind == "number":
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            raise ApiError(422, f"{field} must be a finite number. Got {value!r} instead.", field)
        return float(value)
    if kind == "id":
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str) or not value.strip() or len(value) > 64:
            raise ApiError(
                422, f"{field} must be a non-empty text of at most 64 characters.", field
            )
        return value
    if not isinstance(value, str) or len(value) > 500:
        raise ApiError(422, f"{field} must be a text of at most 500 characters.", field)
    return value


# -- POST /score: the scores ------------------------------------------------------------------
def _score(service, dataset_id, params, settings, customer_id, as_of, frame) -> dict:
    """Score the posted customer with the dataset's fitted models; nothing is stored."""
    started = time.perf_counter()
    try:
        scored = service.api_score(dataset_id, params, frame, as_of, HORIZON_DAYS)
    except DataError as error:  # cleaning found nothing to score
        raise ApiError(422, str(error), "transactions") from None
    notes = [] if scored["predictions"] else [NOT_TRAINED]
    notes += [scored["note"]] if scored["note"] else []
    offers = service.api_cross_sell(dataset_id, scored["items"], CROSS_SELL_TOP)
    if offers is None:
        notes.append(NO_RULES)
    answer = _customer_json(scored["row"], settings, _offers(offers), notes)
    answer |= {
        "customer_id": customer_id,
        "as_of": scored["as_of"].isoformat(),
        "transactions_used": scored["rows"],
        "stored": False,
    }
    log.debug("Scored a posted customer in %.3f s", time.perf_counter() - started)
    return answer
