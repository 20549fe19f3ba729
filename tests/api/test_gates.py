"""Activation gates: DocuSign Connect lifts a signed-SOW gate; approvals are given by a person."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from handoff import services
from handoff.config import SecretRef, Settings, StoreConfig, SystemConfig
from handoff.connectors.docusign.webhooks import SIGNATURE_HEADER, sign
from handoff.engine.runtime import Hub
from support.servers import serving_hub

KEY = "connect-key"


def envelope(deal: str | None, *, event: str = "envelope-completed") -> bytes:
    fields = [] if deal is None else [{"name": "handoff_deal", "value": deal}]
    return json.dumps(
        {
            "event": event,
            "data": {
                "envelopeId": "env-1",
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
            )
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
