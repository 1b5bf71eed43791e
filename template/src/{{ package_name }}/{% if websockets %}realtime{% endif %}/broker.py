"""The broker: one small interface. `LocalBroker` (here) serves one process; an implementation
that the processes share fans out across them. Each delivers to its process's `Hub`, which
knows the connections subscribed to each channel."""

from collections import defaultdict
from typing import Protocol


class Subscriber(Protocol):
    def offer(self, frame: str) -> None:
        """Queue `frame` for sending, without waiting: a full queue drops the subscriber."""
        ...


class Hub:
    """This process's connections, by the channels they subscribe to."""

    def __init__(self) -> None:
        self._subscribers: defaultdict[str, set[Subscriber]] = defaultdict(set)

    def join(self, channel: str, subscriber: Subscriber) -> None:
        self._subscribers[channel].add(subscriber)

    def leave(self, channel: str, subscriber: Subscriber) -> None:
        subscribers = self._subscribers.get(channel)
        if subscribers is not None:
            subscribers.discard(subscriber)
            if not subscribers:
                del self._subscribers[channel]

    def channels(self) -> set[str]:
        """The channels at least one local connection subscribes to."""
        return set(self._subscribers)

    def deliver(self, channel: str, frame: str) -> None:
        # A copy: a subscriber whose queue is full leaves while the loop runs.
        for subscriber in list(self._subscribers.get(channel, ())):
            subscriber.offer(frame)


class Broker(Protocol):
    hub: Hub

    async def publish(self, channel: str, frame: str) -> None:
        """Deliver `frame` to every subscriber of `channel`, in every process the broker
        reaches. Never raises: a frame the broker cannot pass on is lost, and logged."""
        ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...


class LocalBroker:
    """Fans out within this process only: with several workers or pods, a client receives only
    what its own process published."""

    def __init__(self) -> None:
        self.hub = Hub()

    async def publish(self, channel: str, frame: str) -> None:
        self.hub.deliver(channel, frame)

    async def start(self) -> None:
        pass

    async def close(self) -> None:
        pass
