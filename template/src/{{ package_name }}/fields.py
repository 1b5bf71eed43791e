"""Field types that every domain's request schemas and paths share.

They hold the limits of both supported databases, so a request either database cannot store is
a 422 on both, and they are strict about JSON types: `true` is no number, `0` is no boolean.
"""

from typing import Annotated, Any

from fastapi import Path
from pydantic import Field, Strict, StringConstraints

# The range of the databases' INTEGER columns.
INTEGER_MAX = 2**31 - 1

# Text a client sends that may reach the database (bodies, queries, forms). PostgreSQL's text
# types cannot hold NUL, while SQLite can: refused on both, so they agree. A pattern rather than
# a validator, because it merges with the length and strip constraints a field adds
# (`Annotated[Text, StringConstraints(max_length=100)]`), where a validator would run them after
# itself, unstripped. A field's own `pattern` replaces this one, so it must refuse NUL too.
Text = Annotated[str, StringConstraints(pattern=r"^[^\x00]*$")]
# JSON's `true` and `false` only.
StrictBool = Annotated[bool, Strict()]
# A whole number that an INTEGER column holds; `true`, `1.0` and `"1"` are refused.
Integer = Annotated[int, Strict(), Field(ge=-INTEGER_MAX - 1, le=INTEGER_MAX)]


def id_path(description: str) -> Any:
    """A database id in the path: `Annotated[int, id_path("The item's id.")]`."""
    return Path(ge=1, le=INTEGER_MAX, description=description)
