"""The hub's HTTP API over real HTTP: health, readiness, metrics and the signed generic webhook."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from handoff.config import SecretRef, Settings, StoreConfig, SystemConfig
from handoff.engine.runtime import Hub
from handoff.ingress.events import SIGNATURE_HEADER, sign
from handoff.store.models import InboxStatus
from support import flows as _test_flows  # noqa: F401
from support.servers import serving_hub

SECRET = "s3cret-for-tests"


@pytest.fixture
def api(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Hub]]:
    monkeypatch.setenv("TIME_TRACKER_SECRET", SECRET)
    settings = Settings(
        store=StoreConfig(url=store_url),
        systems={
            "tracker": SystemConfig(
                kind="http",
                url="http://127.0.0.1:9/",
                webhook_secret=SecretRef("${TIME_TRACKER_SECRET}"),
            )
        },
    )
    with serving_hub(settings) as running:
        yield running


def post(base: str, body: bytes, signature: str | None, source: str = "tracker") -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if signature is not None:
        headers[SIGNATURE_HEADER] = signature
    return httpx.post(f"{base}/webhooks/events/{source}", content=body, headers=headers)


def batch(*ids: str, flow: str | None = None) -> bytes:
    return json.dumps(
        {
            "events": [
                {
                    "id": i,
                    "entity": "proj-1",
                    "kind": "time.approved",
                    "flow": flow,
                    "payload": {"hours": 2},
                }
                for i in ids
            ]
        }
    ).encode()


def test_health_readiness_and_metrics(api: tuple[str, Hub]) -> None:
    base, _ = api
    assert httpx.get(f"{base}/healthz").json() == {"status": "ok"}
    ready = httpx.get(f"{base}/readyz")
    assert ready.status_code == 200 and ready.json()["checks"]["migrations"] == "ok"
    text = httpx.get(f"{base}/metrics").text
    for name in (
        "handoff_open_exceptions",
        "handoff_circuit_state",
        "handoff_queue_depth",
        "handoff_step_seconds",
        "handoff_events_received_total",
    ):
        assert name in text
    assert "X-Correlation-Id" in httpx.get(f"{base}/healthz").headers


def test_signed_events_are_stored_once(api: tuple[str, Hub]) -> None:
    base, hub = api
    body = batch("a1", "a2")
    first = post(base, body, sign(SECRET, body))
    assert first.status_code == 202
    assert [a["duplicate"] for a in first.json()["accepted"]] == [False, False]
    again = post(base, body, sign(SECRET, body))
    assert [a["duplicate"] for a in again.json()["accepted"]] == [True, True]
    stored = hub.inbox.list()
    assert len(stored) == 2 and {e.status for e in stored} == {InboxStatus.RECEIVED}


@pytest.mark.parametrize(
    ("body", "signature", "source", "status", "error"),
    [
        (b"{not json", "sign", "tracker", 400, "malformed_json"),
        (batch("x"), None, "tracker", 401, "invalid_signature"),
        (batch("x"), "sha256=" + "0" * 64, "tracker", 401, "invalid_signature"),
        (json.dumps({"events": [{"id": "x"}]}).encode(), "sign", "tracker", 422, "invalid_event"),
        (json.dumps({"events": []}).encode(), "sign", "tracker", 422, "invalid_event"),
        (batch("x", flow="no_such_flow"), "sign", "tracker", 422, "unknown_flow"),
        (batch("x"), "sign", "nobody", 404, "unknown_source"),
    ],
)
def test_bad_input_is_refused_with_a_clear_error_and_nothing_stored(
    api: tuple[str, Hub], body: bytes, signature: str | None, source: str, status: int, error: str
) -> None:
    base, hub = api
    response = post(base, body, sign(SECRET, body) if signature == "sign" else signature, source)
    assert response.status_code == status
    assert response.json()["error"] == error and response.json()["detail"]
    assert hub.inbox.list() == []
    reason = {"invalid_signature": "signature"}.get(error, error)
    label = source if source == "tracker" else "unknown"  # only configured names are labels
    assert f'handoff_webhook_rejected_total{{reason="{reason}",source="{label}"}}' in (
        httpx.get(f"{base}/metrics").text
    )


def test_oversized_body_is_refused_before_reading_it(api: tuple[str, Hub]) -> None:
    base, hub = api
    body = b"[" + b"0," * (5 * 1024 * 1024 + 10) + b"0]"
    response = post(base, body, sign(SECRET, body))
    assert response.status_code == 413
    assert response.json()["error"] == "body_too_large"
    assert hub.inbox.list() == []


def _rejected_label_sets(metrics_text: str) -> set[str]:
    return {
        line.split("}", 1)[0] + "}"
        for line in metrics_text.splitlines()
        if line.startswith("handoff_webhook_rejected_total{")
    }


def test_unknown_sources_do_not_add_metric_labels(api: tuple[str, Hub]) -> None:
    """500 posts to made-up sources: counted, all under source="unknown"; /metrics keeps its
    label sets (it grew from 10 KB to 1.7 MB with 3,000 such posts)."""
    import uuid

    base, hub = api
    post(base, batch("x"), None, source="warm-up-source")  # the "unknown" series exists
    before = httpx.get(f"{base}/metrics").text
    with httpx.Client(base_url=base) as client:
        for _ in range(500):
            response = client.post(f"/webhooks/events/{uuid.uuid4().hex}", content=b"{}")
            assert response.status_code == 404
    after = httpx.get(f"{base}/metrics").text
    assert _rejected_label_sets(after) == _rejected_label_sets(before)
    assert '{reason="unknown_source",source="unknown"}' in "".join(_rejected_label_sets(after))
    assert not any(
        line.startswith("handoff_") and "warm-up-source" in line for line in after.splitlines()
    )
    assert hub.inbox.list() == []
