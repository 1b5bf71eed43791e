"""A JSON response that skips FastAPI's response-model validation, for data read straight from
our own database. The route still declares its `response_model`, for the API docs."""

from typing import Any

from fastapi.responses import Response
from pydantic_core import to_json


def json_response(content: Any, status_code: int = 200) -> Response:
    """`content` serialized by pydantic-core, as a response model would be (decimals and
    datetimes included), without validating it first."""
    return Response(to_json(content), status_code=status_code, media_type="application/json")
