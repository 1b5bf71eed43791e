"""Hostile input on the database this project runs on: injection strings in the sort, filter
and search parameters, text either database cannot store, integers past every column's range
and very long strings. Each is a 422 or is taken literally, never a 500, and the table and its
rows survive."""

from typing import Any

import pytest
from httpx import AsyncClient

from tests.integration.items.test_router import ANY_VERSION, ITEMS, PROBLEM, create

INJECTIONS = [
    "name;DROP TABLE items",
    "price desc--",
    "' OR 1=1",
    "' OR '1'='1' --",
    "name); DELETE FROM items; --",
    "1 UNION SELECT 1, 2",
    "id",  # a column, but not one the list sorts by
    "name,",
    "-",
]
HUGE_INTEGERS = [2**31, 2**63, 2**64, 10**100, -(2**63) - 1]


async def assert_unharmed(client: AsyncClient, names: list[str]) -> None:
    """The items table still holds exactly `names`."""
    page = (await client.get(ITEMS, params={"sort": "name"})).json()
    assert [item["name"] for item in page["items"]] == sorted(names)


def assert_invalid(response: Any, loc_start: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["errors"][0]["loc"][0] == loc_start


@pytest.mark.parametrize("sort", INJECTIONS)
async def test_a_sort_outside_the_allow_list_is_refused(client: AsyncClient, sort: str) -> None:
    await create(client, name="Cup")

    response = await client.get(ITEMS, params={"sort": sort})

    assert_invalid(response, "query")
    await assert_unharmed(client, ["Cup"])


@pytest.mark.parametrize("text", INJECTIONS)
async def test_a_search_with_sql_in_it_matches_literally(client: AsyncClient, text: str) -> None:
    await create(client, name="Cup")
    await create(client, name=f"Odd {text} name")

    response = await client.get(ITEMS, params={"name_contains": text})

    page = response.json()
    assert response.status_code == 200
    assert [item["name"] for item in page["items"]] == [f"Odd {text} name"]
    await assert_unharmed(client, ["Cup", f"Odd {text} name"])


@pytest.mark.parametrize("wildcard", ["%", "_", "\\", "[a-z]"])
async def test_like_wildcards_in_a_search_are_plain_characters(
    client: AsyncClient, wildcard: str
) -> None:
    await create(client, name="Cup")
    await create(client, name=f"50{wildcard} off")

    page = (await client.get(ITEMS, params={"name_contains": wildcard})).json()

    assert [item["name"] for item in page["items"]] == [f"50{wildcard} off"]


@pytest.mark.parametrize("price", ["1 OR 1=1", "1;DROP TABLE items", "0x10", "--1", "1,5"])
async def test_a_price_filter_that_is_no_price_is_refused(client: AsyncClient, price: str) -> None:
    await create(client, name="Cup")

    assert_invalid(await client.get(ITEMS, params={"min_price": price}), "query")
    await assert_unharmed(client, ["Cup"])


@pytest.mark.parametrize(
    "name",
    [
        "Tasse à café",
        "茶杯",
        "كوب",  # right to left
        "Cup \U0001f375",  # outside the Basic Multilingual Plane
        "Cafe\u0301",  # a combining accent
        "tab\tand\nnewline",
        "bell\x07escape\x1b[31m",
        "\u200bzero width",
    ],
)
async def test_unicode_and_control_characters_round_trip_exactly(
    client: AsyncClient, name: str
) -> None:
    item = await create(client, name=name)

    fetched = (await client.get(f"{ITEMS}/{item['id']}")).json()
    page = (await client.get(ITEMS, params={"name_contains": name})).json()
    assert item["name"] == fetched["name"] == name
    assert [found["id"] for found in page["items"]] == [item["id"]]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "Cup\x00", "price": "1"},
        {"name": "Cup", "description": "a\x00b", "price": "1"},
        {"name": "x" * 10_000, "price": "1"},
        {"name": "Cup", "description": "x" * 100_000, "price": "1"},
        {"name": "Cup", "price": "1" * 200},
        {"name": "Cup", "price": 10**100},
        {"name": "Cup", "price": 1e308},
        *({"name": "Cup", "price": "1", "quantity": number} for number in HUGE_INTEGERS),
    ],
)
async def test_bodies_no_column_can_hold_are_refused(
    client: AsyncClient, body: dict[str, Any]
) -> None:
    assert_invalid(await client.post(ITEMS, json=body), "body")
    await assert_unharmed(client, [])


async def test_a_write_no_column_can_hold_changes_nothing(client: AsyncClient) -> None:
    item = await create(client, name="Cup")
    url = f"{ITEMS}/{item['id']}"

    patched = await client.patch(url, json={"quantity": 2**63}, headers=ANY_VERSION)
    replaced = await client.put(url, json={"name": "x" * 10_000, "price": "1"}, headers=ANY_VERSION)

    assert_invalid(patched, "body")
    assert_invalid(replaced, "body")
    assert (await client.get(url)).json() == item


@pytest.mark.parametrize(
    "params",
    [
        *({"page": number} for number in HUGE_INTEGERS),
        *({"size": number} for number in HUGE_INTEGERS),
        {"min_price": str(10**100)},
        {"name_contains": "x" * 10_000},
        {"name_contains": "a\x00b"},
    ],
)
async def test_queries_past_every_limit_are_refused(
    client: AsyncClient, params: dict[str, Any]
) -> None:
    assert_invalid(await client.get(ITEMS, params=params), "query")


@pytest.mark.parametrize("item_id", [str(number) for number in HUGE_INTEGERS] + ["1e3", "-1"])
async def test_ids_past_the_column_are_refused_or_found_missing(
    client: AsyncClient, item_id: str
) -> None:
    for response in (
        await client.get(f"{ITEMS}/{item_id}"),
        await client.patch(f"{ITEMS}/{item_id}", json={"quantity": 1}, headers=ANY_VERSION),
        await client.delete(f"{ITEMS}/{item_id}", headers=ANY_VERSION),
    ):
        assert response.status_code in {404, 422}, response.text
        assert response.headers["content-type"] == PROBLEM
