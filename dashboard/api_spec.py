"""The OpenAPI 3.1 description of the REST API (:mod:`dashboard.api`), written as data.

Served at ``/api/v1/openapi.json``; tests validate it with ``openapi-spec-validator`` and check
that every route of the blueprint is described with its error responses.
"""

from __future__ import annotations

from dashboard.settings import Settings

_ERROR = {"$ref": "#/components/schemas/Error"}


def _json(schema: dict, description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*statuses: int) -> dict:
    return {str(s): {"$ref": f"#/components/responses/E{s}"} for s in statuses}


def _nullable(kind: str, description: str = "") -> dict:
    return {"type": [kind, "null"], **({"description": description} if description else {})}


def openapi_document(settings: Settings) -> dict:
    """The OpenAPI document for ``settings`` (limits and currency as configured)."""
    transaction = {
        "type": "object",
        "required": ["invoice_id", "invoice_date", "quantity"],
        "additionalProperties": False,
        "properties": {
            "invoice_id": {"type": ["string", "integer"], "description": "C... for a return"},
            "invoice_date": {"type": "string", "description": "ISO 8601 date or date-time"},
            "product_id": {"type": ["string", "integer", "null"]},
            "description": _nullable("string"),
            "quantity": {"type": "number", "description": "negative for a return"},
            "unit_price": _nullable("number", "required unless amount is given"),
            "amount": _nullable("number", "default quantity x unit_price"),
            "country": _nullable("string"),
            "customer_id": {
                "type": ["string", "integer"],
                "description": "optional; must equal the body's customer_id",
            },
        },
    }
    customer = {
        "type": "object",
        "required": [
            "customer_id",
            "segment",
            "persona",
            "rfm",
            "churn",
            "clv",
            "quadrant",
            "recommended_action",
            "cross_sell",
            "notes",
        ],
        "properties": {
            "customer_id": {"type": "string"},
            "segment": {
                "type": "object",
                "properties": {"id": {"type": "integer"}, "name": {"type": "string"}},
            },
            "persona": {
                "type": "object",
                "properties": {
                    "name": {"type": "string"},
                    "description": {"type": "string"},
                    "action": {"type": "string"},
                },
            },
            "rfm": {
                "type": "object",
                "properties": {
                    "segment": {"type": "string"},
                    "score": {"type": "string", "description": "R, F and M quintiles, e.g. 545"},
                    "action": {"type": "string"},
                },
            },
            "churn": {
                "type": "object",
                "properties": {
                    "probability": _nullable(
                        "number", "LightGBM churn probability over horizon_days; null until trained"
                    ),
                    "band": _nullable("string", "Low, Medium or High, from BG/NBD P(alive)"),
                    "p_alive": _nullable("number"),
                    "horizon_days": {"type": "integer"},
                },
            },
            "clv": {
                "type": "object",
                "properties": {
                    "predicted": _nullable("number", "net spend over horizon_days"),
                    "low": _nullable("number"),
                    "high": _nullable("number"),
                    "horizon_days": {"type": "integer"},
                    "currency": {"type": "string"},
                },
            },
            "quadrant": _nullable("string", "value x risk quadrant; null until trained"),
            "recommended_action": _nullable("string", "the quadrant's action; null until trained"),
            "cross_sell": {
                "type": ["array", "null"],
                "description": "null until the basket rules are mined",
                "items": {
                    "type": "object",
                    "properties": {
                        "product": {"type": "string"},
                        "confidence": {"type": "number"},
                        "lift": {"type": "number"},
                        "because_bought": {"type": "string"},
                    },
                },
            },
            "notes": {
                "type": "array",
                "items": {"type": "string"},
                "description": "what is missing and how to get it",
            },
        },
    }
    flat = {
        "type": "object",
        "properties": {
            name: {"type": kinds}
            for name, kinds in {
                "customer_id": "string",
                "segment": "integer",
                "segment_name": "string",
                "rfm_segment": "string",
                "rfm_score": "string",
                "churn_band": ["string", "null"],
                "p_alive": ["number", "null"],
                "churn_probability": ["number", "null"],
                "predicted_clv": ["number", "null"],
                "clv_low": ["number", "null"],
                "clv_high": ["number", "null"],
                "quadrant": ["string", "null"],
                "recommended_action": ["string", "null"],
            }.items()
        },
    }
    auth_errors = (401, 429, 503)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Segmenta API",
            "version": "1.0.0",
            "description": (
                "Segments, personas, churn and CLV scores of one dataset (the app's "
                "SEGMENTA_API_DATASET, by default the bundled data; never a browser upload), at the "
                "app's default segmentation settings. Send 'Authorization: Bearer <key>' (create "
                "keys with `python -m dashboard keys create --name NAME`). Each key may make "
                f"{settings.api_rate_per_minute} requests per minute, in bursts of up to "
                f"{settings.api_burst}."
            ),
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": {
            "/customers/{customer_id}": {
                "get": {
                    "operationId": "getCustomer",
                    "summary": "One customer's segment, persona, RFM, churn, CLV and actions",
                    "parameters": [
                        {
                            "name": "customer_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        }
                    ],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Customer"}, "The customer."),
                        **_errors(*auth_errors, 404, 422),
                    },
                }
            },
            "/segments": {
                "get": {
                    "operationId": "listSegments",
                    "summary": "Every customer's segment and scores, streamed",
                    "parameters": [
                        {
                            "name": "format",
                            "in": "query",
                            "required": False,
                            "schema": {
                                "type": "string",
                                "enum": ["json", "csv"],
                                "default": "json",
                            },
                        }
                    ],
                    "responses": {
                        "200": {
                            "description": "One row per customer (CSV text cells are neutralised "
                            "against spreadsheet formulas).",
                            "content": {
                                "application/json": {
                                    "schema": {
                                        "type": "object",
                                        "properties": {
                                            "dataset": {"type": "string"},
                                            "horizon_days": {"type": "integer"},
                                            "currency": {"type": "string"},
                                            "customers_total": {"type": "integer"},
                                            "notes": {"type": "array", "items": {"type": "string"}},
                                            "customers": {
                                                "type": "array",
                                                "items": {"$ref": "#/components/schemas/Row"},
                                            },
                                        },
                                    }
                                },
                                "text/csv": {"schema": {"type": "string"}},
                            },
                        },
                        **_errors(*auth_errors, 422),
                    },
                }
            },
            "/score": {
                "post": {
                    "operationId": "scoreCustomer",
                    "summary": "Score one customer's transactions with the current models "
                    "(nothing is stored)",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["customer_id", "transactions"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "customer_id": {"type": ["string", "integer"]},
                                        "as_of": {
                                            "type": "string",
                                            "description": "score as of this instant (default: "
                                            "the later of the dataset's scoring date and midnight "
                                            "after the last posted transaction)",
                                        },
                                        "transactions": {
                                            "type": "array",
                                            "minItems": 1,
                                            "maxItems": settings.api_max_rows,
                                            "items": transaction,
                                        },
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json(
                            {
                                "allOf": [
                                    {"$ref": "#/components/schemas/Customer"},
                                    {
                                        "type": "object",
                                        "properties": {
                                            "as_of": {"type": "string"},
                                            "transactions_used": {"type": "integer"},
                                            "stored": {"type": "boolean", "const": False},
                                        },
                                    },
                                ]
                            },
                            "The posted customer, scored.",
                        ),
                        **_errors(*auth_errors, 413, 422),
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "This document (no key needed)",
                    "security": [],
                    "responses": {"200": _json({"type": "object"}, "The OpenAPI document.")},
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {"type": "string", "description": "what is wrong and what to do"},
                        "field": {"type": "string", "description": "the bad field, when one is"},
                    },
                },
                "Customer": customer,
                "Row": flat,
            },
            "responses": {
                f"E{status}": {
                    **_json(_ERROR, text),
                    **(
                        {
                            "headers": {
                                "Retry-After": {
                                    "description": "seconds until the key may ask again",
                                    "schema": {"type": "integer"},
                                }
                            }
                        }
                        if status == 429
                        else {}
                    ),
                }
                for status, text in {
                    401: "No API key, or a malformed, wrong or revoked one.",
                    404: "No customer with this id has a purchase in the API's dataset.",
                    413: "The body is larger than SEGMENTA_API_MAX_BODY_KB.",
                    422: "A bad parameter or body; `field` names it (e.g. "
                    "`transactions[3].quantity`).",
                    429: "Over this key's rate limit; retry after `Retry-After` seconds.",
                    503: "The API's dataset (SEGMENTA_API_DATASET) is not available.",
                }.items()
            },
        },
    }
