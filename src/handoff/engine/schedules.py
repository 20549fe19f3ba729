"""The hub's scheduled jobs (pollers, cron triggers, monitors, alerts) as the engine's scheduled
workflows, exactly once per tick across every worker; each holds back while a system it calls
has an open circuit.

A poll that would only fail against a system known to be down spends nothing: the run is
skipped, counted (``handoff_scheduled_runs_skipped_total{job,system}``) and logged, and the next
run after the cool-down (half-open) is the probe. Inside a durable workflow the check is a step,
so a replay sees the same decision.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from dbos import DBOS

from handoff.engine.breaker import SCHEDULED_SKIPPED
from handoff.engine.runtime import Hub, current_hub
from handoff.observability.logging import get_logger

log = get_logger("handoff.schedule")


def open_circuit(hub: Hub, job: str, systems: Iterable[str]) -> str | None:
    """The first of ``systems`` whose circuit is open (the run of ``job`` is then skipped and
    counted), else None: the job may run."""
    names = list(dict.fromkeys(systems))
    if DBOS.workflow_id:
        found: str | None = DBOS.run_step(
            {"name": f"schedule.{job}.circuit"}, _first_open, hub, names
        )
    else:
        found = _first_open(hub, names)
    if found is not None:
        SCHEDULED_SKIPPED.labels(job, found).inc()
        # From the view, not ``wait_seconds``: asking how long to wait may take the probe.
        until = hub.breakers.view(found).opened_until
        log.info(
            "%s skipped: the circuit of %s is open until %s",
            job,
            found,
            until.isoformat() if until is not None else "its probe reports",
        )
    return found


def _first_open(hub: Hub, systems: list[str]) -> str | None:
    for system in systems:
        if hub.breakers.is_open(system):
            return system
    return None


# ── The hub's schedules: the engine's scheduled workflows ─────────────────────────────────
#
# Every worker registers the same schedules (``install``); DBOS's scheduler in each of them
# enqueues a tick under the id ``sched-<schedule>-<tick time>``, so of N workers exactly one
# enqueue per tick creates the run and the others find it there. The run goes to the schedule's
# own queue, one run at a time across every worker, so a slow tick is never overlapped by the
# next one. Inside the run, the circuit check is one step and the job another.

SCHEDULE_PREFIX = "handoff."
SCHEDULED_WORKFLOW = "handoff.scheduled"


@dataclass(frozen=True)
class Job:
    """A kind of scheduled work: ``run(hub, fired_at, args)`` returns something small to record
    (a count); ``systems(hub, args)`` names the circuits that hold it back while open."""

    run: Callable[[Hub, datetime, dict[str, Any]], Any]
    systems: Callable[[Hub, dict[str, Any]], list[str]]


_JOBS: dict[str, Job] = {}


def job(
    kind: str, *, systems: Callable[[Hub, dict[str, Any]], list[str]] | None = None
) -> Callable[[Callable[[Hub, datetime, dict[str, Any]], Any]], Callable[..., Any]]:
    """Register ``fn`` as the job ``kind`` that schedules name (in every process that imports
    its module: the flow modules, loaded by every worker)."""

    def register(fn: Callable[[Hub, datetime, dict[str, Any]], Any]) -> Callable[..., Any]:
        _JOBS[kind] = Job(run=fn, systems=systems or (lambda hub, args: []))
        return fn

    return register


@dataclass(frozen=True)
class Schedule:
    """One scheduled job of this hub: ``job`` (a registered kind) with ``args``, fired on
    ``cron`` (six fields, seconds first, UTC); ``what`` says it in words."""

    name: str
    job: str
    cron: str
    what: str
    args: dict[str, Any] = field(default_factory=dict)

    @property
    def queue(self) -> str:
        return f"{SCHEDULE_PREFIX}{self.name}"


def every(seconds: float) -> tuple[str, float]:
    """The cron expression (seconds first) of a period of about ``seconds``, and that period:
    cron fires on the clock, so a period divides a minute, an hour or a day; any other is
    rounded down to the nearest that does (never less than a second)."""
    whole = max(1, int(seconds))
    for unit, field_index, parts in ((1, 0, 60), (60, 1, 60), (3600, 2, 24)):
        if whole < unit * parts:
            count = max(1, whole // unit)
            count = max(d for d in range(1, count + 1) if parts % d == 0)
            fields = ["0"] * field_index + [f"*/{count}"] + ["*"] * (5 - field_index)
            return " ".join(fields), float(count * unit)
    return "0 0 0 * * *", 86_400.0


def at(cron: str) -> str:
    """A five-field cron expression (handoff.yaml) in the scheduler's six fields."""
    return cron if len(cron.split()) == 6 else f"0 {cron}"


@DBOS.workflow(name=SCHEDULED_WORKFLOW)
def _scheduled(fired_at: datetime, context: dict[str, Any]) -> Any:
    hub = current_hub()
    name, args = str(context["schedule"]), dict(context.get("args") or {})
    found = _JOBS.get(str(context["job"]))
    if found is None:
        raise ValueError(f"schedule {name}: no job {context['job']!r} in this worker")
    if open_circuit(hub, name, found.systems(hub, args)):
        return None
    return DBOS.run_step({"name": f"schedule.{name}"}, found.run, hub, fired_at, args)


def install(schedules: Sequence[Schedule]) -> None:
    """Make ``schedules`` the hub's (after ``launcher.launch``): each on its queue of one run at a
    time, created or updated in the engine's table of schedules; the hub's schedules that are
    no longer configured are deleted."""
    unknown = sorted({s.job for s in schedules} - set(_JOBS))
    if unknown:
        raise ValueError(f"no job registered for {', '.join(unknown)}")
    for schedule in schedules:
        DBOS.register_queue(
            schedule.queue, global_concurrency=1, polling_interval_sec=0.5,
            on_conflict="always_update",
        )  # fmt: skip
    DBOS.apply_schedules(
        [
            {
                "schedule_name": schedule.queue,
                "workflow_fn": _scheduled,
                "schedule": schedule.cron,
                "context": {"schedule": schedule.name, "job": schedule.job, "args": schedule.args},
                "queue_name": schedule.queue,
            }
            for schedule in schedules
        ]
    )
    wanted = {schedule.queue for schedule in schedules}
    for stale in DBOS.list_schedules(schedule_name_prefix=SCHEDULE_PREFIX):
        if stale["schedule_name"] not in wanted:
            DBOS.delete_schedule(stale["schedule_name"])
