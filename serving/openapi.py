"""The OpenAPI 3 document of the assistant's HTTP API (``../shared/spec/api.md``), served at /openapi.json.

Kept true by tests: every route of the app is documented and a schema-driven fuzz run finds no
response outside what is declared here.
"""

from __future__ import annotations

from typing import Any

from careassist.taxonomy import CATEGORIES

MAX_MESSAGE_CHARS = 4000
MAX_SESSION_ID_CHARS = 128
ERROR_CODES = (
    "invalid_json",
    "invalid_request",
    "unauthorized",
    "not_found",
    "method_not_allowed",
    "payload_too_large",
    "unsupported_media_type",
    "rate_limited",
    "model_unavailable",
    "request_header_fields_too_large",
)


def _error(description: str, *, retry_after: bool = False) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if retry_after:
        response["headers"] = {"Retry-After": {"schema": {"type": "integer", "minimum": 1}}}
    return response


def _text(description: str) -> dict[str, Any]:
    return {"description": description, "content": {"text/plain": {"schema": {"type": "string"}}}}


def _json(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


def openapi_document(server_url: str = "/") -> dict[str, Any]:
    """The whole document; ``server_url`` is where the API is reached."""
    security: list[dict[str, list[str]]] = [{"bearer": []}, {"apiKey": []}]
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "CareAssist assistant API",
            "version": "1",
            "description": "Health questions of older adults, people with disabilities and caregivers, answered "
            "with numbered steps, safety notes, provider guidance and a disclaimer; crisis messages first.",
        },
        "servers": [{"url": server_url}],
        "paths": {
            "/v1/assist": {
                "post": {
                    "operationId": "assist",
                    "summary": "Answer one message",
                    "security": security,
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/AssistRequest"}}},
                    },
                    "responses": {
                        "200": _json("The answer", "AssistResponse"),
                        "400": _error("invalid_json or invalid_request"),
                        "401": _error("unauthorized: no or unknown API key"),
                        "413": _error("payload_too_large"),
                        "415": _error("unsupported_media_type: the body must be application/json"),
                        "429": _error("rate_limited", retry_after=True),
                        "503": _error("model_unavailable (a crisis message is still answered with 200)"),
                    },
                }
            },
            "/v1/model": {
                "get": {
                    "operationId": "model",
                    "summary": "The loaded model",
                    "security": security,
                    "responses": {
                        "200": _json("The model being served", "ModelInfo"),
                        "401": _error("unauthorized"),
                        "429": _error("rate_limited", retry_after=True),
                        "503": _error("model_unavailable"),
                    },
                }
            },
            "/healthz": {
                "get": {"operationId": "healthz", "summary": "The process is alive", "security": [],
                        "responses": {"200": _json("alive", "Health")}}
            },
            "/readyz": {
                "get": {
                    "operationId": "readyz",
                    "summary": "Ready once a model is loaded and warm; each dependency ok or degraded",
                    "security": [],
                    "responses": {"200": _json("ready", "Readiness"), "503": _json("not ready", "Readiness")},
                }
            },
            "/metrics": {
                "get": {"operationId": "metrics", "summary": "Prometheus metrics", "security": [],
                        "responses": {"200": _text("Prometheus text format")}}
            },
            "/openapi.json": {
                "get": {"operationId": "openapi", "summary": "This document", "security": [],
                        "responses": {"200": {"description": "OpenAPI 3 document",
                                              "content": {"application/json": {"schema": {"type": "object"}}}}}}
            },
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
            },
            "schemas": {
                "AssistRequest": {
                    "type": "object",
                    "required": ["message"],
                    "properties": {
                        "message": {"type": "string", "minLength": 1, "maxLength": MAX_MESSAGE_CHARS,
                                    "pattern": r"\S", "description": "1 to 4,000 characters after trimming"},
                        "session_id": {"type": "string", "minLength": 1, "maxLength": MAX_SESSION_ID_CHARS,
                                       "description": "optional opaque id"},
                    },
                    "additionalProperties": True,
                },
                "Resource": {
                    "type": "object",
                    "required": ["name", "contact"],
                    "properties": {"name": {"type": "string"}, "contact": {"type": "string"}},
                },
                "Answer": {
                    "type": "object",
                    "required": ["title", "steps", "safety", "provider_guidance", "disclaimer", "resources"],
                    "properties": {
                        "title": {"type": "string"},
                        "steps": {"type": "array", "minItems": 3, "items": {"type": "string"}},
                        "safety": {"type": "array", "items": {"type": "string"}},
                        "provider_guidance": {"type": "string"},
                        "disclaimer": {"type": "string"},
                        "resources": {"type": "array", "items": {"$ref": "#/components/schemas/Resource"}},
                    },
                },
                "ModelRef": {
                    "type": "object",
                    "nullable": True,
                    "required": ["name", "version", "alias"],
                    "properties": {"name": {"type": "string"}, "version": {"type": "string"},
                                   "alias": {"type": "string"}},
                },
                "AssistResponse": {
                    "type": "object",
                    "required": ["request_id", "category", "confidence", "crisis", "out_of_scope", "response",
                                 "model", "cached"],
                    "properties": {
                        "request_id": {"type": "string", "format": "uuid"},
                        "category": {"type": "string", "enum": list(CATEGORIES)},
                        "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                        "crisis": {"type": "boolean"},
                        "out_of_scope": {"type": "boolean"},
                        "response": {"$ref": "#/components/schemas/Answer"},
                        "model": {"$ref": "#/components/schemas/ModelRef"},
                        "cached": {"type": "boolean"},
                    },
                },
                "ModelInfo": {
                    "type": "object",
                    "required": ["name", "version", "alias", "run_id", "dataset_version", "loaded_at"],
                    "properties": {
                        "name": {"type": "string"},
                        "version": {"type": "string"},
                        "alias": {"type": "string"},
                        "run_id": {"type": "string"},
                        "dataset_version": {"type": "string"},
                        "loaded_at": {"type": "string", "format": "date-time"},
                    },
                },
                "Health": {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}},
                "Readiness": {
                    "type": "object",
                    "required": ["ready", "dependencies"],
                    "properties": {
                        "ready": {"type": "boolean"},
                        "model": {"$ref": "#/components/schemas/ModelRef"},
                        "dependencies": {
                            "type": "object",
                            "additionalProperties": {"type": "string", "enum": ["ok", "degraded"]},
                        },
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {"code": {"type": "string", "enum": list(ERROR_CODES)},
                                           "message": {"type": "string"}},
                        }
                    },
                },
            },
        },
    }
