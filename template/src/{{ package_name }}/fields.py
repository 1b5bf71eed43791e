"""Field types that every domain's request schemas and paths share.

They hold the limits of both supported databases, so a request either database cannot store is
a 422 on both, and they are strict about JSON types: `true` is no number, `0` is no boolean.
"""

from typing import Annotated, Any

from fastapi import Path
from pydantic import AfterValidator, Field, Strict

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
# JSON's `true` and `false` only.
StrictBool = Annotated[bool, Strict()]
# A whole number that an INTEGER column holds; `true`, `1.0` and `"1"` are refused.
Integer = Annotated[int, Strict(), Field(ge=-INTEGER_MAX - 1, le=INTEGER_MAX)]


def id_path(description: str) -> Any:
    """A database id in the path: `Annotated[int, id_path("The item's id.")]`."""
    return Path(ge=1, le=INTEGER_MAX, description=description)
