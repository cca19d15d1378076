"""Request bodies read as the producer API wants them: the raw JSON handed to its own validation
(``parse_omnimessage`` with the installation's limits), so the API and the Python API refuse the
same input with the same field paths. FastAPI still documents the body from the same model."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Request

from smsq.producers.errors import InvalidInput


async def json_body(request: Request) -> Any:
    """The body as JSON (the size limit is the app's ``max_body_size``, checked while it arrives)."""
    return parsed_json(await request.body())


def parsed_json(raw: bytes) -> Any:
    if not raw.strip():
        raise InvalidInput([("(body)", "is empty; send a JSON object")])
    try:
        return json.loads(raw)
    except UnicodeDecodeError:
        raise InvalidInput([("(body)", "is not UTF-8 text")]) from None
    except json.JSONDecodeError as error:
        raise InvalidInput(
            [("(body)", f"is not JSON: {error.msg} at line {error.lineno} column {error.colno}")]
        ) from None
    except RecursionError:
        raise InvalidInput([("(body)", "is nested too deeply")]) from None


def json_request(schema: str, description: str = "") -> dict[str, Any]:
    """``openapi_extra`` for a route that reads its body itself: the body is the named component
    (``smsq.api.openapi`` adds the model's schema under that name)."""
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        }
    }
