"""Field types that every domain's request schemas and paths share.

They hold the limits of both supported databases, so a request either database cannot store is
a 422 on both, and they are strict about JSON types: `true` is no number, `0` is no boolean.
"""

from typing import Annotated, Any

from fastapi import Path
from pydantic import AfterValidator, BeforeValidator, Field, JsonValue, Strict

# The range of the databases' INTEGER columns.
INTEGER_MAX = 2**31 - 1


def _storable(text: str) -> str:
    # PostgreSQL's text types cannot hold NUL, while SQLite can: refused on both, so they agree.
    if "\x00" in text:
        msg = "must not contain the NUL character"
        raise ValueError(msg)
    return text


# Refuses what either database cannot store. Put it after a string's length constraints,
# `Annotated[str, Field(max_length=100), Storable]`, so that they keep their usual messages.
Storable = AfterValidator(_storable)
# Text a client sends that may reach the database (bodies, queries, forms).
Text = Annotated[str, Storable]


def _whole_number(value: object) -> object:
    # JSON has one number type: to JSON Schema, and so to the OpenAPI document's clients, `1.0`
    # is the integer 1, where `1.5` is none.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


# Takes `1.0` as 1. Put it after an integer's constraints, as `Integer` does: pydantic checks
# constraints that follow a validator apart, and leaves them out of the JSON schema.
WholeNumber = BeforeValidator(_whole_number)
# JSON's `true` and `false` only.
StrictBool = Annotated[bool, Strict()]
# A whole number that an INTEGER column holds: `1` or `1.0`; `true`, `1.5` and `"1"` are refused.
# Narrower ranges repeat it: `Annotated[int, Strict(), Field(ge=0, le=INTEGER_MAX), WholeNumber]`.
Integer = Annotated[int, Strict(), Field(ge=-INTEGER_MAX - 1, le=INTEGER_MAX), WholeNumber]


def id_path(description: str) -> Any:
    """A database id in the path: `Annotated[int, id_path("The item's id.")]`."""
    return Path(ge=1, le=INTEGER_MAX, description=description)


def _without_default(schema: dict[str, JsonValue]) -> None:
    del schema["default"]


def omitted() -> Any:
    """The default of a PATCH field that may be left out but not sent as null:
    `name: Name | SkipJsonSchema[None] = omitted()`, with a validator that refuses None. The
    schema shows neither the None nor a default, so clients are not offered a null."""
    return Field(default=None, json_schema_extra=_without_default)
