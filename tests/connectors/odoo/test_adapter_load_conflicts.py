"""What ``load`` answers inside its result when another transaction wrote the same rows is a
transient error (retried with backoff), not a refusal a person must decide on.

Classification checked on what a real Odoo 18 answered (the recorded transcripts), then end to
end: the Odoo sandbox answers the next ``load`` with that serialization failure, and the engine's
step retry upserts the customer once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from handoff.canonical.errors import ErrorKind, classify_exception
from handoff.config import RetryPolicy, Settings, StoreConfig
from handoff.connectors.odoo import OdooAdapter, OdooClient
from handoff.connectors.odoo.adapter import load_error
from handoff.connectors.odoo.errors import OdooConcurrencyError, error_from_payload
from handoff.engine.runtime import set_current_hub, start_hub
from handoff.engine.steps import call

testing = pytest.importorskip("handoff_sandbox.odoo.testing")

TRANSCRIPTS = Path(__file__).parents[2] / "contract" / "odoo" / "transcripts"


def _load_answers(name: str) -> list[list[dict[str, Any]]]:
    """The error messages of every ``load`` answer in a recorded transcript."""
    transcript = json.loads((TRANSCRIPTS / name).read_text())
    found = []
    for exchange in transcript["exchanges"]:
        args = exchange["request"].get("params", {}).get("args", [])
        result = exchange.get("response", {}).get("result")
        if len(args) > 4 and args[4] == "load" and isinstance(result, dict):
            errors = [m for m in result.get("messages") or [] if m.get("type") == "error"]
            if errors:
                found.append(errors)
    return found


def test_the_recorded_serialization_failure_inside_load_is_transient() -> None:
    answers = _load_answers("load_concurrent_same_external_id.json")
    assert len(answers) == 2  # two of the three racing loads lost
    for errors in answers:
        error = load_error("res.partner", errors)
        assert isinstance(error, OdooConcurrencyError)
        assert error.kind is ErrorKind.TRANSIENT
        assert classify_exception(error, system="odoo") is error
        assert "could not serialize access" in error.message


def test_the_recorded_duplicate_external_id_of_a_concurrent_create_is_transient() -> None:
    transcript = json.loads((TRANSCRIPTS / "hub_calls_refused_by_real_odoo.json").read_text())
    data = transcript["exchanges"][1]["response"]["error"]["data"]
    assert "ir_model_data_module_name_uniq_index" in data["message"]
    # Raised by the call itself (a create of ir.model.data) or reported inside load's result.
    refused = error_from_payload(data, model="ir.model.data", method="create")
    assert isinstance(refused, OdooConcurrencyError) and refused.kind is ErrorKind.TRANSIENT
    error = load_error("res.partner", [{"type": "error", "message": refused.message}])
    assert error.kind is ErrorKind.TRANSIENT


def test_rows_odoo_refuses_stay_a_decision_for_a_person() -> None:
    answers = _load_answers("external_ids.json")
    assert answers
    for errors in answers:
        error = load_error("res.partner", errors)
        assert error.kind is ErrorKind.BUSINESS_RULE and error.rule == "odoo_load"
    # A conflict in one row does not make a bad value in another retryable.
    [conflict] = _load_answers("load_concurrent_same_external_id.json")[0]
    mixed = load_error("res.partner", [conflict, *answers[0]])
    assert mixed.kind is ErrorKind.BUSINESS_RULE


@pytest.fixture
def sandbox() -> Iterator[Any]:
    with testing.running_odoo_sandbox() as running:
        yield running


def test_a_load_that_met_a_concurrent_update_is_retried_by_the_step_and_upserts_once(
    sandbox: Any, store_url: str
) -> None:
    hub = start_hub(
        Settings(  # the engine's retry policy and breakers; the adapter is given
            store=StoreConfig(url=store_url),
            retry=RetryPolicy(max_attempts=3, initial_delay_seconds=0.05, max_delay_seconds=0.5),
        )
    )
    try:
        with OdooClient(sandbox.url, sandbox.db, sandbox.login, sandbox.password) as client:
            adapter = OdooAdapter(client)
            state = httpx.post(f"{sandbox.url}/sandbox/control", json={"load_conflicts": 1}).json()
            assert state["load_conflicts"] == 1
            result = call(
                "odoo",
                "upsert_customer",
                adapter.upsert,
                "res.partner",
                "hubspot",
                "company-77",
                {"name": "Fabrikam Ltd", "is_company": True},
            )
            assert result.created
            assert httpx.get(f"{sandbox.url}/sandbox/control").json()["load_conflicts"] == 0
            partners = adapter.search_read("res.partner", [["name", "=", "Fabrikam Ltd"]], ["id"])
            assert partners == [{"id": result.id}]
            # Run again (as the other deal's flow does): the external id exists, so it updates.
            again = call(
                "odoo",
                "upsert_customer",
                adapter.upsert,
                "res.partner",
                "hubspot",
                "company-77",
                {"name": "Fabrikam Ltd", "is_company": True},
            )
            assert (again.id, again.created) == (result.id, False)
    finally:
        hub.shutdown()
        set_current_hub(None)
