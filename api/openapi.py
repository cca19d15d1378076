"""The OpenAPI document: FastAPI's, plus the schemas of the bodies the routes read themselves
(``bodies.json_request``), generated from the very models the producer API validates with."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from smsq.api.blacklist import BlacklistAdd, SyncRequest
from smsq.api.campaigns import CampaignRequest
from smsq.api.models import BatchRequest, MessageRequest
from smsq.api.two_factor import CodeRequest, VerifyRequest
from smsq.producers.messages.models import Omnimessage

REF_TEMPLATE = "#/components/schemas/{model}"
# Body models named by json_request(...): the name is the component's.
BODY_MODELS: dict[str, type[BaseModel]] = {
    model.__name__: model
    for model in (
        Omnimessage,
        MessageRequest,
        BatchRequest,
        CampaignRequest,
        BlacklistAdd,
        SyncRequest,
        CodeRequest,
        VerifyRequest,
    )
}


def install(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes
            )
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for name, model in BODY_MODELS.items():
                schema = model.model_json_schema(ref_template=REF_TEMPLATE, mode="validation")
                for sub_name, sub_schema in schema.pop("$defs", {}).items():
                    schemas.setdefault(sub_name, sub_schema)
                schemas[name] = schema
            app.openapi_schema = document
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
