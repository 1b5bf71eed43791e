"""The JSON protocol of `/api/v1/ws`: what a client sends, and what the server answers.

Client messages (one JSON object per text frame, told apart by `type`; the socket's guard,
in `guard.py`, may add its own):
- `{"type": "subscribe", "channel": "items"}` and `{"type": "unsubscribe", "channel": ...}`;
- `{"type": "publish", "channel": "rooms:lobby", "data": ...}`: rooms only;
- `{"type": "ping", "id": "any text"}`: answered by a pong with the same id.

Server frames: `ready`, `subscribed`, `unsubscribed`, `event` (`channel`, `data`), `pong`,
`heartbeat`, and `error` (`detail`), which leaves the connection open.
"""

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

# `items` (every item's changes), `items:<id>` (one item's), `rooms:<name>` (what clients
# publish).
CHANNEL_PATTERN = r"^(items(:[1-9][0-9]{0,17})?|rooms:[a-z0-9_-]{1,64})$"
Channel = Annotated[str, Field(pattern=CHANNEL_PATTERN)]
ITEMS_CHANNEL = "items"


def item_channel(item_id: int) -> str:
    return f"{ITEMS_CHANNEL}:{item_id}"


class Message(BaseModel):
    # Strict: a number in place of a string is an error, not a guess.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class Subscribe(Message):
    type: Literal["subscribe"]
    channel: Channel


class Unsubscribe(Message):
    type: Literal["unsubscribe"]
    channel: Channel


class Publish(Message):
    type: Literal["publish"]
    channel: Channel
    data: JsonValue


class Ping(Message):
    type: Literal["ping"]
    id: str | None = Field(default=None, max_length=64)


# What every socket understands; `guard.ClientMessage` adds the guard's messages.
ProtocolMessage = Subscribe | Unsubscribe | Publish | Ping


class Ready(Message):
    type: Literal["ready"] = "ready"


class Subscribed(Message):
    type: Literal["subscribed"] = "subscribed"
    channel: str


class Unsubscribed(Message):
    type: Literal["unsubscribed"] = "unsubscribed"
    channel: str


class Event(Message):
    type: Literal["event"] = "event"
    channel: str
    data: JsonValue


class Pong(Message):
    type: Literal["pong"] = "pong"
    id: str | None


class Heartbeat(Message):
    type: Literal["heartbeat"] = "heartbeat"


class Error(Message):
    type: Literal["error"] = "error"
    detail: str


def event_frame(channel: str, data: JsonValue) -> str:
    """The frame every subscriber of `channel` receives, serialized once for all of them."""
    return Event(channel=channel, data=data).model_dump_json()
