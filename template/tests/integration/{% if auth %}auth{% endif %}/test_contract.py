"""Every operation that needs a token, generated from the OpenAPI document."""

from fastapi import FastAPI
from httpx import AsyncClient

from tests.integration.test_contract import Api, all_operations


async def test_every_operation_that_needs_a_token_answers_401_without_one(
    app: FastAPI, client: AsyncClient
) -> None:
    api = Api(client, credentials={})
    protected = [operation for operation in all_operations(app) if "security" in operation.spec]
    for operation in protected:
        response = await api.send(operation)
        if response.status_code != 401:
            api.fail(operation, f"answered {response.status_code}, not 401")
        elif not response.headers.get("www-authenticate", "").startswith("Bearer"):
            api.fail(operation, "sent no WWW-Authenticate: Bearer")

    assert protected
    assert not api.failures, "\n".join(api.failures)
