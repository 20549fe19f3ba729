"""Who may start which flow on `POST /webhooks/events/{source}` (issue 10, defect 1).

A request signed with one source's secret could name any flow with any payload: the time
tracker's secret started an invoice run, then a `stripe_payment` that marked the invoice paid.
Now each source starts only the flows its `systems.<name>.allowed_flows` lists (deny by default),
only flows that declare an input model can be started by name at all, and payment events come
only from Stripe's own `/webhooks/stripe`. The matrix covers every configured source and every
registered flow, read from the flow registry, so a new flow is covered without touching this file.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from handoff.api.app import create_app
from handoff.config import ConfigError, SecretRef, Settings, StoreConfig, SystemConfig
from handoff.engine import flows
from handoff.engine.runtime import Hub
from handoff.flows.routing import startable_flows
from handoff.ingress.events import SIGNATURE_HEADER, sign
from support import flows as _test_flows  # noqa: F401  (a flow no product route starts)
from support.servers import serving_hub

flows.load_flow_modules()

SECRETS = {
    "psa": "psa-secret",  # a PSA allowed to post time entries in the generic format
    "timetracker": "tracker-secret",  # allowed nothing: /webhooks/time refuses it too
    "stripe": "stripe-secret",
    "hubspot": "hubspot-secret",
}
ALLOWED = {"psa": ["time_entry"]}
KINDS = {"psa": "http", "timetracker": "http", "stripe": "stripe", "hubspot": "hubspot"}

TIME_ITEM = {
    "kind": "time",
    "source_id": "te-1",
    "consultant": "jane@example.com",
    "project_ref": "P-1",
    "date": (date.today() - timedelta(days=3)).isoformat(),
    "hours": 2,
    "approval": "approved",
}
# A payload each flow would act on (what the forger sent), so a refusal is about permission,
# never about a malformed payload. A flow not listed gets {}.
PAYLOADS: dict[str, dict[str, Any]] = {
    "time_entry": TIME_ITEM,
    "billing_run": {"period": "2025-01", "require_approval": False, "post": True},
    "stripe_payment": {
        "id": "evt_forged",
        "type": "payment_intent.succeeded",
        "data": {"object": {"id": "pi_1", "amount": 100000, "currency": "usd"}},
    },
    "invoice_status": {"deal": "hubspot:deal:1"},
}


def settings_for(store_url: str, allowed: dict[str, list[str]] = ALLOWED) -> Settings:
    return Settings(
        store=StoreConfig(url=store_url),
        systems={
            name: SystemConfig(
                kind=KINDS[name],  # type: ignore[arg-type]
                url="http://127.0.0.1:9/",
                webhook_secret=SecretRef(f"${{AUTHZ_{name.upper()}_SECRET}}"),
                allowed_flows=allowed.get(name, []),
            )
            for name in SECRETS
        },
    )


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Hub]]:
    folder: Path = tmp_path_factory.mktemp("authz")
    with pytest.MonkeyPatch.context() as patch:
        for name, secret in SECRETS.items():
            patch.setenv(f"AUTHZ_{name.upper()}_SECRET", secret)
        with serving_hub(settings_for(f"sqlite:///{folder / 'handoff.db'}")) as running:
            yield running


def post(base: str, source: str, flow: str, payload: dict[str, Any]) -> httpx.Response:
    body = json.dumps(
        {"events": [{"id": f"{source}-{flow}", "entity": "e-1", "kind": "x", "flow": flow,
                     "payload": payload}]}
    ).encode()  # fmt: skip
    return httpx.post(
        f"{base}/webhooks/events/{source}",
        content=body,
        headers={SIGNATURE_HEADER: sign(SECRETS[source], body)},
    )


def rejected(base: str, source: str, reason: str) -> float:
    pattern = rf'^handoff_webhook_rejected_total\{{reason="{reason}",source="{source}"\}} (\S+)$'
    match = re.search(pattern, httpx.get(f"{base}/metrics").text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def inbox_count(hub: Hub) -> int:
    return len(hub.inbox.list(limit=10_000))


MATRIX = [(source, flow) for source in SECRETS for flow in sorted(flows.registered())]


def test_the_matrix_covers_the_registry() -> None:
    assert {"time_entry", "billing_run", "stripe_payment", "deal_to_delivery"} <= {
        flow for _, flow in MATRIX
    }
    assert startable_flows() <= set(flows.registered())  # every startable flow exists


@pytest.mark.parametrize(("source", "flow"), MATRIX, ids=[f"{s}->{f}" for s, f in MATRIX])
def test_a_source_starts_exactly_the_flows_it_is_allowed(
    api: tuple[str, Hub], source: str, flow: str
) -> None:
    base, hub = api
    stored_before = inbox_count(hub)
    refused_before = rejected(base, source, "flow_not_allowed")
    response = post(base, source, flow, PAYLOADS.get(flow, {}))
    if flow in ALLOWED.get(source, []):
        assert response.status_code == 202, response.text
        [row] = [e for e in hub.inbox.list(source=source, limit=10_000) if e.flow == flow]
        assert row.payload["record"]["source"] == source
        return
    assert response.status_code == 403, response.text
    answer = response.json()
    assert answer["error"] == "flow_not_allowed"
    assert f"source {source!r}" in answer["detail"] and f"flow {flow!r}" in answer["detail"]
    assert inbox_count(hub) == stored_before
    assert rejected(base, source, "flow_not_allowed") == refused_before + 1


def post_time(base: str, secret: str, source_id: str) -> httpx.Response:
    """``POST /webhooks/time`` as a time tracker sends it, signed with ``secret``."""
    body = json.dumps([{**TIME_ITEM, "source_id": source_id}]).encode()
    return httpx.post(
        f"{base}/webhooks/time", content=body, headers={SIGNATURE_HEADER: sign(secret, body)}
    )


def test_the_time_webhook_is_refused_to_a_tracker_not_allowed_time_entry(
    api: tuple[str, Hub],
) -> None:
    """/webhooks/time starts time_entry: the `timetracker` system above does not list it."""
    base, hub = api
    stored_before = inbox_count(hub)
    refused_before = rejected(base, "timetracker", "flow_not_allowed")
    response = post_time(base, SECRETS["timetracker"], "te-time-route")
    assert response.status_code == 403, response.text
    answer = response.json()
    assert answer["error"] == "flow_not_allowed"
    assert "source 'timetracker'" in answer["detail"]
    assert "flow 'time_entry'" in answer["detail"]
    assert "systems.timetracker.allowed_flows" in answer["detail"]
    assert inbox_count(hub) == stored_before
    assert rejected(base, "timetracker", "flow_not_allowed") == refused_before + 1


def test_the_time_webhook_starts_time_entry_for_a_tracker_allowed_it_and_no_one_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, secret in SECRETS.items():
        monkeypatch.setenv(f"AUTHZ_{name.upper()}_SECRET", secret)
    allowed = {**ALLOWED, "timetracker": ["time_entry"]}
    with serving_hub(settings_for(f"sqlite:///{tmp_path / 'h.db'}", allowed)) as (base, hub):
        accepted = post_time(base, SECRETS["timetracker"], "te-allowed")
        assert accepted.status_code == 202, accepted.text
        [row] = hub.inbox.list(source="timetracker")
        assert row.flow == "time_entry"
        # Another source allowed time_entry (psa) cannot post on the tracker's route.
        for source in ("psa", "stripe"):
            assert post_time(base, SECRETS[source], f"te-{source}").status_code == 401
        assert inbox_count(hub) == 1


def test_payment_events_are_refused_with_the_route_they_come_from(api: tuple[str, Hub]) -> None:
    base, _ = api
    response = post(base, "stripe", "stripe_payment", PAYLOADS["stripe_payment"])
    assert response.status_code == 403
    assert "/webhooks/stripe" in response.json()["detail"]


def test_an_allowed_flow_still_validates_its_payload(api: tuple[str, Hub]) -> None:
    base, hub = api
    stored_before = inbox_count(hub)
    response = post(base, "psa", "time_entry", {**TIME_ITEM, "hours": "lots", "date": None})
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert response.json()["error"] == "invalid_payload"
    assert "events[0].payload.time.hours" in detail and "events[0].payload.time.date" in detail
    unknown_field = post(base, "psa", "time_entry", {**TIME_ITEM, "invoice_now": True})
    assert unknown_field.status_code == 422 and "invoice_now" in unknown_field.json()["detail"]
    assert inbox_count(hub) == stored_before


def test_a_source_cannot_post_records_in_another_systems_name(api: tuple[str, Hub]) -> None:
    base, hub = api
    stored_before = inbox_count(hub)
    response = post(
        base, "psa", "time_entry", {**TIME_ITEM, "source_id": "te-9", "source": "timetracker"}
    )
    assert response.status_code == 403
    assert response.json()["error"] == "source_mismatch"
    assert inbox_count(hub) == stored_before


def test_a_batch_starts_one_flow_or_none(api: tuple[str, Hub]) -> None:
    base, hub = api
    stored_before = inbox_count(hub)
    body = json.dumps(
        {"events": [
            {"id": "m-1", "entity": "e", "kind": "x", "flow": "time_entry",
             "payload": {**TIME_ITEM, "source_id": "te-m"}},
            {"id": "m-2", "entity": "e", "kind": "x", "payload": {}},
        ]}
    ).encode()  # fmt: skip
    response = httpx.post(
        f"{base}/webhooks/events/psa",
        content=body,
        headers={SIGNATURE_HEADER: sign(SECRETS["psa"], body)},
    )
    assert response.status_code == 422 and response.json()["error"] == "mixed_flows"
    assert inbox_count(hub) == stored_before


def test_the_forgery_of_the_issue_is_refused_on_both_stores(
    store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The time tracker's secret started an invoice run, then a payment: now both are 403."""
    for name, secret in SECRETS.items():
        monkeypatch.setenv(f"AUTHZ_{name.upper()}_SECRET", secret)
    with serving_hub(settings_for(store_url)) as (base, hub):
        for flow in ("billing_run", "stripe_payment"):
            response = post(base, "timetracker", flow, PAYLOADS[flow])
            assert response.status_code == 403, response.text
        assert hub.inbox.list() == []
        assert rejected(base, "timetracker", "flow_not_allowed") >= 2


def test_the_api_refuses_to_serve_a_source_allowed_a_flow_that_cannot_be_started_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AUTHZ_PSA_SECRET", "x")
    settings = settings_for(f"sqlite:///{tmp_path / 'h.db'}")
    settings.systems["psa"] = settings.systems["psa"].model_copy(
        update={"allowed_flows": ["time_entry", "stripe_payment"]}
    )
    with pytest.raises(ConfigError) as raised:
        create_app(Hub.from_settings(settings))
    [problem] = raised.value.problems
    assert problem.path == "systems.psa.allowed_flows[1]"
    assert "stripe_payment" in problem.message
