"""The rate limit settings: a mixin of `Settings`, so they live with the feature that reads them."""

from typing import Annotated

from limits import RateLimitItem, parse_many
from pydantic import AfterValidator, field_validator
from pydantic_settings import BaseSettings, NoDecode


def parse_limit(text: str) -> RateLimitItem:
    """One rate limit, such as `120/minute` or `1000 per 2 hours` (`limits`' notation)."""
    try:
        items = parse_many(text)
    except ValueError:
        items = []
    # One limit each: a request then costs one storage call. `limits.parse` would silently keep
    # the first of `10/minute;100/hour`.
    if len(items) != 1 or items[0].amount < 1:
        msg = f"{text!r} is not one rate limit such as 120/minute or 1000 per 2 hours"
        raise ValueError(msg)
    return items[0]


def _check_limit(text: str) -> str:
    parse_limit(text)
    return text


LimitText = Annotated[str, AfterValidator(_check_limit)]


class RateLimitSettings(BaseSettings):
    # Off: no API request is counted.
    rate_limit_enabled: bool = True
    # Each client's budget for every API route that has no limit of its own.
    rate_limit_default: LimitText = "120/minute"
    # Routes with a budget of their own, by name (the OpenAPI operation id), comma-separated in
    # the environment: `RATE_LIMITS=create_item=10/minute,login=20/minute`.
    rate_limits: Annotated[dict[str, LimitText], NoDecode] = {}
    # When the counts cannot be read: let the request through (with a warning), or answer 503.
    rate_limit_fail_open: bool = True

    @field_validator("rate_limits", mode="before")
    @classmethod
    def _split_route_limits(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        pairs = [pair.partition("=") for pair in value.split(",") if pair.strip()]
        if not all(name.strip() and sep for name, sep, _ in pairs):
            msg = "RATE_LIMITS takes name=limit pairs, e.g. create_item=10/minute,login=20/minute"
            raise ValueError(msg)
        return {name.strip(): limit.strip() for name, _, limit in pairs}
