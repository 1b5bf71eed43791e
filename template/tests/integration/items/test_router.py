import asyncio
from datetime import datetime
from typing import Any

import pytest
from httpx import AsyncClient

ITEMS = "/api/v1/items"
PROBLEM = "application/problem+json"
# Writes need If-Match; these tests are about the write itself (the tags have test_conditional.py).
ANY_VERSION = {"If-Match": "*"}


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


async def create(client: AsyncClient, name: str = "Cup", price: str = "9.90", **fields: Any) -> Any:
    response = await client.post(ITEMS, json={"name": name, "price": price, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def test_create_returns_the_item_and_its_location(client: AsyncClient) -> None:
    response = await client.post(
        ITEMS, json={"name": " Cup ", "description": "Porcelain", "price": 9.9, "quantity": 3}
    )

    assert response.status_code == 201
    item = response.json()
    assert item["name"] == "Cup"
    assert item["price"] == "9.90"
    assert item["quantity"] == 3
    assert parse_time(item["created_at"]).utcoffset() is not None
    assert response.headers["location"] == f"{ITEMS}/{item['id']}"
    fetched = await client.get(response.headers["location"])
    assert fetched.json() == item


async def test_create_defaults_optional_fields(client: AsyncClient) -> None:
    item = await create(client)

    assert item["description"] is None
    assert item["quantity"] == 0


async def test_create_with_a_taken_name_is_a_conflict(client: AsyncClient) -> None:
    await create(client, name="Cup")

    response = await client.post(ITEMS, json={"name": "Cup", "price": "1.00"})

    assert response.status_code == 409
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"] == "urn:problem-type:conflict"
    assert problem["title"] == "Conflict"
    assert "'Cup'" in problem["detail"]
    assert problem["instance"] == ITEMS
    assert problem["request_id"] == response.headers["x-request-id"]


async def test_racing_creates_with_one_name_make_one_item(client: AsyncClient) -> None:
    responses = await asyncio.gather(
        *(client.post(ITEMS, json={"name": "Cup", "price": "1.00"}) for _ in range(3))
    )

    assert sorted(response.status_code for response in responses) == [201, 409, 409]


@pytest.mark.parametrize(
    ("body", "loc"),
    [
        ({"price": "1.00"}, ["body", "name"]),
        ({"name": "", "price": "1.00"}, ["body", "name"]),
        ({"name": "Cup", "price": "-1"}, ["body", "price"]),
        ({"name": "Cup", "price": "1.001"}, ["body", "price"]),
        ({"name": "Cup", "price": "NaN"}, ["body", "price"]),
        ({"name": "Cup", "price": "1", "quantity": 2**31}, ["body", "quantity"]),
        ({"name": "Cup", "price": "1", "colour": "red"}, ["body", "colour"]),
    ],
)
async def test_create_rejects_invalid_bodies(
    client: AsyncClient, body: dict[str, Any], loc: list[str]
) -> None:
    response = await client.post(ITEMS, json=body)

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"] == "urn:problem-type:validation-error"
    assert [error["loc"] for error in problem["errors"]] == [loc]
    assert "input" not in problem["errors"][0]


async def test_create_rejects_malformed_json(client: AsyncClient) -> None:
    response = await client.post(
        ITEMS, content=b'{"name": ', headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "json_invalid"


async def test_get_a_missing_item_is_not_found(client: AsyncClient) -> None:
    response = await client.get(f"{ITEMS}/4242")

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    problem = response.json()
    assert problem["type"] == "urn:problem-type:not-found"
    assert problem["detail"] == "Item 4242 was not found."


@pytest.mark.parametrize("item_id", ["0", "2147483648"])
async def test_get_rejects_ids_out_of_range(client: AsyncClient, item_id: str) -> None:
    response = await client.get(f"{ITEMS}/{item_id}")

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["path", "item_id"]


async def test_a_path_that_is_no_id_is_no_item(client: AsyncClient) -> None:
    # Ids are digits in the route's path: /items/abc is no path of the API.
    response = await client.get(f"{ITEMS}/abc")

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM


async def test_list_pages_through_items(client: AsyncClient) -> None:
    for number in range(5):
        await create(client, name=f"Item {number}")

    first = (await client.get(ITEMS, params={"size": 2, "sort": "name"})).json()
    last = (await client.get(ITEMS, params={"size": 2, "page": 3, "sort": "name"})).json()

    assert [item["name"] for item in first["items"]] == ["Item 0", "Item 1"]
    assert (first["total"], first["page"], first["size"], first["pages"]) == (5, 1, 2, 3)
    assert [item["name"] for item in last["items"]] == ["Item 4"]


async def test_list_past_the_last_page_still_counts_items(client: AsyncClient) -> None:
    await create(client)

    page = (await client.get(ITEMS, params={"page": 5})).json()

    assert page["items"] == []
    assert (page["total"], page["pages"]) == (1, 1)


async def test_list_of_nothing_is_an_empty_page(client: AsyncClient) -> None:
    page = (await client.get(ITEMS)).json()

    assert page == {"items": [], "total": 0, "page": 1, "size": 20, "pages": 0}


async def test_list_defaults_to_newest_first(client: AsyncClient) -> None:
    for name in ("First", "Second"):
        await create(client, name=name)

    page = (await client.get(ITEMS)).json()

    assert [item["name"] for item in page["items"]] == ["Second", "First"]


async def test_list_sorts_on_several_fields(client: AsyncClient) -> None:
    await create(client, name="B", price="2.00")
    await create(client, name="A", price="2.00")
    await create(client, name="C", price="1.00")

    page = (await client.get(ITEMS, params={"sort": "-price,name"})).json()

    assert [item["name"] for item in page["items"]] == ["A", "B", "C"]


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({"sort": "secret"}, ["query", "sort"]),
        ({"sort": "name,-nope"}, ["query", "sort"]),
        ({"size": 101}, ["query", "size"]),
        ({"page": 0}, ["query", "page"]),
        ({"page": 10**30}, ["query", "page"]),
        ({"min_price": "-1"}, ["query", "min_price"]),
    ],
)
async def test_list_rejects_invalid_queries(
    client: AsyncClient, params: dict[str, Any], loc: list[str]
) -> None:
    response = await client.get(ITEMS, params=params)

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"][0]["loc"] == loc


async def test_list_rejects_an_inverted_price_range(client: AsyncClient) -> None:
    response = await client.get(ITEMS, params={"min_price": "5", "max_price": "1"})

    assert response.status_code == 422
    assert "min_price" in response.json()["errors"][0]["msg"]


async def test_list_filters_by_name_and_price(client: AsyncClient) -> None:
    await create(client, name="Espresso cup", price="5.00")
    await create(client, name="Tea CUP", price="15.00")
    await create(client, name="Saucer", price="5.00")
    await create(client, name="50% off cup", price="1.00")

    async def names(**params: str) -> list[str]:
        page = (await client.get(ITEMS, params={"sort": "name", **params})).json()
        return [item["name"] for item in page["items"]]

    assert await names(name_contains="cup") == ["50% off cup", "Espresso cup", "Tea CUP"]
    assert await names(name_contains="%") == ["50% off cup"]
    assert await names(min_price="5", max_price="10") == ["Espresso cup", "Saucer"]
    assert await names(name_contains="cup", min_price="10") == ["Tea CUP"]


async def test_put_replaces_every_field(client: AsyncClient) -> None:
    item = await create(client, description="Old", quantity=4)

    response = await client.put(
        f"{ITEMS}/{item['id']}", json={"name": "Mug", "price": "3"}, headers=ANY_VERSION
    )

    assert response.status_code == 200
    replaced = response.json()
    assert (replaced["name"], replaced["price"]) == ("Mug", "3.00")
    assert (replaced["description"], replaced["quantity"]) == (None, 0)
    assert replaced["created_at"] == item["created_at"]
    assert parse_time(replaced["updated_at"]) > parse_time(item["updated_at"])


async def test_put_a_missing_item_is_not_found(client: AsyncClient) -> None:
    response = await client.put(
        f"{ITEMS}/4242", json={"name": "Mug", "price": "3"}, headers=ANY_VERSION
    )

    assert response.status_code == 404


async def test_put_a_taken_name_is_a_conflict(client: AsyncClient) -> None:
    await create(client, name="Mug")
    item = await create(client, name="Cup")

    response = await client.put(
        f"{ITEMS}/{item['id']}", json={"name": "Mug", "price": "3"}, headers=ANY_VERSION
    )

    assert response.status_code == 409
    assert (await client.get(f"{ITEMS}/{item['id']}")).json()["name"] == "Cup"


async def test_patch_changes_only_the_fields_sent(client: AsyncClient) -> None:
    item = await create(client, description="Porcelain", quantity=4)

    response = await client.patch(
        f"{ITEMS}/{item['id']}", json={"quantity": 5}, headers=ANY_VERSION
    )

    assert response.status_code == 200
    patched = response.json()
    assert patched["quantity"] == 5
    assert (patched["name"], patched["description"]) == ("Cup", "Porcelain")
    assert parse_time(patched["updated_at"]) > parse_time(item["updated_at"])


async def test_patch_may_clear_the_description(client: AsyncClient) -> None:
    item = await create(client, description="Porcelain")

    response = await client.patch(
        f"{ITEMS}/{item['id']}", json={"description": None}, headers=ANY_VERSION
    )

    assert response.json()["description"] is None


async def test_patch_with_nothing_to_change_returns_the_item(client: AsyncClient) -> None:
    item = await create(client)

    response = await client.patch(f"{ITEMS}/{item['id']}", json={}, headers=ANY_VERSION)

    assert response.status_code == 200
    assert response.json() == item


@pytest.mark.parametrize("body", [{}, {"quantity": 1}])
async def test_patch_a_missing_item_is_not_found(client: AsyncClient, body: Any) -> None:
    response = await client.patch(f"{ITEMS}/4242", json=body, headers=ANY_VERSION)

    assert response.status_code == 404


async def test_patch_rejects_null_for_required_fields(client: AsyncClient) -> None:
    item = await create(client)

    response = await client.patch(f"{ITEMS}/{item['id']}", json={"name": None}, headers=ANY_VERSION)

    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["body", "name"]


async def test_patch_a_taken_name_is_a_conflict(client: AsyncClient) -> None:
    await create(client, name="Mug")
    item = await create(client, name="Cup")

    response = await client.patch(
        f"{ITEMS}/{item['id']}", json={"name": "Mug"}, headers=ANY_VERSION
    )

    assert response.status_code == 409


async def test_delete_removes_the_item(client: AsyncClient) -> None:
    item = await create(client)

    response = await client.delete(f"{ITEMS}/{item['id']}", headers=ANY_VERSION)

    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(f"{ITEMS}/{item['id']}")).status_code == 404
    assert (await client.delete(f"{ITEMS}/{item['id']}", headers=ANY_VERSION)).status_code == 404
