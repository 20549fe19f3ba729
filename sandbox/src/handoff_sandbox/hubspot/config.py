"""Settings of one HubSpot sandbox; every limit is configurable so tests can reach it quickly."""

from __future__ import annotations

from pydantic import BaseModel, Field

DEFAULT_TOKEN = "pat-na1-sandbox-0000-0000-0000-000000000000"


class SandboxSettings(BaseModel):
    # Accounts and credentials.
    token: str = DEFAULT_TOKEN
    portal_id: int = 62515
    app_id: int = 54321
    oauth_client_id: str = "sandbox-client-id"
    oauth_client_secret: str = "sandbox-client-secret"
    access_token_ttl_seconds: int = 1800
    # The scopes the static token and OAuth access tokens carry; None grants every scope (a
    # private app with every CRM read/write scope). A call whose scope is missing answers 403
    # MISSING_SCOPES.
    token_scopes: list[str] | None = None

    # Limits (HubSpot Pro/Enterprise figures by default).
    ten_secondly_max: int = Field(default=190, ge=1)
    daily_max: int = Field(default=1_000_000, ge=1)
    search_per_second: int = Field(default=5, ge=1)
    search_result_cap: int = Field(default=10_000, ge=1)
    # HubSpot's search index lags writes; 0 makes writes visible at once.
    search_index_delay_ms: int = Field(default=0, ge=0)
    # Whether a 429 carries Retry-After is unconfirmed for HubSpot: off by default, switchable.
    retry_after_seconds: float | None = None

    # Webhook delivery.
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_auto_deliver: bool = True
    webhook_interval_seconds: float = 0.2
    webhook_batch_size: int = Field(default=99, ge=1, le=99)
    webhook_max_attempts: int = Field(default=10, ge=1)
    webhook_retry_delay_seconds: float = 1.0
    webhook_duplicate: bool = False
    webhook_reorder: bool = False
    # Properties whose changes produce propertyChange events, per object type; None = all.
    webhook_properties: dict[str, list[str]] | None = None


class SettingsPatch(BaseModel):
    """What the control API may change on a running sandbox."""

    ten_secondly_max: int | None = Field(default=None, ge=1)
    daily_max: int | None = Field(default=None, ge=1)
    search_per_second: int | None = Field(default=None, ge=1)
    search_result_cap: int | None = Field(default=None, ge=1)
    search_index_delay_ms: int | None = Field(default=None, ge=0)
    retry_after_seconds: float | None = None
    clear_retry_after: bool = False
    access_token_ttl_seconds: int | None = None
    token_scopes: list[str] | None = None
    clear_token_scopes: bool = False
    webhook_url: str | None = None
    webhook_secret: str | None = None
    webhook_auto_deliver: bool | None = None
    webhook_duplicate: bool | None = None
    webhook_reorder: bool | None = None
    webhook_max_attempts: int | None = Field(default=None, ge=1)
    webhook_retry_delay_seconds: float | None = None
    webhook_properties: dict[str, list[str]] | None = None
