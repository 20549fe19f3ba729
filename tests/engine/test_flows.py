"""Flows on the durable engine, on SQLite and PostgreSQL: inbox dedupe, steps run once,
retry classification against a service that fails on purpose, exceptions, retry and replay."""

from __future__ import annotations

from collections.abc import Callable

from dbos import DBOS

from handoff import services
from handoff.canonical.errors import HandoffError
from handoff.engine import flows
from handoff.engine.runtime import Hub
from handoff.store.inbox import IncomingEvent
from handoff.store.models import ExceptionStatus, InboxStatus
from support.ledger import Ledger
from support.waiting import wait_for


def events(
    ledger_url: str,
    count: int,
    *,
    entity: str = "deal-1",
    steps: int = 3,
    prefix: str = "evt",
    flow: str = "ledger_steps",
) -> list[IncomingEvent]:
    return [
        IncomingEvent(
            source_event_id=f"{prefix}-{i}",
            entity_key=entity,
            kind="test.append",
            flow=flow,
            payload={"ledger": ledger_url, "seq": i, "steps": steps},
        )
        for i in range(count)
    ]


def inbox_statuses(hub: Hub) -> list[str]:
    return [e.status for e in hub.inbox.list(limit=1000)]


def test_each_event_runs_once_in_order_and_duplicates_start_nothing(
    launch: Callable[..., Hub], ledger: tuple[str, Ledger]
) -> None:
    url, book = ledger
    hub = launch()
    batch = events(url, 5)
    results = flows.submit(hub, "test", batch + batch[:2])  # a redelivery inside the batch
    assert [r.duplicate for r in results] == [False] * 5 + [True, True]
    again = flows.submit(hub, "test", batch)  # and a later redelivery
    assert all(r.duplicate for r in again)

    wait_for(lambda: inbox_statuses(hub).count(InboxStatus.DONE) == 5, what="5 flows done")
    entries = book.entries()
    assert len(entries) == 15
    assert [e["seq"] for e in entries] == sorted(e["seq"] for e in entries)  # one entity: in order
    assert book.requests == 15
    assert hub.exceptions.list() == []


def test_transient_errors_are_retried_and_retry_after_is_honoured(
    launch: Callable[..., Hub], ledger: tuple[str, Ledger]
) -> None:
    url, book = ledger
    hub = launch()
    book.fail_next(1, 500)
    book.fail_next(1, 429, retry_after=1)
    [accepted] = flows.submit(hub, "test", events(url, 1, steps=1))
    wait_for(lambda: inbox_statuses(hub) == [InboxStatus.DONE], what="flow done")
    assert len(book.entries()) == 1
    assert book.requests == 3
    # What the run decided and slept, as its steps recorded it (not the wall time around it,
    # which a busy machine stretches): the 500's backoff within its jittered ceiling (0.05 s),
    # then at least the second Retry-After asked.
    run = DBOS.list_workflow_steps(flows.workflow_id_for(accepted.inbox_id, "ledger_steps"))
    decided = [step["error"].retry_in for step in run if step["function_name"] == "ledger.append"
               and isinstance(step["error"], HandoffError)]  # fmt: skip
    slept = [
        step["output"] - step["started_at_epoch_ms"] / 1000
        for step in run
        if step["function_name"] == "DBOS.sleep"
    ]
    assert len(decided) == 2 and decided[0] <= 0.05 and decided[1] == 1.0, decided
    # One durable sleep per decision, each recorded as at least as long (its row stores the wake
    # time a recovery resumes from).
    assert len(slept) == 2 and all(s >= d for s, d in zip(slept, decided, strict=True)), slept


def test_timeouts_are_retried(launch: Callable[..., Hub], ledger: tuple[str, Ledger]) -> None:
    url, book = ledger
    hub = launch()
    book.fail_next(1, 200, delay=2.5)  # slower than the 2 s client timeout
    flows.submit(hub, "test", events(url, 1, steps=1))
    wait_for(lambda: inbox_statuses(hub) == [InboxStatus.DONE], what="flow done")
    assert len(book.entries()) == 1


def test_permanent_error_becomes_an_exception_and_retry_continues_from_the_failed_step(
    launch: Callable[..., Hub], ledger: tuple[str, Ledger]
) -> None:
    url, book = ledger
    hub = launch()
    flows.submit(hub, "test", events(url, 1, steps=1, prefix="ok"))
    wait_for(lambda: len(book.entries()) == 1, what="first flow")
    book.fail_next(1, 400)  # step 0 of the next flow: a 400 is not retried
    [accepted] = flows.submit(hub, "test", events(url, 1, steps=3, prefix="bad"))
    wait_for(lambda: len(hub.exceptions.list()) == 1, what="an exception record")
    [record] = hub.exceptions.list()
    assert record.kind == "permanent"
    assert record.rule == "http_400"
    assert record.record == "test:deal-1"
    assert "400" in record.message and record.suggested_fix
    assert record.context["system"] == "ledger"
    # The flow records its exception, then marks its event last.
    wait_for(
        lambda: hub.inbox.get(accepted.inbox_id).status == InboxStatus.FAILED,  # type: ignore[union-attr]
        what="the event marked failed",
    )
    assert book.requests == 2  # the 400 was tried once

    new_run = services.retry_exception(hub, record.id)
    wait_for(
        lambda: hub.exceptions.get(record.id).status == ExceptionStatus.RESOLVED,  # type: ignore[union-attr]
        what="the exception to resolve",
    )
    assert len(book.entries()) == 4  # 1 + the 3 steps of the retried flow, each once
    # The exception closes in the run's last step; the run itself completes just after.
    wait_for(
        lambda: services.show_flow_run(hub, new_run)[0].status == "SUCCESS", what="run success"
    )
    assert hub.inbox.get(accepted.inbox_id).status == InboxStatus.DONE  # type: ignore[union-attr]


def test_exhausted_retries_become_an_exception_saying_what_to_do(
    launch: Callable[..., Hub], ledger: tuple[str, Ledger]
) -> None:
    url, book = ledger
    hub = launch()
    book.fail_next(4, 502)
    flows.submit(hub, "test", events(url, 1, steps=1))
    wait_for(lambda: len(hub.exceptions.list()) == 1, what="an exception record")
    [record] = hub.exceptions.list()
    assert record.kind == "transient"
    assert "4 attempts" in (record.suggested_fix or "")
    assert book.requests == 4


def test_replay_runs_a_finished_flow_again_from_a_step(
    launch: Callable[..., Hub], ledger: tuple[str, Ledger]
) -> None:
    url, book = ledger
    hub = launch()
    flows.submit(hub, "test", events(url, 1, steps=3))
    wait_for(lambda: inbox_statuses(hub) == [InboxStatus.DONE], what="flow done")
    wait_for(
        lambda: (
            [r.status for r in services.list_flow_runs(hub, flow="ledger_steps")] == ["SUCCESS"]
        ),
        what="the run to complete",
    )
    [run] = services.list_flow_runs(hub, flow="ledger_steps")
    _, steps = services.show_flow_run(hub, run.workflow_id)
    appends = [s.number for s in steps if s.name == "ledger.append"]
    replayed = services.replay_flow_run(hub, run.workflow_id, from_step=appends[-1])
    wait_for(
        lambda: services.show_flow_run(hub, replayed)[0].status == "SUCCESS", what="replay done"
    )
    # Only the last step ran again (one request more), and its natural key (the event's and the
    # step's) met the effect it had made the first time: nothing twice.
    assert book.requests == 4
    assert [e["step"] for e in book.entries()] == [0, 1, 2]


def test_a_hand_over_run_again_never_undoes_what_a_flow_already_recorded(
    launch: Callable[..., Hub], ledger: tuple[str, Ledger]
) -> None:
    """A worker's step that gives events runs of their own may run again after a crash, when
    those runs have ended: their done or failed stays."""
    hub = launch()
    done, failed, fresh = (
        r.inbox_id for r in hub.inbox.accept_many("test", events(ledger[0], 3, prefix="race"))
    )
    hub.inbox.mark(done, InboxStatus.DONE)
    hub.inbox.mark(failed, InboxStatus.FAILED)
    with hub.store.session() as session:
        hub.inbox.mark_queued(session, {i: f"wf-{i}" for i in (done, failed, fresh)})
    rows = {i: hub.inbox.get(i) for i in (done, failed, fresh)}
    assert {i: (r.status, r.workflow_id) for i, r in rows.items() if r} == {
        done: (InboxStatus.DONE, None),
        failed: (InboxStatus.FAILED, None),
        fresh: (InboxStatus.QUEUED, f"wf-{fresh}"),
    }
