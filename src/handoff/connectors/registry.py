"""Clients for the systems named in handoff.yaml, built once per process from their settings.

Adapters are addressed by the configured system *name* (``odoo("erp_eu")``,
``hubspot("hubspot_us")``): two Odoo databases or two HubSpot portals in one hub each get their
own client, pool and rate budget. Without a name, the only system of that kind is meant (an
error names them when there are several). Credentials are read from the secret references at
first use, never stored in the settings.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import SecretStr

from handoff.canonical.errors import PermanentError
from handoff.connectors.hubspot.adapter import HubSpotAdapter
from handoff.connectors.hubspot.client import ClientLimits, HubSpotClient, OAuthRefresh
from handoff.connectors.odoo import OdooAdapter, OdooClient
from handoff.connectors.odoo.quote_to_cash import QuoteToCashAdapter
from handoff.connectors.salesforce.adapter import SalesforceAdapter
from handoff.connectors.salesforce.client import SalesforceClient, SalesforceSettings
from handoff.engine.targets import odoo_target

if TYPE_CHECKING:
    from handoff.config import Settings, SystemConfig
    from handoff.connectors.hubspot.adapter import HubSpotAdapter
    from handoff.connectors.odoo.quote_to_cash import QuoteToCashAdapter
    from handoff.connectors.salesforce.adapter import SalesforceAdapter

T = TypeVar("T")


class MissingSystem(PermanentError):
    pass


def _odoo_target(settings: Settings) -> str | None:
    """The Odoo a call without a name means, None when none or several (the error then names
    what is configured)."""
    try:
        return odoo_target(settings)
    except LookupError:
        return None


class Connectors:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._built: dict[str, Any] = {}
        self._lock = threading.Lock()

    def system_of_kind(self, kind: str, name: str | None = None) -> tuple[str, SystemConfig]:
        """The system called ``name`` (which must be of ``kind``), else the only one of ``kind``."""
        if name is None:
            names = self.settings.systems_of_kind(kind)
            if len(names) != 1:
                found = f"{len(names)} ({', '.join(names)})" if names else "none"
                raise MissingSystem(
                    f"one system of kind {kind!r} is needed in handoff.yaml, found {found}",
                    rule="configuration",
                    suggested_fix=f"add a `systems.<name>` entry with `kind: {kind}`"
                    if not names
                    else "name the system the call is for (systems.<source>.odoo for a source)",
                )
            name = names[0]
        system = self.settings.systems.get(name)
        if system is None or system.kind != kind:
            what = "no system" if system is None else f"a {system.kind} system, not {kind}"
            raise MissingSystem(
                f"systems.{name}: {what}",
                rule="configuration",
                value=name,
                suggested_fix=f"add a `systems.{name}` entry with `kind: {kind}`",
            )
        return name, system

    def crm(self, name: str) -> HubSpotAdapter | SalesforceAdapter:
        """The adapter of the CRM system called ``name`` (its kind picks the connector)."""
        system = self.settings.systems.get(name)
        if system is not None and system.kind == "salesforce":
            return self.salesforce(name)
        return self.hubspot(name)

    def _once(self, key: str, build: Any) -> Any:
        with self._lock:
            if key not in self._built:
                self._built[key] = build()
            return self._built[key]

    def odoo(self, name: str | None = None) -> QuoteToCashAdapter:
        """The Odoo system called ``name``; None: the running flow's target Odoo, else the only
        Odoo system (``handoff.engine.targets.odoo_target``)."""
        name, system = self.system_of_kind("odoo", name or _odoo_target(self.settings))

        def build() -> QuoteToCashAdapter:
            secret = system.credentials.get("api_key") or system.credentials.get("password")
            if secret is None or not system.username or not system.database:
                raise MissingSystem(
                    f"systems.{name}: an Odoo system needs `database`, `username` and "
                    "credentials.api_key (or credentials.password)",
                    rule="configuration",
                )
            client = OdooClient(
                _url(name, system),
                system.database,
                system.username,
                secret.reveal(),
                timeout_s=system.timeout_seconds,
            )
            return QuoteToCashAdapter(OdooAdapter(client), system="handoff")

        adapter: QuoteToCashAdapter = self._once(f"odoo:{name}", build)
        return adapter

    def hubspot(self, name: str | None = None) -> HubSpotAdapter:
        name, system = self.system_of_kind("hubspot", name)

        def build() -> HubSpotAdapter:
            creds = system.credentials
            auth: Any
            token = creds.get("token") or creds.get("access_token")
            if token is not None:
                auth = token.reveal()
            elif {"client_id", "client_secret", "refresh_token"} <= set(creds):
                auth = OAuthRefresh(
                    client_id=creds["client_id"].reveal(),
                    client_secret=creds["client_secret"].reveal(),
                    refresh_token=creds["refresh_token"].reveal(),
                )
            else:
                raise MissingSystem(
                    f"systems.{name}: HubSpot needs credentials.token (or access_token), or "
                    "client_id + "
                    "client_secret + refresh_token",
                    rule="configuration",
                )
            limits = ClientLimits()
            if system.rate_limit is not None:
                # The account's budget from handoff.yaml (190 per 10 s on Pro/Enterprise).
                per_ten = int(system.rate_limit.calls * 10 / system.rate_limit.per_seconds)
                limits = ClientLimits(requests_per_ten_seconds=max(1, per_ten))
            client = HubSpotClient(
                auth, base_url=_url(name, system), timeout=system.timeout_seconds, limits=limits
            )
            return HubSpotAdapter(client)

        adapter: HubSpotAdapter = self._once(f"hubspot:{name}", build)
        return adapter

    def salesforce(self, name: str | None = None) -> SalesforceAdapter:
        name, system = self.system_of_kind("salesforce", name)

        def build() -> SalesforceAdapter:
            creds = {key: ref.reveal() for key, ref in system.credentials.items()}
            flow: Literal["jwt", "password"] = "jwt" if "private_key" in creds else "password"

            def secret(key: str) -> SecretStr | None:
                return SecretStr(creds[key]) if key in creds else None

            settings = SalesforceSettings(
                login_url=_url(name, system),
                auth_flow=flow,
                username=system.username or "",
                consumer_key=creds.get("consumer_key", ""),
                consumer_secret=secret("consumer_secret"),
                password=secret("password"),
                security_token=secret("security_token"),
                private_key_pem=secret("private_key"),
                timeout_seconds=system.timeout_seconds,
            )
            ca = getattr(system, "tls_ca_file", None)
            client = SalesforceClient(settings, ca_path=str(ca) if ca else None)
            return SalesforceAdapter(client, mapping_overrides=dict(self.settings.mappings))

        adapter: SalesforceAdapter = self._once(f"salesforce:{name}", build)
        return adapter


def _url(name: str, system: SystemConfig) -> str:
    """The system's URL (handoff.yaml's validation requires one for every kind)."""
    if system.base_url is None:
        raise MissingSystem(f"systems.{name}: needs a `url`", rule="configuration")
    return system.base_url


_registries: dict[int, Connectors] = {}


def connectors_for(settings: Settings) -> Connectors:
    """One registry per settings object, so every step of a process shares the pools."""
    registry = _registries.get(id(settings))
    if registry is None or registry.settings is not settings:
        registry = _registries[id(settings)] = Connectors(settings)
    return registry
