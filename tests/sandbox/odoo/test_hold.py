"""The sandbox's hold (crash tests kill the client while a chosen call waits): after its effect,
the write is there and the client never hears; before it, the call is dropped without effect.
Other calls are served meanwhile."""

from __future__ import annotations

import threading
from typing import Any

import httpx

from handoff_sandbox.odoo.testing import RunningSandbox
from support.waiting import wait_for


def _body(odoo: RunningSandbox, model: str, method: str, args: list[Any]) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "method": "call", "id": 1, "params": {
        "service": "object", "method": "execute_kw",
        "args": [odoo.db, odoo.uid, odoo.password, model, method, args, {}]}}  # fmt: skip


def _post(odoo: RunningSandbox, body: dict[str, Any], timeout: float = 30) -> httpx.Response:
    return httpx.post(f"{odoo.url}/jsonrpc", json=body, timeout=timeout)


def _control(odoo: RunningSandbox, **settings: Any) -> dict[str, Any]:
    return dict(httpx.post(f"{odoo.url}/sandbox/control", json=settings).json())


def _partners(odoo: RunningSandbox, name: str) -> int:
    body = _body(odoo, "res.partner", "search_count", [[["name", "=", name]]])
    return int(_post(odoo, body).json()["result"])


def _in_background(odoo: RunningSandbox, body: dict[str, Any]) -> list[httpx.Response]:
    answers: list[httpx.Response] = []
    threading.Thread(target=lambda: answers.append(_post(odoo, body)), daemon=True).start()
    return answers


def test_a_call_held_after_its_effect_has_written_and_not_answered(odoo: RunningSandbox) -> None:
    state = _control(odoo, hold_after=1, hold_mode="after", hold_methods=["create"])
    assert state["hold_countdown"] == 1 and not state["held"]
    first = _body(odoo, "res.partner", "create", [{"name": "First"}])
    assert "result" in _post(odoo, first).json()  # the first create passes: the second is held
    answers = _in_background(odoo, _body(odoo, "res.partner", "create", [{"name": "Held"}]))
    wait_for(lambda: _control(odoo)["held"], what="the second create held")
    assert _control(odoo)["held_call"] == "res.partner.create"
    assert _partners(odoo, "Held") == 1, "written, and reads are served while it is held"
    assert answers == []
    _control(odoo, release=True)
    wait_for(lambda: len(answers) == 1, what="the held call answered once released")
    assert "result" in answers[0].json() and not _control(odoo)["held"]


def test_a_call_held_before_its_effect_is_dropped(odoo: RunningSandbox) -> None:
    _control(odoo, hold_after=0, hold_mode="before", hold_methods=["create"])
    assert _partners(odoo, "Dropped") == 0  # a read does not count toward the hold
    answers = _in_background(odoo, _body(odoo, "res.partner", "create", [{"name": "Dropped"}]))
    wait_for(lambda: _control(odoo)["held"], what="the create held")
    _control(odoo, release=True)
    wait_for(lambda: len(answers) == 1, what="the held call answered once released")
    assert answers[0].status_code == 503
    assert _partners(odoo, "Dropped") == 0, "a call dropped before its effect wrote nothing"
    assert "result" in _post(odoo, _body(odoo, "res.partner", "create", [{"name": "Next"}])).json()
