"""Clients for the systems named in handoff.yaml, built once per process from their settings.

Credentials are read from the secret references at first use, never stored in the settings.
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

if TYPE_CHECKING:
    from handoff.config import Settings, SystemConfig
    from handoff.connectors.hubspot.adapter import HubSpotAdapter
    from handoff.connectors.odoo.quote_to_cash import QuoteToCashAdapter
    from handoff.connectors.salesforce.adapter import SalesforceAdapter

T = TypeVar("T")


class MissingSystem(PermanentError):
    pass


class Connectors:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._built: dict[str, Any] = {}
        self._lock = threading.Lock()

    def system_of_kind(self, kind: str) -> tuple[str, SystemConfig]:
        for name, system in self.settings.systems.items():
            if system.kind == kind:
                return name, system
        raise MissingSystem(
            f"no system of kind {kind!r} in handoff.yaml",
            rule="configuration",
            suggested_fix=f"add a `systems.<name>` entry with `kind: {kind}` and its credentials",
        )

    def _once(self, key: str, build: Any) -> Any:
        with self._lock:
            if key not in self._built:
                self._built[key] = build()
            return self._built[key]

    def odoo(self) -> QuoteToCashAdapter:
        name, system = self.system_of_kind("odoo")

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

    def hubspot(self) -> HubSpotAdapter:
        name, system = self.system_of_kind("hubspot")

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

    def salesforce(self) -> SalesforceAdapter:
        name, system = self.system_of_kind("salesforce")

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
