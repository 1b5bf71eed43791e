"""Browser front ends on an allowed origin call the protected routes."""

from httpx import AsyncClient


async def test_cors_preflight_allows_a_bearer_token(client: AsyncClient) -> None:
    response = await client.options(
        "/api/v1/users/me",
        headers={
            "Origin": "https://frontend.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "authorization",
        },
    )

    assert response.status_code == 200
    assert "authorization" in response.headers["access-control-allow-headers"].lower()


async def test_cors_exposes_the_auth_headers(client: AsyncClient) -> None:
    response = await client.get("/api/v1/users/me", headers={"Origin": "https://frontend.example"})

    assert response.status_code == 401
    exposed = response.headers["access-control-expose-headers"].lower().split(", ")
    assert {"www-authenticate", "retry-after"} <= set(exposed)
