"""The ceiling: a bare FastAPI app returning a small JSON object (no middleware, no database)."""

from fastapi import FastAPI

app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)


@app.get("/")
async def root() -> dict[str, str]:
    return {"status": "alive"}
