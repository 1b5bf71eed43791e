"""The contract fuzzing's configuration: valid for schemathesis, and about real operations."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from harness.contract import CONFIG
from harness.matrix import load_matrix
from harness.variant import HarnessContext
from schemathesis.config import ConfigError, SchemathesisConfig

pytestmark = pytest.mark.quick


def test_the_configuration_is_one_schemathesis_accepts(tmp_path: Path) -> None:
    SchemathesisConfig.from_path(CONFIG)
    # The loader does refuse what it does not know: this test can fail.
    misspelt = tmp_path / "misspelt.toml"
    misspelt.write_text('[[operations]]\ninclude-operation = "login"\n', encoding="utf-8")
    with pytest.raises(ConfigError):
        SchemathesisConfig.from_path(misspelt)


def test_every_listed_refusal_names_an_operation_of_the_all_features_render(
    harness: HarnessContext, tmp_path: Path
) -> None:
    combination = load_matrix().all_features_variant()
    assert combination is not None
    project = harness.snapshot.render(combination.data, tmp_path / "project")
    # Operation ids are the endpoints' names (main.py's generate_unique_id_function).
    endpoints = {
        match
        for router in project.glob("src/*/**/router.py")
        for match in re.findall(r"^async def (\w+)\(", router.read_text(), re.MULTILINE)
    }

    for operation in tomllib.loads(CONFIG.read_text(encoding="utf-8"))["operations"]:
        pattern = operation.get("include-operation-id-regex") or re.escape(
            operation["include-operation-id"]
        )
        assert any(re.fullmatch(pattern.strip("^$"), name) for name in endpoints), operation
