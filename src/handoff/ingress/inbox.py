"""Where a webhook's events go: the hub's durable inbox, which starts each new event's flow."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from typing import Protocol, cast

from starlette.concurrency import run_in_threadpool

from handoff.engine import flows
from handoff.engine.runtime import Hub
from handoff.flows.routing import route
from handoff.store.inbox import AcceptResult, IncomingEvent


class EventInbox(Protocol):
    """Where a handler stores events: ``accept_many`` returns their results, or is a coroutine
    function that does (``handoff.ingress.committer.CommittedInbox``)."""

    def accept_many(
        self, source: str, events: list[IncomingEvent]
    ) -> list[AcceptResult] | Awaitable[list[AcceptResult]]: ...


async def accept(inbox: EventInbox, source: str, events: list[IncomingEvent]) -> list[AcceptResult]:
    """``inbox.accept_many``: awaited when it is a coroutine, else in a worker thread (it writes
    to the database: never on the event loop)."""
    if inspect.iscoroutinefunction(inbox.accept_many):
        return await cast(Awaitable[list[AcceptResult]], inbox.accept_many(source, events))
    return cast(list[AcceptResult], await run_in_threadpool(inbox.accept_many, source, events))


class FlowInbox:
    """The webhooks' inbox: store events durably, then start the flow of each new one."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def accept_many(self, source: str, events: list[IncomingEvent]) -> list[AcceptResult]:
        return flows.submit(self.hub, source, routed(self.hub, source, events))


def routed(hub: Hub, source: str, events: list[IncomingEvent]) -> list[IncomingEvent]:
    """The events with their flows: ``source`` is the configured system's name (``hubspot_eu``),
    its kind picks the route."""
    system = hub.settings.systems.get(source)
    return route(source, events, kind=system.kind if system is not None else source)
