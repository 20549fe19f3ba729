"""The demo firm's running world in one call: Odoo, HubSpot and Salesforce sandboxes, seeded from
``demo_firm``, and a ``handoff.yaml`` that wires the hub to them.

    with running_stack(tmp_path, hub_port=port) as stack:
        subprocess.Popen(["handoff", "run", "--port", str(port)], env={**os.environ, **stack.env})
        stack.win_hubspot_deal(stack.crm_id("hubspot-01"))   # HubSpot posts the webhook

Each sandbox runs in a background thread on a free loopback port and keeps its data in ``folder``
(a second stack on the same folder finds it again; seeding is skipped or idempotent). HubSpot
posts its signed webhooks to ``http://127.0.0.1:{hub_port}/webhooks/hubspot`` and Salesforce
relays CDC events to ``.../webhooks/salesforce/cdc``, both only for changes made after seeding,
so nothing reaches the hub until a deal is moved.
"""

from __future__ import annotations

import os
import secrets
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import yaml

from handoff_sandbox import demo_firm, odoo_firm
from handoff_sandbox.demo_firm import DemoDeal, SecretNames, SystemUrls
from handoff_sandbox.hubspot.testing import RunningHubSpotSandbox, running_hubspot_sandbox
from handoff_sandbox.odoo.testing import RunningSandbox, start_odoo_sandbox
from handoff_sandbox.odoo_firm import OdooSeed
from handoff_sandbox.salesforce.testing import (
    RunningSalesforceSandbox,
    running_salesforce_sandbox,
)

CONFIG_FILENAME = "handoff.yaml"
# Until systems.<name>.tls_ca_file exists, the Salesforce sandbox's CA reaches the connector
# through the CA bundle variable httpx reads (verify=True, trust_env).
CA_BUNDLE_ENV_VAR = "SSL_CERT_FILE"


@dataclass(frozen=True)
class ExternalOdoo:
    """An Odoo the stack does not start: a firm's staging database, or a real server in tests.

    ``allow_existing_data`` lets the demo seed a database that holds records the demo did not
    make (refused by default: the demo writes orders, invoices and payments into it).
    """

    url: str
    db: str
    login: str
    api_key: str
    allow_existing_data: bool = False

    @property
    def password(self) -> str:
        return self.api_key  # JSON-RPC takes an API key wherever it takes a password


class ForeignDataError(RuntimeError):
    """The database holds records the demo did not make; nothing was written."""


@dataclass
class Stack:
    """A running demo world: where each system listens, the config and the environment it needs."""

    folder: Path
    hub_port: int
    urls: SystemUrls
    config_path: Path
    env: dict[str, str]  # what a hub subprocess needs on top of os.environ (config, secrets)
    odoo: RunningSandbox | ExternalOdoo
    hubspot: RunningHubSpotSandbox
    salesforce: RunningSalesforceSandbox
    odoo_seed: OdooSeed | None
    deals: list[DemoDeal] = field(default_factory=list)
    names: SecretNames = field(default_factory=SecretNames)
    _crm_ids: dict[str, str] = field(default_factory=dict)

    @property
    def hub_url(self) -> str:
        return f"http://127.0.0.1:{self.hub_port}"

    def where_to_look(self) -> dict[str, str]:
        """What runs where, for a person trying the demo."""
        return {
            "hub": f"{self.hub_url} (/healthz /readyz /metrics /webhooks/...)",
            "odoo": f"{self.urls.odoo} (JSON-RPC; database {self.urls.odoo_database})",
            "hubspot": f"{self.urls.hubspot} (/crm/v3/objects/deals)",
            "salesforce": f"{self.urls.salesforce} (/services/data)",
            "config": str(self.config_path),
        }

    def secret(self, name: str) -> str:
        """The value of one of the stack's secrets, by its ``SecretNames`` field."""
        return self.env[getattr(self.names, name)]

    def deal_key(self, key: str) -> str:
        """The hub's key of the demo deal ``key``: ``<crm>:deal:<crm id>``."""
        return f"{self.deal(key).crm}:deal:{self.crm_id(key)}"

    def crm_id(self, key: str) -> str:
        """The CRM's id of the demo deal ``key`` (``DemoDeal.key``)."""
        try:
            return self._crm_ids[key]
        except KeyError:
            raise LookupError(f"no seeded deal {key!r} (seed=False, or not a demo deal)") from None

    def deal(self, key: str) -> DemoDeal:
        return next(deal for deal in self.deals if deal.key == key)

    def winnable_deals(self, crm: str | None = None) -> list[DemoDeal]:
        """Seeded deals that are open (neither won nor lost): moving them to won starts a flow."""
        return [d for d in self.deals if not d.won and not d.lost and crm in (None, d.crm)]

    def win_hubspot_deal(self, deal_id: str) -> None:
        """Move a HubSpot deal to its pipeline's won stage; HubSpot sends the propertyChange."""
        self.win_hubspot_deals([deal_id])

    def win_hubspot_deals(self, deal_ids: list[str]) -> None:
        """Move HubSpot deals to their pipeline's won stage, closing them today, 100 per batch
        call (a read of their pipelines, then an update), waiting out the account's rate limit when the hub is busy
        using it: a person moving deals is not refused."""
        with _hubspot_client(self.hubspot) as client:
            for start in range(0, len(deal_ids), 100):
                chunk = deal_ids[start : start + 100]
                found = _hubspot_call(
                    client,
                    "/crm/v3/objects/deals/batch/read",
                    {"properties": ["pipeline"], "inputs": [{"id": i} for i in chunk]},
                )
                updates = []
                for row in found["results"]:
                    pipeline = row["properties"].get("pipeline") or "default"
                    stages = demo_firm.HUBSPOT_WON_STAGES.get(pipeline)
                    if not stages:
                        raise LookupError(f"HubSpot pipeline {pipeline!r} has no won stage")
                    updates.append(
                        {
                            "id": row["id"],
                            "properties": {
                                "dealstage": stages[0],
                                "closedate": date.today().isoformat(),
                            },
                        }
                    )
                if len(updates) != len(chunk):
                    raise LookupError(f"HubSpot has no deal among {found.get('errors')}")
                _hubspot_call(client, "/crm/v3/objects/deals/batch/update", {"inputs": updates})

    def win_salesforce_deal(self, deal_id: str) -> None:
        """Close an opportunity as won; the sandbox relays the change event (CDC)."""
        self.win_salesforce_deals([deal_id])

    def win_salesforce_deals(self, deal_ids: list[str]) -> None:
        """Close opportunities as won today, in one transaction (one CDC batch)."""
        store = self.salesforce.store
        with store.transaction() as tx:
            for deal_id in deal_ids:
                store.update(
                    tx,
                    "Opportunity",
                    deal_id,
                    {
                        "StageName": demo_firm.SALESFORCE_WON_STAGE,
                        "CloseDate": date.today().isoformat(),
                    },
                )

    def win(self, *keys: str) -> None:
        """Move the demo deals ``keys`` to won in their CRM."""
        deals = [self.deal(key) for key in keys]
        hubspot = [self.crm_id(d.key) for d in deals if d.crm == "hubspot"]
        salesforce = [self.crm_id(d.key) for d in deals if d.crm == "salesforce"]
        if hubspot:
            self.win_hubspot_deals(hubspot)
        if salesforce:
            self.win_salesforce_deals(salesforce)


@contextmanager
def running_stack(
    folder: Path,
    *,
    hub_port: int,
    odoo_latency_ms: float = 0,
    seed: bool = True,
    secret_names: SecretNames | None = None,
    hubspot_settings: Mapping[str, Any] | None = None,
    extra_deals: int = 0,
    odoo: ExternalOdoo | None = None,
) -> Iterator[Stack]:
    """Start the three sandboxes, seed them from the demo firm, write ``folder/handoff.yaml`` and
    set the environment variables it references (restored on exit).

    ``hubspot_settings`` changes the HubSpot sandbox's limits (``SandboxSettings`` fields, e.g.
    ``ten_secondly_max``); by default it has a Pro account's 190 calls per 10 s.
    ``extra_deals`` adds that many open, valid deals to each CRM (``demo_firm.generated_deals``)
    for end-to-end runs and benchmarks; like the seed, they reach the hub only once moved.
    ``odoo`` uses an existing Odoo instead of starting the sandbox: the demo firm is seeded into
    it idempotently, after checking it holds nothing else (:class:`ForeignDataError`).
    """
    folder.mkdir(parents=True, exist_ok=True)
    names = secret_names or SecretNames()
    hub = f"http://127.0.0.1:{hub_port}"
    hubspot_secret = secrets.token_hex(16)
    cdc_secret = secrets.token_hex(16)
    with ExitStack() as stack:
        if odoo is None:
            sandbox = start_odoo_sandbox(str(folder / "odoo.sqlite"), latency_ms=0)
            stack.callback(sandbox.stop)
        elif seed and not odoo.allow_existing_data:
            _refuse_foreign_data(odoo)
        target: RunningSandbox | ExternalOdoo = odoo or sandbox
        # The webhook target is set after seeding, so the seed's own creations send nothing.
        hubspot = stack.enter_context(
            running_hubspot_sandbox(
                seed=seed, db_path=folder / "hubspot.sqlite", **dict(hubspot_settings or {})
            )
        )
        today = date.today()
        extra = {
            crm: demo_firm.generated_deals(crm, extra_deals, today=today) if seed else []
            for crm in ("hubspot", "salesforce")
        }
        if extra["hubspot"]:
            _add_hubspot_deals(hubspot, extra["hubspot"])
        hubspot.configure(
            webhook_url=f"{hub}/webhooks/hubspot",
            webhook_secret=hubspot_secret,
            webhook_properties={"deals": list(demo_firm.HUBSPOT_DEAL_SUBSCRIPTIONS)},
        )
        if seed:
            # Seeded before the sandbox serves, so the org's CDC relay sends nothing for it.
            _seed_salesforce(folder / "salesforce.sqlite", extra["salesforce"])
        salesforce = stack.enter_context(
            running_salesforce_sandbox(
                seed=False,
                db_path=folder / "salesforce.sqlite",
                cdc_url=f"{hub}/webhooks/salesforce/cdc",
                cdc_secret=cdc_secret,
            )
        )
        odoo_seed = _seed_odoo(target) if seed else None
        if odoo is None:
            # Latency applies to the hub's calls, not to seeding.
            sandbox.set_faults(latency_ms=odoo_latency_ms)
        urls = SystemUrls(
            odoo=target.url,
            hubspot=hubspot.url,
            salesforce=salesforce.url,
            odoo_database=target.db,
            odoo_username=target.login,
            salesforce_username=salesforce.username,
        )
        config = demo_firm.hub_config(
            urls,
            names,
            store_url=f"sqlite:///{(folder / 'data' / 'handoff.db').resolve()}",
            salesforce_ca_file=str(salesforce.ca_path),
        )
        (folder / "data").mkdir(exist_ok=True)
        config_path = folder / CONFIG_FILENAME
        config_path.write_text(
            yaml.safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8"
        )
        env = {
            "HANDOFF_CONFIG": str(config_path.resolve()),
            names.odoo_api_key: target.api_key,
            names.hubspot_token: hubspot.token,
            names.hubspot_webhook_secret: hubspot_secret,
            names.salesforce_consumer_key: salesforce.consumer_key,
            names.salesforce_consumer_secret: salesforce.consumer_secret,
            names.salesforce_password: salesforce.password,
            names.salesforce_security_token: salesforce.security_token,
            names.salesforce_cdc_secret: cdc_secret,
            names.docusign_hmac_key: secrets.token_hex(16),
            names.timetracker_secret: secrets.token_hex(16),
            names.stripe_webhook_secret: f"whsec_{secrets.token_hex(16)}",
        }
        if "tls_ca_file" not in config["systems"]["salesforce"]:
            env[CA_BUNDLE_ENV_VAR] = str(salesforce.ca_path)
        stack.enter_context(_environment(env))
        seeded_on = _salesforce_seed_day(salesforce)
        yield Stack(
            folder=folder,
            hub_port=hub_port,
            urls=urls,
            config_path=config_path,
            env=env,
            odoo=target,
            hubspot=hubspot,
            salesforce=salesforce,
            odoo_seed=odoo_seed,
            deals=[*demo_firm.deals(seeded_on), *extra["hubspot"], *extra["salesforce"]]
            if seed
            else [],
            names=names,
            _crm_ids=_crm_ids(hubspot, salesforce, extra["hubspot"]) if seed else {},
        )


def _seed_odoo(odoo: RunningSandbox | ExternalOdoo) -> OdooSeed:
    from handoff.connectors.odoo import OdooAdapter, OdooClient

    with OdooClient(odoo.url, odoo.db, odoo.login, odoo.password) as client:
        return odoo_firm.seed_odoo(OdooAdapter(client))


def _refuse_foreign_data(odoo: ExternalOdoo) -> None:
    from handoff.connectors.odoo import OdooAdapter, OdooClient

    with OdooClient(odoo.url, odoo.db, odoo.login, odoo.password) as client:
        found = odoo_firm.foreign_data(OdooAdapter(client))
    if found:
        raise ForeignDataError(
            f"Odoo database {odoo.db!r} at {odoo.url} holds data the demo did not make "
            f"({'; '.join(found)}). Use a fresh database, or allow it explicitly "
            "(handoff-demo --odoo-allow-existing-data)."
        )


@contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set ``values`` in os.environ for the stack's life, then put back what was there."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _salesforce_seed_day(salesforce: RunningSalesforceSandbox) -> date:
    """The day the Salesforce org was seeded (its close dates are relative to it)."""
    accounts = salesforce.store.records("Account")
    if not accounts:
        return date.today()
    return date.fromisoformat(str(accounts[0]["CreatedDate"])[:10])


def _crm_ids(
    hubspot: RunningHubSpotSandbox,
    salesforce: RunningSalesforceSandbox,
    extra: list[DemoDeal],
) -> dict[str, str]:
    """Demo deal key -> CRM id: HubSpot deals by name, opportunities by Handoff external id."""
    by_name = {deal.name: deal.key for deal in [*demo_firm.HUBSPOT_DEALS, *extra]}
    with _hubspot_client(hubspot) as client:
        ids = {
            by_name[row["properties"]["dealname"]]: str(row["id"])
            for row in _hubspot_all(client, "deals", "dealname")
            if row["properties"].get("dealname") in by_name
        }
    for record in salesforce.store.records("Opportunity"):
        if key := record.get("Handoff_External_Id__c"):
            ids[str(key)] = str(record["Id"])
    return ids


def _hubspot_client(hubspot: RunningHubSpotSandbox) -> httpx.Client:
    return httpx.Client(
        base_url=hubspot.url, headers={"Authorization": f"Bearer {hubspot.token}"}, timeout=60
    )


def _hubspot_all(client: httpx.Client, object_type: str, *properties: str) -> list[Any]:
    """Every record of a type (list endpoint, pages of 100), de-duplicated by id."""
    rows: dict[str, Any] = {}
    after: str | None = None
    while True:
        params = {"limit": "100", "properties": ",".join(properties)}
        if after:
            params["after"] = after
        page = client.get(f"/crm/v3/objects/{object_type}", params=params)
        page.raise_for_status()
        body = page.json()
        rows.update({str(row["id"]): row for row in body["results"]})
        if not body.get("paging", {}).get("next") or not body["results"]:
            return list(rows.values())
        after = str(body["paging"]["next"]["after"])


def _hubspot_call(
    client: httpx.Client, path: str, body: dict[str, Any], *, patience: float = 60.0
) -> Any:
    """POST, waiting out 429s (the account's ten-second window) for at most ``patience`` s."""
    deadline = time.monotonic() + patience
    while True:
        response = client.post(path, json=body)
        if response.status_code != 429 or time.monotonic() > deadline:
            response.raise_for_status()
            return response.json()
        time.sleep(float(response.headers.get("Retry-After") or 1.0))


def _add_hubspot_deals(hubspot: RunningHubSpotSandbox, deals: list[DemoDeal]) -> None:
    """Create deals with their line items and associations through HubSpot's batch API, 100 at
    a time, as an import would; deals whose name exists already are skipped."""
    from handoff_sandbox.hubspot import seed as hubspot_seed

    with _hubspot_client(hubspot) as client:
        existing = {
            row["properties"]["dealname"] for row in _hubspot_all(client, "deals", "dealname")
        }
        companies = {
            r["properties"]["name"]: r["id"] for r in _hubspot_all(client, "companies", "name")
        }
        contacts = {
            r["properties"]["email"]: r["id"] for r in _hubspot_all(client, "contacts", "email")
        }
        products = {
            r["properties"]["hs_sku"]: r["id"] for r in _hubspot_all(client, "products", "hs_sku")
        }
        todo = [deal for deal in deals if deal.name not in existing]
        for start in range(0, len(todo), 100):
            chunk = todo[start : start + 100]
            created = _batch_create(client, "deals", [
                {k: v for k, v in hubspot_seed.deal_properties(d).items() if v is not None}
                for d in chunk
            ])  # fmt: skip
            lines = [(deal_id, line) for deal_id, d in zip(created, chunk, strict=True)
                     for line in d.lines]  # fmt: skip
            items = _batch_create(client, "line_items", [
                hubspot_seed.line_item_properties(line, products[line.sku]) for _, line in lines
            ])  # fmt: skip
            _associate(client, "companies", hubspot_seed.DEAL_COMPANY_TYPES, [
                (deal_id, companies[d.client]) for deal_id, d in zip(created, chunk, strict=True)
            ])  # fmt: skip
            _associate(client, "contacts", hubspot_seed.DEAL_CONTACT_TYPES, [
                (deal_id, contacts[demo_firm.contacts_of(demo_firm.client_named(d.client))[0]
                                   .email])
                for deal_id, d in zip(created, chunk, strict=True)
            ])  # fmt: skip
            _associate(client, "line_items", hubspot_seed.DEAL_LINE_ITEM_TYPES, [
                (deal_id, item_id) for (deal_id, _), item_id in zip(lines, items, strict=True)
            ])  # fmt: skip


def _batch_create(client: httpx.Client, object_type: str, rows: list[Any]) -> list[str]:
    ids: list[str] = []
    for start in range(0, len(rows), 100):
        inputs = [{"properties": row} for row in rows[start : start + 100]]
        response = client.post(f"/crm/v3/objects/{object_type}/batch/create",
                               json={"inputs": inputs})  # fmt: skip
        response.raise_for_status()
        # Batch results are not promised in input order; HubSpot echoes no input key, so the
        # ids are matched back by creation order (ascending ids).
        ids += sorted((str(r["id"]) for r in response.json()["results"]), key=int)
    return ids


def _associate(
    client: httpx.Client, to_type: str, types: list[dict[str, Any]], pairs: list[tuple[str, str]]
) -> None:
    for start in range(0, len(pairs), 100):
        inputs = [{"from": {"id": a}, "to": {"id": b}, "types": types}
                  for a, b in pairs[start : start + 100]]  # fmt: skip
        response = client.post(f"/crm/v4/associations/deals/{to_type}/batch/create",
                               json={"inputs": inputs})  # fmt: skip
        response.raise_for_status()


def _seed_salesforce(path: Path, extra: list[DemoDeal]) -> None:
    from handoff_sandbox.salesforce.seed import add_opportunities, seed_demo
    from handoff_sandbox.salesforce.store import OrgStore

    store = OrgStore(path)
    try:
        seed_demo(store)
        if extra:
            add_opportunities(store, extra)
    finally:
        store.close()


__all__ = ["CONFIG_FILENAME", "Stack", "running_stack"]
