"""Where a webhook's events go: the hub's durable inbox, which starts each new event's flow."""

from __future__ import annotations

from typing import Protocol

from handoff.engine import flows
from handoff.engine.runtime import Hub
from handoff.flows.routing import route
from handoff.store.inbox import AcceptResult, IncomingEvent


class EventInbox(Protocol):
    def accept_many(self, source: str, events: list[IncomingEvent]) -> list[AcceptResult]: ...


class FlowInbox:
    """The webhooks' inbox: store events durably, then start the flow of each new one."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def accept_many(self, source: str, events: list[IncomingEvent]) -> list[AcceptResult]:
        return flows.submit(self.hub, source, route(source, events))
