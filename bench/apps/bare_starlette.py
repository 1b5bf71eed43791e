"""The floor under the ceiling: a bare Starlette app returning the same small JSON object."""

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route


async def root(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "alive"})


app = Starlette(routes=[Route("/", root)])
