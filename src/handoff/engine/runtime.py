"""The hub as one object per process: settings, store, repositories, breakers, durable engine.

DBOS Transact runs the flows: workflows and their steps are checkpointed in the store's own
database (its SQLite file by default, its PostgreSQL in production, schema ``dbos``), so an inbox
row and the enqueue of its run commit in one transaction; queues carry per-system concurrency
and rate limits and are partitioned by entity so one deal's events run in order.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dbos import DBOS, DBOSClient
from sqlalchemy.engine import make_url

from handoff import __version__
from handoff.config import load_settings
from handoff.engine.breaker import BreakerPolicy, CircuitBreakers
from handoff.engine.clock import SYSTEM_CLOCK, Clock
from handoff.engine.retry import Backoff
from handoff.observability.metrics import unregister_state_collector
from handoff.store import migrate
from handoff.store.db import Store
from handoff.store.inbox import Inbox
from handoff.store.names import adopt_kind_rows
from handoff.store.repositories import AuditTrail, Bindings, Cursors, ExceptionQueue, Gates

if TYPE_CHECKING:
    from handoff.config import Settings

APP_NAME = "handoff"
# Every process that enqueues or runs flows must agree on this, or workers would ignore work
# enqueued by a process whose code hash differs (the CLI, the API, a test driver).
APP_VERSION = f"handoff-{__version__}"
DEFAULT_QUEUE = "default"


@dataclass
class Hub:
    settings: Settings
    store: Store
    backoff: Backoff
    breakers: CircuitBreakers
    clock: Clock = SYSTEM_CLOCK  # the breakers' and the retries' time (tests move a fake one)
    inbox: Inbox = field(init=False)
    exceptions: ExceptionQueue = field(init=False)
    audit: AuditTrail = field(init=False)
    bindings: Bindings = field(init=False)
    cursors: Cursors = field(init=False)
    gates: Gates = field(init=False)
    launched: bool = False  # the durable engine runs in this process (handoff.engine.launcher)
    dispatcher: Any = None  # engine.batches.Dispatcher, started by engine.launcher.launch

    def __post_init__(self) -> None:
        self.inbox = Inbox(self.store)
        self.exceptions = ExceptionQueue(self.store)
        self.audit = AuditTrail(self.store)
        self.bindings = Bindings(self.store)
        self.cursors = Cursors(self.store)
        self.gates = Gates(self.store)

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock = SYSTEM_CLOCK) -> Hub:
        retry = settings.retry
        store = Store(settings.store_url())
        return cls(
            settings=settings,
            store=store,
            clock=clock,
            backoff=Backoff(
                max_attempts=retry.max_attempts,
                initial_delay_seconds=retry.initial_delay_seconds,
                max_delay_seconds=retry.max_delay_seconds,
                multiplier=retry.multiplier,
                jitter=retry.jitter,
            ),
            breakers=CircuitBreakers(
                store,
                {
                    name: BreakerPolicy(
                        failure_threshold=system.circuit_breaker.failure_threshold,
                        cooldown_seconds=system.circuit_breaker.cooldown_seconds,
                        probe_timeout_seconds=system.circuit_breaker.probe_timeout_seconds,
                    )
                    for name, system in settings.systems.items()
                },
                clock=clock,
            ),
        )

    def system_database_url(self) -> str:
        return dbos_url(self.settings.system_store_url())

    def client(self) -> DBOSClient:
        """Talk to the durable engine without running workflows (CLI, API, test drivers)."""
        return DBOSClient(system_database_url=self.system_database_url())

    def shutdown(self) -> None:
        unregister_state_collector(self)
        if self.dispatcher is not None:
            self.dispatcher.stop()
            self.dispatcher = None
        if self.launched:
            DBOS.destroy(destroy_registry=False)
            self.launched = False
        self.store.dispose()


_current: Hub | None = None


def set_current_hub(hub: Hub | None) -> None:
    global _current
    _current = hub


def current_hub() -> Hub:
    if _current is None:
        raise RuntimeError("no hub in this process: call handoff.engine.runtime.start_hub() first")
    return _current


def start_hub(settings: Settings | None = None, *, clock: Clock = SYSTEM_CLOCK) -> Hub:
    """Build this process's hub from settings (default: handoff.yaml or the embedded default)
    and bring its store schema up to date. ``clock``: the hub's time (tests give a fake one)."""
    settings = settings or load_settings()
    if not same_database(settings.store_url(), settings.system_store_url()):
        raise ValueError(
            "store.system_url must name the store's own database (store.url): an event's inbox "
            "row and its run's enqueue commit in one transaction; remove store.system_url"
        )
    hub = Hub.from_settings(settings, clock=clock)
    # The store's tables (WAL, 0600 file on SQLite), then the durable engine's beside them in the
    # same database: an API process enqueues flows before any worker ran. The two sets of
    # tables share no name (the store's: inbox, bindings, ..., alembic_version; the engine's:
    # workflow_status, ..., dbos_migrations).
    migrate.upgrade(hub.store)
    adopt_kind_rows(hub.store, kind_renames(settings))
    DBOS.migrate(hub.system_database_url())
    set_current_hub(hub)
    return hub


def kind_renames(settings: Settings) -> dict[str, str]:
    """Kind -> the one configured system of that kind, when it is named otherwise: the rows a
    hub stored under the kind before systems were addressed by name are that system's
    (``handoff.store.names``)."""
    renames = {}
    for kind in ("odoo", "hubspot", "salesforce"):
        names = settings.systems_of_kind(kind)
        if len(names) == 1 and names[0] != kind and kind not in settings.systems:
            renames[kind] = names[0]
    return renames


def default_executor_id() -> str:
    """Stable per host and slot, so a restarted worker recovers exactly the flows it left."""
    return os.environ.get("HANDOFF_EXECUTOR_ID") or f"{socket.gethostname()}-worker"


def same_database(first: str, second: str) -> bool:
    """Whether two URLs name one database (driver and credentials aside)."""
    a, b = make_url(first), make_url(second)
    if a.get_backend_name() != b.get_backend_name():
        return False
    if a.get_backend_name() == "sqlite":
        return os.path.realpath(a.database or "") == os.path.realpath(b.database or "")
    return (a.host, a.port or 5432, a.database) == (b.host, b.port or 5432, b.database)


def dbos_url(url: str) -> str:
    # DBOS opens PostgreSQL with psycopg 3 itself and wants the plain scheme.
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def describe(hub: Hub) -> dict[str, Any]:
    return {
        "store": _mask_url(hub.store.url),
        "durable engine": _mask_url(hub.system_database_url()),
        "version": APP_VERSION,
    }


def _mask_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)
