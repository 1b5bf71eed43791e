"""Edits of the OpenAPI document that FastAPI generates, each made once, when the document is
first asked for (every route is included by then)."""

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI


def edit_openapi(app: FastAPI, edit: Callable[[dict[str, Any]], None]) -> None:
    """Have `edit` change `app`'s OpenAPI document in place, after the edits made so far."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()  # FastAPI keeps it in app.openapi_schema: edited here once
        edit(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented override
