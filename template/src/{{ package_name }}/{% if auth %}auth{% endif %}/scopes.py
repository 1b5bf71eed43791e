"""Roles, and the OAuth2 scopes each one may hold.

A token carries scopes; a route asks for them with `Security(..., scopes=[...])`. A token's
scopes are narrowed to its user's current role on every request, so a demotion takes effect
without waiting for the token to expire.

Each domain declares its own `Scopes` (auth's are below); the application adds them up where
it includes the routers, and gives the sum to `Auth` and to the OpenAPI schema.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    USER = "user"
    ADMIN = "admin"


@dataclass(frozen=True, slots=True)
class Scopes:
    """Scopes with what each allows (`descriptions`), and the ones each role holds."""

    descriptions: Mapping[str, str]
    grants: Mapping[Role, frozenset[str]] = field(default_factory=dict)

    def __or__(self, other: "Scopes") -> "Scopes":
        return Scopes(
            descriptions={**self.descriptions, **other.descriptions},
            grants={role: self.of(role) | other.of(role) for role in (*self.grants, *other.grants)},
        )

    def of(self, role: Role) -> frozenset[str]:
        """The scopes that `role` holds."""
        return self.grants.get(role, frozenset())


ME = "me"
ADMIN = "admin"

AUTH_SCOPES = Scopes(
    descriptions={
        ME: "Read and change your own account.",
        ADMIN: "Manage users, and change or delete anyone's items.",
    },
    grants={
        Role.VIEWER: frozenset({ME}),
        Role.USER: frozenset({ME}),
        Role.ADMIN: frozenset({ME, ADMIN}),
    },
)
