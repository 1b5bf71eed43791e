"""The items list against a model of it, on random data: filters and sorting agree with it,
and the pages of a list, read while nothing is written, hold each item once."""

import asyncio
import uuid
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

from httpx import AsyncClient
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from tests.integration.items.test_router import ITEMS, create

# Lowercase letters only, so both databases' collations order names as Python does; few
# prices and quantities, so that sorts meet ties and the tiebreaker decides.
SUFFIXES = st.text(alphabet="abc", min_size=1, max_size=3)
PRICES = st.sampled_from(["1.00", "9.90"])
QUANTITIES = st.integers(0, 1)
SORT_FIELDS = ("name", "price", "quantity", "created_at", "updated_at")
SORTS = st.lists(
    st.tuples(st.sampled_from(SORT_FIELDS), st.booleans()),
    min_size=1,
    max_size=2,
    unique_by=lambda key: key[0],
)
BOUNDS = st.none() | PRICES


def expected_order(items: list[dict[str, Any]], sort: list[tuple[str, bool]]) -> list[int]:
    """The ids in the order the API promises: each key in turn, then the id, in the last
    key's direction."""

    def value(item: dict[str, Any], field: str) -> Any:
        if field == "price":
            return Decimal(item[field])
        if field.endswith("_at"):
            return datetime.fromisoformat(item[field])
        return item[field]

    ordered = sorted(items, key=lambda item: item["id"], reverse=sort[-1][1])
    for field, descending in reversed(sort):
        ordered.sort(key=partial(value, field=field), reverse=descending)
    return [item["id"] for item in ordered]


async def read_all_pages(client: AsyncClient, params: dict[str, Any], size: int) -> list[int]:
    ids: list[int] = []
    page = 1
    while True:
        response = await client.get(ITEMS, params={**params, "page": page, "size": size})
        assert response.status_code == 200, response.text
        body = response.json()
        ids += [item["id"] for item in body["items"]]
        if page >= body["pages"]:
            assert body["total"] == len(ids)
            return ids
        page += 1


async def test_filters_sorting_and_pages_agree_with_a_model_of_the_list(
    client: AsyncClient,
) -> None:
    loop = asyncio.get_running_loop()

    def call(coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result()

    @hypothesis_settings(max_examples=30, deadline=None, database=None)
    @given(
        rows=st.lists(
            st.tuples(SUFFIXES, PRICES, QUANTITIES),
            min_size=2,
            max_size=8,
            unique_by=lambda row: row[0],
        ),
        sort=SORTS,
        min_price=BOUNDS,
        max_price=BOUNDS,
        size=st.integers(1, 4),
    )
    def check(
        rows: list[tuple[str, str, int]],
        sort: list[tuple[str, bool]],
        min_price: str | None,
        max_price: str | None,
        size: int,
    ) -> None:
        # Each example's own items: their names share a prefix that no other example has.
        prefix = uuid.uuid4().hex[:8]
        items = [
            call(create(client, name=prefix + suffix, price=price, quantity=quantity))
            for suffix, price, quantity in rows
        ]
        params: dict[str, Any] = {
            "name_contains": prefix,
            "sort": ",".join(("-" if descending else "") + field for field, descending in sort),
        }
        if min_price is not None:
            params["min_price"] = min_price
        if max_price is not None:
            params["max_price"] = max_price
        if (
            min_price is not None
            and max_price is not None
            and Decimal(min_price) > Decimal(max_price)
        ):
            response = call(client.get(ITEMS, params=params))
            assert response.status_code == 422
            return
        matching = [
            item
            for item in items
            if (min_price is None or Decimal(item["price"]) >= Decimal(min_price))
            and (max_price is None or Decimal(item["price"]) <= Decimal(max_price))
        ]

        listed = call(read_all_pages(client, params, size))

        assert listed == expected_order(matching, sort)

    await asyncio.to_thread(check)
