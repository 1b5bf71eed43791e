"""The shared contract tests (`tests/integration/test_contract.py`) see items' inputs, so they
check items' operations rather than pass with nothing to check."""

from fastapi import FastAPI

from tests.integration.test_contract import all_operations


def test_the_contract_tests_find_items_text_and_typed_json_fields(app: FastAPI) -> None:
    [create] = [op for op in all_operations(app) if str(op) == "POST /api/v1/items"]
    fields = dict(create.body_fields())

    assert create.body_media_type == "application/json"
    assert "string" in fields["name"]
    assert "integer" in fields["quantity"]
    assert create.example_body()["name"]
