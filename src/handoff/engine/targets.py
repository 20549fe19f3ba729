"""Which configured system a flow run works against: systems are addressed by *name*.

A flow declares the *kind* of system its calls go to (``@flow(..., queue="odoo")``); each run
resolves, when its event is enqueued, the configured system of that kind its event feeds, from
the event's source name and handoff.yaml (``Settings.odoo_for``: the source's
``systems.<source>.odoo``, the source itself when it is an Odoo system, else the only Odoo
system). That name is recorded in the run's input (``FlowEvent.target``), so a replay or a
recovery after a crash resolves nothing again, and it is the run's

- queue (``handoff.engine.flows.queue_of``): one DBOS queue per configured system, with that
  system's ``concurrency`` and ``rate_limit``;
- circuit breaker and retry (``handoff.engine.steps.call(target, ...)``);
- bindings and cursors (``Binding.system`` / ``Cursor.system`` = the system's name);
- adapter (``handoff.connectors.registry.Connectors.odoo(target)``).

A hub whose Odoo is called ``erp`` therefore queues, breaks, binds and polls under ``erp``; one
whose Odoo is called ``odoo`` keeps the bindings it stored before systems were named (and one
whose only Odoo is named otherwise adopts them at start: ``handoff.store.names``).

While a run executes, its target is this thread's ``running_target()`` (set by the flow's
workflow wrapper), so a role deep in a step (``timesheets.push``) reads the same name without
threading it through every signature.
"""

from __future__ import annotations

import typing
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

from handoff.config import SystemKind

if TYPE_CHECKING:
    from handoff.config import Settings

KINDS: frozenset[str] = frozenset(typing.get_args(SystemKind))
_running: ContextVar[str | None] = ContextVar("handoff_flow_target", default=None)


def target_of(settings: Settings, declared: str, source: str, configured: str | None = None) -> str:
    """The system name a run of a flow declaring ``declared`` (a kind, or a plain queue name)
    works against for an event of ``source``; ``configured``: ``flows.<name>.queue``, which wins.
    A kind no configured system has stays a plain queue name (engine tests, ``default``)."""
    if configured:
        return configured
    if declared not in KINDS or not settings.systems_of_kind(declared):
        return declared
    if declared == "odoo":
        return settings.odoo_for(source)
    own = settings.systems.get(source)
    if own is not None and own.kind == declared:
        return source
    return settings.only_system_of_kind(declared, needed_by=source)


def systems_for(settings: Settings, declared: str, configured: str | None = None) -> list[str]:
    """Every system a flow declaring ``declared`` may work against (the queues it needs)."""
    if configured:
        return [configured]
    if declared in KINDS and (names := settings.systems_of_kind(declared)):
        return names
    return [declared]


def running_target() -> str | None:
    """The target system of the flow run executing in this thread, None outside a run."""
    return _running.get()


def current_target() -> str:
    """The target system of the flow run executing in this thread (inside a flow only)."""
    target = _running.get()
    if target is None:
        raise RuntimeError("no flow run in this thread: its target system is unknown")
    return target


@contextmanager
def running(target: str | None) -> Iterator[None]:
    """Make ``target`` this thread's running target for the duration of a run."""
    token = _running.set(target)
    try:
        yield
    finally:
        _running.reset(token)


def odoo_target(settings: Settings) -> str:
    """The Odoo system a role works against: the running flow's target when it is an Odoo
    system, else the only Odoo system (an error naming them when there are several)."""
    target = running_target()
    if target is not None and (system := settings.systems.get(target)) and system.kind == "odoo":
        return target
    return settings.only_system_of_kind("odoo")
