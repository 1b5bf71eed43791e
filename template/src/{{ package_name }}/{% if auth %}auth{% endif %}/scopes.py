"""Roles, and the OAuth2 scopes each one may hold.

A token carries scopes; a route asks for them with `Security(..., scopes=[...])`. A token's
scopes are narrowed to its user's current role on every request, so a demotion takes effect
without waiting for the token to expire.
"""

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    USER = "user"
    ADMIN = "admin"


ME = "me"
ITEMS_READ = "items:read"
ITEMS_WRITE = "items:write"
ADMIN = "admin"

SCOPES: dict[str, str] = {
    ME: "Read and change your own account.",
    ITEMS_READ: "List and read items.",
    ITEMS_WRITE: "Create items, and change or delete your own.",
    ADMIN: "Manage users, and change or delete anyone's items.",
}

ROLE_SCOPES: dict[Role, frozenset[str]] = {
    Role.VIEWER: frozenset({ME, ITEMS_READ}),
    Role.USER: frozenset({ME, ITEMS_READ, ITEMS_WRITE}),
    Role.ADMIN: frozenset({ME, ITEMS_READ, ITEMS_WRITE, ADMIN}),
}
