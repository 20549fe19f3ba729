"""Activation gates: DocuSign Connect lifts a signed-SOW gate; approvals are given by a person."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from handoff import services
from handoff.config import SecretRef, Settings, StoreConfig, SystemConfig
from handoff.engine.runtime import Hub
from handoff.ingress.docusign import SIGNATURE_HEADER, sign
from support.servers import serving_hub

KEY = "connect-key"


def envelope(
    deal: str | None, *, event: str = "envelope-completed", envelope_id: object = "env-1"
) -> bytes:
    fields = [] if deal is None else [{"name": "handoff_deal", "value": deal}]
    return json.dumps(
        {
            "event": event,
            "data": {
                "envelopeId": envelope_id,
                "envelopeSummary": {
                    "status": "completed",
                    "customFields": {"textCustomFields": fields},
                },
            },
        }
    ).encode()


@pytest.fixture
def api(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Hub]]:
    monkeypatch.setenv("DOCUSIGN_KEY", KEY)
    settings = Settings(
        store=StoreConfig(url=store_url),
        systems={
            "docusign": SystemConfig(
                kind="docusign",
                url="https://demo.docusign.net",
                webhook_secret=SecretRef("${DOCUSIGN_KEY}"),
            ),
            "hubspot": SystemConfig(kind="hubspot", url="https://api.hubapi.com"),
            "salesforce": SystemConfig(kind="salesforce", url="https://example.my.salesforce.com"),
        },
    )
    with serving_hub(settings) as running:
        yield running


def test_completed_envelope_lifts_the_signed_sow_gate(api: tuple[str, Hub]) -> None:
    base, hub = api
    hub.gates.require(
        "hubspot:deal:77", ["signed_sow", "approval"], deal_name="ERP rollout", workflow_id=""
    )
    body = envelope("hubspot:77")
    response = httpx.post(
        f"{base}/webhooks/docusign", content=body, headers={SIGNATURE_HEADER: sign(KEY, body)}
    )
    assert response.status_code == 200, response.text
    gates = {g.gate: g for g in hub.gates.for_deal("hubspot:deal:77")}
    assert gates["signed_sow"].status == "satisfied"
    assert gates["signed_sow"].satisfied_by == "docusign"
    assert gates["signed_sow"].evidence == {"envelope_id": "env-1"}
    assert gates["approval"].status == "waiting"
    assert [e.action for e in hub.audit.search(text="gate")] == ["gate.satisfied"]


@pytest.mark.parametrize(
    ("body", "signature", "status", "error"),
    [
        (envelope("hubspot:77"), "bad", 401, "signature"),
        (envelope("hubspot:77"), None, 401, "signature"),
        (b"{oops", "sign", 400, "malformed_json"),
        (envelope(None), "sign", 422, "missing_deal_reference"),
    ],
)
def test_bad_envelopes_are_refused_and_lift_nothing(
    api: tuple[str, Hub], body: bytes, signature: str | None, status: int, error: str
) -> None:
    base, hub = api
    hub.gates.require("hubspot:deal:77", ["signed_sow"], deal_name="x", workflow_id="")
    headers = (
        {}
        if signature is None
        else {SIGNATURE_HEADER: sign(KEY, body) if signature == "sign" else signature}
    )
    response = httpx.post(f"{base}/webhooks/docusign", content=body, headers=headers)
    assert (response.status_code, response.json()["error"]) == (status, error)
    assert [g.status for g in hub.gates.for_deal("hubspot:deal:77")] == ["waiting"]


def test_other_envelope_events_are_acknowledged_and_ignored(api: tuple[str, Hub]) -> None:
    base, hub = api
    body = envelope("hubspot:77", event="envelope-sent")
    response = httpx.post(
        f"{base}/webhooks/docusign", content=body, headers={SIGNATURE_HEADER: sign(KEY, body)}
    )
    assert response.status_code == 200 and "ignored" in response.json()
    assert hub.gates.for_deal("hubspot:deal:77") == []


def test_approval_is_given_once_by_a_named_person(api: tuple[str, Hub]) -> None:
    _, hub = api
    [approval, sow] = hub.gates.require(
        "salesforce:deal:006X", ["approval", "signed_sow"], deal_name="Retainer", workflow_id=""
    )
    with pytest.raises(services.OperationError, match="lifted by its own system"):
        services.approve(hub, sow.id, by="alice")
    services.approve(hub, approval.id, by="alice")
    assert hub.gates.get(approval.id).satisfied_by == "alice"  # type: ignore[union-attr]
    with pytest.raises(services.OperationError, match="already given by alice"):
        services.approve(hub, approval.id, by="bob")
    assert [g.id for g in hub.gates.list()] == [sow.id]


def post_envelope(base: str, body: bytes) -> httpx.Response:
    return httpx.post(
        f"{base}/webhooks/docusign", content=body, headers={SIGNATURE_HEADER: sign(KEY, body)}
    )


def rejected(base: str, reason: str) -> float:
    prefix = f'handoff_webhook_rejected_total{{reason="{reason}",source="docusign"}} '
    lines = httpx.get(f"{base}/metrics").text.splitlines()
    return next((float(line[len(prefix) :]) for line in lines if line.startswith(prefix)), 0.0)


@pytest.mark.parametrize(
    ("deal", "reason"),
    [
        (":", "invalid_deal_reference"),  # no CRM, no id
        ("evil:1", "invalid_deal_reference"),  # not a CRM of handoff.yaml
        ("docusign:1", "invalid_deal_reference"),  # a system, but not a CRM
        ("hubspot:", "invalid_deal_reference"),
        ("hubspot:77:1", "invalid_deal_reference"),
        ("hubspot:abc", "invalid_deal_reference"),  # HubSpot ids are integers
        ("hubspot:" + "7" * 300, "invalid_deal_reference"),
        ("salesforce:006X", "invalid_deal_reference"),  # Salesforce ids: 15 or 18 characters
        ("salesforce:006Aa000001Xyz!AA", "invalid_deal_reference"),
        ("hubspot:77", "invalid_envelope"),  # with no envelope id (below)
    ],
)
def test_malformed_deal_references_are_refused_and_store_nothing(
    api: tuple[str, Hub], deal: str, reason: str
) -> None:
    """Completed envelopes naming ":", "evil:1" or a 300-digit id got 200 and stored a
    satisfied gate."""
    base, hub = api
    before = rejected(base, reason)
    body = envelope(deal, envelope_id=None if reason == "invalid_envelope" else "env-1")
    response = post_envelope(base, body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == reason and response.json()["detail"]
    assert len(response.json()["detail"]) < 300  # the value is not echoed whole
    assert hub.gates.list(status=None) == []
    assert hub.inbox.list() == [] and hub.exceptions.list() == []
    assert rejected(base, reason) == before + 1


def test_an_envelope_for_a_deal_the_hub_does_not_know_is_kept_but_lifts_nothing(
    api: tuple[str, Hub],
) -> None:
    base, hub = api
    for _ in range(2):  # DocuSign retries: still one stored envelope, one exception
        response = post_envelope(base, envelope("hubspot:424242"))
        assert response.status_code == 202, response.text
        assert response.json()["held"] == "env-1"
    assert hub.gates.list(status=None) == []
    [stored] = hub.inbox.list()
    assert (stored.source, stored.entity_key, stored.flow) == (
        "docusign",
        "hubspot:deal:424242",
        None,
    )
    assert stored.payload == {"envelope_id": "env-1", "deal": "hubspot:deal:424242"}
    [exception] = hub.exceptions.list()
    assert exception.rule == "docusign.unknown_deal" and exception.record == "hubspot:deal:424242"
    assert "republish" in (exception.suggested_fix or "")


def test_an_envelope_signed_before_the_deal_is_won_lifts_the_gate_in_advance(
    api: tuple[str, Hub],
) -> None:
    """The hub knows the deal from its CRM's events before the deal is won and waits on gates."""
    from handoff.store.inbox import IncomingEvent

    base, hub = api
    sf_id = "006Aa000001XyzQAAS"
    hub.inbox.accept_many(
        "salesforce",
        [IncomingEvent(source_event_id="cdc-1", entity_key=f"salesforce:deal:{sf_id}",
                       kind="Opportunity.UPDATE")],
    )  # fmt: skip
    response = post_envelope(base, envelope(f"salesforce:{sf_id}", envelope_id="a1b2-c3"))
    assert response.status_code == 200, response.text
    [gate] = hub.gates.for_deal(f"salesforce:deal:{sf_id}")
    assert (gate.gate, gate.status, gate.evidence) == (
        "signed_sow", "satisfied", {"envelope_id": "a1b2-c3"}
    )  # fmt: skip
    assert hub.exceptions.list() == []
