"""The sandbox signs with its own code (handoff_sandbox.signing, written from the providers' specs)
and the hub verifies with its own: what the sandbox signs, the hub's running API accepts, and the
same body signed with another secret it refuses. The providers' published test vectors pin the
sandbox's side to the specification, not to the hub."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from api.ingress_support import SECRETS, encode, ingress_settings, serving_ingress, stored_rows
from api.test_ingress_refusals import cdc_event, hubspot_event, stripe_event, time_item
from handoff.engine.runtime import Hub
from handoff_sandbox import signing

HUBSPOT_DOC_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
HUBSPOT_DOC_BODY = (
    b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
    b'"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,'
    b'"changeSource":"CRM","changeFlag":"NEW","appId":54321}]'
)


def test_hubspot_v1_matches_hubspots_published_example() -> None:
    assert signing.hubspot_v1(HUBSPOT_DOC_SECRET, HUBSPOT_DOC_BODY) == (
        "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
    )


def test_stripe_signature_matches_the_published_vector() -> None:
    assert signing.stripe_signature("whsec_test", b'{"id":"evt_1"}', 1700000000) == (
        "t=1700000000,v1=c89214b5b5da833daed6f0b8c5bb6bd58cea9022bd80ccc78230f3942d632925"
    )


def test_hubspot_v3_signs_the_uri_with_hubspots_escapes_decoded() -> None:
    stamp = "1700000000000"
    plain = signing.hubspot_v3(
        "s", "POST", "https://hub.example/webhooks/hubspot?a=b:c", b"[]", stamp
    )
    escaped = signing.hubspot_v3(
        "s", "post", "https://hub.example/webhooks/hubspot%3Fa=b%3ac", b"[]", stamp
    )
    assert plain == escaped
    assert plain != signing.hubspot_v3("s", "POST", "https://hub.example/other", b"[]", stamp)


# -- against the hub's verifiers, over HTTP --------------------------------------------------------

# route -> (path, the secret's variable in ingress_settings, how the sandbox signs, a good body)
Signer = Callable[[str, str, bytes], dict[str, str]]
ROUTES: dict[str, tuple[str, str, Signer, Callable[[], object]]] = {
    "hubspot": (
        "/webhooks/hubspot",
        "TEST_HS_SECRET",
        lambda secret, url, body: signing.hubspot_headers(
            secret, url, body, str(int(time.time() * 1000))
        ),
        lambda: [hubspot_event()],
    ),
    "stripe": (
        "/webhooks/stripe",
        "TEST_STRIPE_SECRET",
        lambda secret, url, body: {signing.STRIPE_HEADER: signing.stripe_signature(secret, body)},
        stripe_event,
    ),
    "time tracker": (
        "/webhooks/time",
        "TEST_TIME_SECRET",
        lambda secret, url, body: {signing.TIME_TRACKER_HEADER: signing.hmac_sha256(secret, body)},
        lambda: [time_item()],
    ),
    "salesforce cdc relay": (
        "/webhooks/salesforce/cdc",
        "TEST_SF_SECRET",
        lambda secret, url, body: {signing.CDC_RELAY_HEADER: signing.hmac_sha256(secret, body)},
        lambda: [cdc_event()],
    ),
}


@pytest.fixture
def hub_api(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, Hub]]:
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    with serving_ingress(ingress_settings(store_url)) as running:
        yield running


@pytest.mark.parametrize("route", list(ROUTES))
def test_the_hub_accepts_what_the_sandbox_signs_and_refuses_another_secret(
    hub_api: tuple[str, Hub], route: str
) -> None:
    base, hub = hub_api
    path, secret_name, sign, body_of = ROUTES[route]
    url = base + path
    body = encode(body_of())
    json_type = {"Content-Type": "application/json"}

    forged = sign("not-the-secret", url, body)
    refused = httpx.post(url, content=body, headers={**json_type, **forged}, timeout=30)
    # 401, or 400 where the provider's convention is (Stripe): refused for its signature.
    assert refused.status_code in (400, 401), refused.text
    assert "signature" in refused.json()["error"], refused.text
    assert stored_rows(hub) == 0

    signed = sign(SECRETS[secret_name], url, body)
    accepted = httpx.post(url, content=body, headers={**json_type, **signed}, timeout=30)
    assert accepted.status_code in (200, 202), accepted.text
    assert stored_rows(hub) == 1
