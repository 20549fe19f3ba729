"""Every webhook the hub receives, one row per source: where it posts, how it signs, whose secret
signs it, what it may start and how its refusals read. The routes are built from these rows by
one factory (``router.webhook_router``); nothing else receives a webhook.

| source     | path                      | signature                                  | secret                                  | starts |
|------------|---------------------------|--------------------------------------------|-----------------------------------------|--------|
| {name}     | /webhooks/hubspot/{name}  | HubSpot v3: base64 HMAC-SHA256 of method+URI+body+timestamp, 300 s (v1/v2 off) | systems.<name>.webhook_secret (kind hubspot) | deal events: deal_to_delivery (flows.routing) |
| hubspot    | /webhooks/hubspot         | as above                                   | the HubSpot system named hubspot, else the only one | as above |
| {name}     | /webhooks/salesforce/cdc/{name} | X-Handoff-Relay-Signature: sha256=<hex HMAC of body> | systems.<name>.webhook_secret (kind salesforce) | Opportunity events: deal_to_delivery |
| salesforce | /webhooks/salesforce/cdc  | as above                                   | the Salesforce system named salesforce, else the only one | as above |
| {name}     | /webhooks/stripe/{name}   | Stripe-Signature t=,v1= HMAC-SHA256 of "t.body", 300 s either way | systems.<name>.webhook_secret (kind stripe) | stripe_payment |
| stripe     | /webhooks/stripe          | as above                                   | the Stripe system named stripe, else the only one | as above |
| docusign   | /webhooks/docusign        | X-DocuSign-Signature-1: base64 HMAC of body | webhook_secret of the docusign system   | lifts signed_sow gates |
| timetracker| /webhooks/time            | X-Handoff-Signature: sha256=<hex HMAC of body> | systems.timetracker.webhook_secret     | time_entry, when its allowed_flows lists it |
| {source}   | /webhooks/events/{source} | X-Handoff-Signature: sha256=<hex HMAC of body> | systems.<source>.webhook_secret        | the flows its allowed_flows lists |

Sources by name: every HubSpot portal, Salesforce org and Stripe account is a configured system
with its own name, route, secret and inbox source (``/webhooks/hubspot/hubspot_eu`` is verified
with ``systems.hubspot_eu.webhook_secret`` and its events are stored under ``hubspot_eu``, so
its runs go to the Odoo ``systems.hubspot_eu.odoo`` names). The kind's own path
(``/webhooks/hubspot``) stays for the system named like its kind, or the only one of its kind.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from time import time as clock_time
from types import MappingProxyType

from fastapi import APIRouter, Request

from handoff import services
from handoff.config import Settings
from handoff.engine.runtime import Hub
from handoff.ingress import docusign, events, hubspot, salesforce, stripe, time_entries
from handoff.ingress.bodies import MAX_BODY_BYTES
from handoff.ingress.committer import CommittedInbox, Committer
from handoff.ingress.inbox import EventInbox, FlowInbox
from handoff.ingress.router import Refused, SecretFor, WebhookSource, webhook_router
from handoff.ingress.schemes import BodyHmac, hmac_sha256_base64, hmac_sha256_hex
from handoff.store.inbox import IncomingEvent
from handoff.timesheets.records import FLOW as TIME_ENTRY_FLOW
from handoff.timesheets.records import TIMETRACKER_SYSTEM


def _unknown_source(source: str) -> Refused:
    return Refused(
        404,
        "unknown_source",
        f"no system {source[:64]!r} with a webhook_secret in handoff.yaml",
        error="not_configured" if source == TIMETRACKER_SYSTEM else "unknown_source",
    )


def _hmac_refused(header: str) -> Refused:
    return Refused(
        401,
        "signature",
        f"{header} is missing or does not match HMAC-SHA256 of the body",
        error="invalid_signature",
    )


HUBSPOT = WebhookSource(
    name=hubspot.SOURCE,
    path="/webhooks/hubspot",
    scheme=hubspot.HubSpotSignature(
        accepted_versions=("v3",), max_age_seconds=hubspot.MAX_TIMESTAMP_AGE_SECONDS
    ),
    secret_setting="systems.<the hubspot system>.webhook_secret",
    no_secret=lambda _: Refused(500, "no_secret", "No webhook secret is configured for HubSpot."),
    starts="deal events start deal_to_delivery (handoff.flows.routing)",
)
SALESFORCE = WebhookSource(
    name=salesforce.SOURCE,
    path="/webhooks/salesforce/cdc",
    scheme=BodyHmac(salesforce.SIGNATURE_HEADER, hmac_sha256_hex),
    secret_setting="systems.<the salesforce system>.webhook_secret",
    no_secret=lambda _: Refused(
        503, "not_configured", "No relay secret is configured for Salesforce CDC."
    ),
    starts="Opportunity events start deal_to_delivery (handoff.flows.routing)",
)
STRIPE = WebhookSource(
    name=stripe.SOURCE,
    path="/webhooks/stripe",
    scheme=stripe.StripeSignature(tolerance_seconds=stripe.TOLERANCE_SECONDS),
    secret_setting="systems.<the stripe system>.webhook_secret",
    no_secret=lambda _: Refused(500, "no_secret", "No Stripe endpoint secret is configured."),
    starts=stripe.FLOW,
    max_body_bytes=stripe.MAX_STRIPE_BODY_BYTES,
    signature_status=400,  # what Stripe's own libraries answer
)
DOCUSIGN = WebhookSource(
    name=docusign.SOURCE,
    path="/webhooks/docusign",
    scheme=BodyHmac(docusign.SIGNATURE_HEADER, hmac_sha256_base64),
    secret_setting="systems.<the docusign system>.webhook_secret",
    no_secret=lambda _: Refused(401, "signature", f"{docusign.SIGNATURE_HEADER} missing or wrong"),
    starts="lifts the signed_sow gate of the deal the envelope names",
    signature_refusal=Refused(401, "signature", f"{docusign.SIGNATURE_HEADER} missing or wrong"),
)
TIME = WebhookSource(
    name=TIMETRACKER_SYSTEM,
    path="/webhooks/time",
    scheme=BodyHmac(events.SIGNATURE_HEADER, hmac_sha256_hex),
    secret_setting=f"systems.{TIMETRACKER_SYSTEM}.webhook_secret",
    no_secret=_unknown_source,
    starts=f"{TIME_ENTRY_FLOW}, when systems.{TIMETRACKER_SYSTEM}.allowed_flows lists it",
    signature_refusal=_hmac_refused(events.SIGNATURE_HEADER),
)
EVENTS = WebhookSource(
    name="{source}",
    path="/webhooks/events/{source}",
    scheme=BodyHmac(events.SIGNATURE_HEADER, hmac_sha256_hex),
    secret_setting="systems.<source>.webhook_secret",
    no_secret=_unknown_source,
    starts="the flows systems.<source>.allowed_flows lists",
    signature_refusal=_hmac_refused(events.SIGNATURE_HEADER),
    too_large_error="body_too_large",
)


def _unknown_of_kind(kind: str) -> Callable[[str], Refused]:
    return lambda source: Refused(
        404,
        "unknown_source",
        f"no {kind} system {source[:64]!r} with a webhook_secret in handoff.yaml",
        error="unknown_source",
    )


def by_name(row: WebhookSource, kind: str) -> WebhookSource:
    """``row`` for every system of ``kind`` by its name: ``<row.path>/{source}``."""
    return replace(
        row,
        name="{source}",
        path=f"{row.path}/{{source}}",
        secret_setting=f"systems.<name>.webhook_secret (kind {kind})",
        no_secret=_unknown_of_kind(kind),
    )


HUBSPOT_BY_NAME = by_name(HUBSPOT, "hubspot")
SALESFORCE_BY_NAME = by_name(SALESFORCE, "salesforce")
STRIPE_BY_NAME = by_name(STRIPE, "stripe")

SOURCES: tuple[WebhookSource, ...] = (
    HUBSPOT, HUBSPOT_BY_NAME, SALESFORCE, SALESFORCE_BY_NAME, STRIPE, STRIPE_BY_NAME,
    DOCUSIGN, TIME, EVENTS,
)  # fmt: skip
# The source each fixed path counts its refusals under (a body refused outside a route too).
ROUTE_SOURCES: Mapping[str, str] = MappingProxyType(
    {s.path: s.name for s in SOURCES if "{source}" not in s.path}
)


def secret_of_kind(hub: Hub, kind: str) -> Callable[[], str | None]:
    """The webhook_secret of the first system of ``kind`` (read per request: a reload shows)."""

    def provide() -> str | None:
        for system in hub.settings.systems.values():
            if system.kind == kind and system.webhook_secret is not None:
                return system.webhook_secret.reveal()
        return None

    return provide


def secret_of_named(hub: Hub, name: str | None = None, *, kind: str | None = None) -> SecretFor:
    """The webhook_secret of the system called ``name``, or of the one the path names (of
    ``kind`` only, when given: ``/webhooks/hubspot/<a stripe system>`` has no secret)."""

    def provide(request: Request) -> str | None:
        system = hub.settings.systems.get(name or str(request.path_params.get("source", "")))
        if system is None or (kind is not None and system.kind != kind):
            return None
        return system.webhook_secret.reveal() if system.webhook_secret else None

    return provide


def kind_route_system(settings: Settings, kind: str) -> str | None:
    """The system the kind's own path (``/webhooks/hubspot``) serves: the one named like its
    kind, else the only one of its kind; None when several and none is named so."""
    names = settings.systems_of_kind(kind)
    if kind in names:
        return kind
    return names[0] if len(names) == 1 else None


def per_request(provide: Callable[[], str | None] | str) -> SecretFor:
    return lambda _request: provide() if callable(provide) else provide


def routers(hub: Hub, committer: Committer | None = None) -> list[APIRouter]:
    """The routes of the sources handoff.yaml configures, each built from its row; with
    ``committer``, their events are stored through it (group commit), else one transaction per
    request."""
    settings = hub.settings
    kinds = {system.kind for system in settings.systems.values()}
    names = frozenset(settings.systems)
    inbox: EventInbox = FlowInbox(hub) if committer is None else CommittedInbox(hub, committer)
    built = [
        webhook_router(
            EVENTS, secret_of_named(hub), events.events_handler(hub, committer), configured=names
        )
    ]
    named_rows = (
        ("hubspot", HUBSPOT, HUBSPOT_BY_NAME, hubspot.hubspot_handler(inbox)),
        ("salesforce", SALESFORCE, SALESFORCE_BY_NAME, salesforce.salesforce_handler(inbox)),
        ("stripe", STRIPE, STRIPE_BY_NAME, stripe.stripe_handler(inbox)),
    )
    for kind, row, named_row, handle in named_rows:
        if kind not in kinds:
            continue
        # Every system of the kind by its name, each verified with its own secret...
        of_kind = frozenset(settings.systems_of_kind(kind))
        built.append(
            webhook_router(named_row, secret_of_named(hub, kind=kind), handle, configured=of_kind)
        )
        # ...and the kind's own path for the system named like it (or the only one).
        legacy = kind_route_system(settings, kind)
        if legacy is not None:
            built.append(
                webhook_router(
                    replace(row, name=legacy), secret_of_named(hub, legacy, kind=kind), handle
                )
            )
    if "docusign" in kinds:
        crms = {
            name: system.kind
            for name, system in settings.systems.items()
            if system.kind in ("hubspot", "salesforce")
        }

        def signed(crm: str, deal_id: str, envelope_id: str) -> bool:
            return services.envelope_completed(hub, crm, deal_id, envelope_id)

        built.append(
            webhook_router(
                DOCUSIGN,
                per_request(secret_of_kind(hub, "docusign")),
                docusign.docusign_handler(signed, crms),
            )
        )
    tracker = settings.systems.get(TIMETRACKER_SYSTEM)
    if tracker is not None:
        # The time tracker starts time_entry only when its allowed_flows lists it (deny by
        # default): otherwise every request is a counted 403, refused before its body is read.
        closed = None
        if TIME_ENTRY_FLOW not in tracker.allowed_flows:
            closed = events.flow_not_allowed(
                TIMETRACKER_SYSTEM,
                TIME_ENTRY_FLOW,
                f"systems.{TIMETRACKER_SYSTEM}.allowed_flows in handoff.yaml does not list it "
                f"(add {TIME_ENTRY_FLOW} there to accept this route's time entries and expenses)",
            )
        built.append(
            webhook_router(
                TIME,
                secret_of_named(hub, TIMETRACKER_SYSTEM),
                time_entries.time_handler(hub),
                closed=closed,
            )
        )
    return built


# -- one source's route with its own settings (embedding, tests) ---------------------------------
@dataclass(frozen=True)
class WebhookSettings:
    """HubSpot's: accepted signature versions, body limit, timestamp age and the public URL."""

    accepted_versions: tuple[str, ...] = ("v3",)
    max_body_bytes: int = MAX_BODY_BYTES
    max_age_seconds: float = hubspot.MAX_TIMESTAMP_AGE_SECONDS
    # The URL HubSpot calls, when a proxy changes scheme/host; it is part of the signed text.
    public_base_url: str | None = None


@dataclass(frozen=True)
class StripeWebhookSettings:
    tolerance_seconds: float = stripe.TOLERANCE_SECONDS
    max_body_bytes: int = stripe.MAX_STRIPE_BODY_BYTES


def hubspot_webhook_router(
    secret_provider: Callable[[], str | None] | str,
    inbox: EventInbox,
    settings: WebhookSettings | None = None,
    *,
    clock: Callable[[], float] = clock_time,
    flow_for: Callable[[IncomingEvent], str | None] | None = None,
) -> APIRouter:
    """`POST /webhooks/hubspot` (HUBSPOT's row with ``settings``) into ``inbox``."""
    config = settings or WebhookSettings()
    row = replace(
        HUBSPOT,
        scheme=hubspot.HubSpotSignature(
            config.accepted_versions, config.max_age_seconds, config.public_base_url
        ),
        max_body_bytes=config.max_body_bytes,
    )
    handle = hubspot.hubspot_handler(inbox, flow_for)
    return webhook_router(row, per_request(secret_provider), handle, clock=clock)


def stripe_webhook_router(
    secret_provider: Callable[[], str | None],
    inbox: EventInbox,
    settings: StripeWebhookSettings | None = None,
    *,
    clock: Callable[[], float] = clock_time,
) -> APIRouter:
    """`POST /webhooks/stripe` (STRIPE's row with ``settings``) into ``inbox``."""
    config = settings or StripeWebhookSettings()
    row = replace(
        STRIPE,
        scheme=stripe.StripeSignature(config.tolerance_seconds),
        max_body_bytes=config.max_body_bytes,
    )
    handle = stripe.stripe_handler(inbox)
    return webhook_router(row, per_request(secret_provider), handle, clock=clock)


def salesforce_cdc_router(
    secret_provider: Callable[[], str | None],
    inbox: EventInbox,
    *,
    max_body_bytes: int = MAX_BODY_BYTES,
) -> APIRouter:
    """`POST /webhooks/salesforce/cdc` (SALESFORCE's row) into ``inbox``."""
    row = replace(SALESFORCE, max_body_bytes=max_body_bytes)
    handle = salesforce.salesforce_handler(inbox)
    return webhook_router(row, per_request(secret_provider), handle)


def docusign_router(
    connect_key: Callable[[], str | None],
    on_signed: Callable[[str, str, str], bool],
    crms: Mapping[str, str],
) -> APIRouter:
    """`POST /webhooks/docusign` (DOCUSIGN's row); see ``docusign.docusign_handler``."""
    handle = docusign.docusign_handler(on_signed, crms)
    return webhook_router(DOCUSIGN, per_request(connect_key), handle)
