"""HTTP client for the Salesforce REST API: login, re-login, SOQL paging, upserts, collections,
and an API-budget guard fed by ``Sforce-Limit-Info``.

Login: OAuth 2.0 JWT bearer (RS256 assertion signed with the connected app's key) or the
username-password flow. Neither returns a refresh token, so a 401 INVALID_SESSION_ID triggers one
fresh login and one retry of the call.

Budget: every response reports ``api-usage=used/limit`` for the org's rolling 24 h allowance. The
usage ratio goes to the ``handoff_salesforce_api_usage_ratio`` gauge; once the remaining share
falls to ``budget_floor`` the client refuses further calls with ``BudgetPaused`` (a transient
error whose ``retry_after`` is the re-check interval), so Handoff never eats the budget other
integrations of the firm depend on. After the interval one call is let through to re-read usage.
"""

from __future__ import annotations

import re
import ssl
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, Literal
from urllib.parse import quote

import httpx
import jwt
from prometheus_client import Gauge
from pydantic import BaseModel, Field, SecretStr

from handoff.canonical.errors import PermanentError, TransientError, parse_retry_after

API_USAGE_RATIO = Gauge(
    "handoff_salesforce_api_usage_ratio",
    "Share of the Salesforce org's daily API request limit used, from Sforce-Limit-Info",
    ["instance"],
)

COLLECTION_SIZE = 200
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")


class SalesforceSettings(BaseModel):
    """Connection settings. Secrets come from the environment through handoff.yaml references."""

    login_url: str = "https://login.salesforce.com"
    api_version: str = "59.0"
    auth_flow: Literal["jwt", "password"] = "jwt"
    username: str
    consumer_key: str
    consumer_secret: SecretStr | None = None  # password flow
    password: SecretStr | None = None  # password flow
    security_token: SecretStr | None = None  # appended to the password (password flow)
    private_key_pem: SecretStr | None = None  # JWT flow
    jwt_audience: str | None = None  # default: login_url (or https://test.salesforce.com)
    budget_floor: float = Field(default=0.10, ge=0.0, lt=1.0)
    budget_recheck_seconds: float = Field(default=600.0, gt=0)
    query_batch_size: int = Field(default=2000, ge=200, le=2000)
    timeout_seconds: float = 30.0


class SalesforceError(PermanentError):
    """A request Salesforce refused: ``rule`` is its errorCode (INVALID_FIELD, DUPLICATE_VALUE…)."""


class SalesforceNotFound(SalesforceError):
    pass


class SalesforceAuthError(SalesforceError):
    pass


class BudgetPaused(TransientError):
    """The org's remaining daily API budget is at or below the floor: wait, do not call."""


class SalesforceTransientError(TransientError):
    pass


class LoginSession(BaseModel):
    access_token: SecretStr
    instance_url: str
    issued_at: datetime


class RecordResult(BaseModel):
    """One record's outcome in a collection call (order matches the request)."""

    id: str | None = None
    success: bool
    created: bool | None = None
    errors: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def error_summary(self) -> str:
        return "; ".join(f"{e.get('statusCode')}: {e.get('message')}" for e in self.errors)


class UpsertResult(BaseModel):
    id: str
    created: bool


class UpdatedIds(BaseModel):
    ids: list[str]
    latest_date_covered: datetime


class ApiBudget:
    """What the org said about its daily API usage, and whether we may spend more of it."""

    def __init__(self, instance: str, floor: float, recheck_seconds: float) -> None:
        self.instance = instance
        self.floor = floor
        self.recheck_seconds = recheck_seconds
        self.used: int | None = None
        self.limit: int | None = None
        self.observed_at = 0.0
        self._lock = threading.Lock()

    @property
    def usage_ratio(self) -> float | None:
        if self.used is None or not self.limit:
            return None
        return self.used / self.limit

    def observe(self, header: str | None) -> None:
        match = _LIMIT_INFO.search(header or "")
        if match is None:
            return
        with self._lock:
            self.used, self.limit = int(match.group(1)), int(match.group(2))
            self.observed_at = time.monotonic()
        API_USAGE_RATIO.labels(instance=self.instance).set(self.used / max(1, self.limit))

    def exhausted(self) -> None:
        """A REQUEST_LIMIT_EXCEEDED answer: treat the budget as fully used from now."""
        with self._lock:
            if self.limit:
                self.used = self.limit
            self.observed_at = time.monotonic()

    def check(self) -> None:
        ratio = self.usage_ratio
        if ratio is None or 1.0 - ratio > self.floor:
            return
        waited = time.monotonic() - self.observed_at
        if waited >= self.recheck_seconds:
            return  # let one call through: its answer re-reads the usage
        raise BudgetPaused(
            f"Salesforce API budget paused: {self.used}/{self.limit} used, floor keeps "
            f"{self.floor:.0%} of the daily limit for others",
            retry_after=self.recheck_seconds - waited,
            rule="salesforce_api_budget_floor",
            value=f"{self.used}/{self.limit}",
            suggested_fix="Wait for the org's rolling 24 h usage to fall, or lower budget_floor.",
        )


def _ssl_verify(ca_path: str | None) -> ssl.SSLContext | bool:
    return ssl.create_default_context(cafile=ca_path) if ca_path else True


class SalesforceClient:
    """One org, one keep-alive HTTP connection pool. Pass ``transport`` to plug in tests."""

    def __init__(
        self,
        settings: SalesforceSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        ca_path: str | None = None,
    ) -> None:
        self.settings = settings
        self.http = httpx.Client(
            transport=transport,
            verify=_ssl_verify(ca_path),
            timeout=settings.timeout_seconds,
            headers={"Accept": "application/json"},
        )
        self.session: LoginSession | None = None
        self.budget = ApiBudget(
            settings.login_url, settings.budget_floor, settings.budget_recheck_seconds
        )
        self.calls = 0  # API calls made (each counts against the org's limit)
        self.logins = 0
        self._login_lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> SalesforceClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- login ---------------------------------------------------------------------------------

    def login(self) -> LoginSession:
        settings = self.settings
        if settings.auth_flow == "jwt":
            if settings.private_key_pem is None:
                raise SalesforceAuthError("JWT bearer flow needs private_key_pem", rule="config")
            claims = {
                "iss": settings.consumer_key,
                "sub": settings.username,
                "aud": settings.jwt_audience or settings.login_url,
                # Salesforce accepts assertions valid for at most three minutes.
                "exp": int(time.time()) + 170,
            }
            assertion = jwt.encode(claims, settings.private_key_pem.get_secret_value(), "RS256")
            form = {"grant_type": JWT_GRANT, "assertion": assertion}
        else:
            if settings.password is None or settings.consumer_secret is None:
                raise SalesforceAuthError(
                    "password flow needs password and consumer_secret", rule="config"
                )
            token = settings.security_token.get_secret_value() if settings.security_token else ""
            form = {
                "grant_type": "password",
                "client_id": settings.consumer_key,
                "client_secret": settings.consumer_secret.get_secret_value(),
                "username": settings.username,
                "password": settings.password.get_secret_value() + token,
            }
        url = settings.login_url.rstrip("/") + "/services/oauth2/token"
        try:
            response = self.http.post(url, data=form)
        except httpx.TransportError as error:
            raise SalesforceTransientError(
                f"Salesforce login unreachable: {error}", rule="connection"
            ) from error
        if response.status_code >= 500:
            raise SalesforceTransientError(
                f"Salesforce login answered {response.status_code}",
                rule=f"http_{response.status_code}",
            )
        body = _json_or_none(response)
        if response.status_code != 200 or not isinstance(body, dict) or "access_token" not in body:
            code = body.get("error") if isinstance(body, dict) else None
            description = body.get("error_description") if isinstance(body, dict) else response.text
            raise SalesforceAuthError(
                f"Salesforce login failed: {code}: {description}",
                rule=str(code or "login_failed"),
                suggested_fix="Check the connected app, user, key or password in handoff.yaml.",
            )
        self.logins += 1
        self.session = LoginSession(
            access_token=body["access_token"],
            instance_url=str(body["instance_url"]).rstrip("/"),
            issued_at=datetime.now(UTC),
        )
        return self.session

    def _ensure_session(self) -> LoginSession:
        with self._login_lock:
            return self.session or self.login()

    # -- core request --------------------------------------------------------------------------

    @property
    def base_path(self) -> str:
        return f"/services/data/v{self.settings.api_version}"

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One REST call; ``path`` is root-relative (``/services/data/...``) or base-relative."""
        if not path.startswith("/services/"):
            path = f"{self.base_path}/{path.lstrip('/')}"
        for attempt in (1, 2):
            self.budget.check()
            session = self._ensure_session()
            request_headers = {"Authorization": f"Bearer {session.access_token.get_secret_value()}"}
            request_headers.update(headers or {})
            try:
                response = self.http.request(
                    method,
                    session.instance_url + path,
                    params=params,
                    json=json,
                    headers=request_headers,
                )
            except httpx.TimeoutException as error:
                raise SalesforceTransientError(
                    f"Salesforce {method} {path} timed out", rule="timeout"
                ) from error
            except httpx.TransportError as error:
                raise SalesforceTransientError(
                    f"Salesforce {method} {path}: {error}", rule="connection"
                ) from error
            self.calls += 1
            self.budget.observe(response.headers.get("Sforce-Limit-Info"))
            if (
                response.status_code == 401
                and attempt == 1
                and _error_code(response) == "INVALID_SESSION_ID"
            ):
                with self._login_lock:
                    # Another thread may already have logged in again.
                    if self.session is session:
                        self.session = None
                continue
            self._raise_for_status(method, path, response)
            return response
        raise AssertionError("unreachable")  # pragma: no cover

    def _raise_for_status(self, method: str, path: str, response: httpx.Response) -> None:
        status = response.status_code
        if status < 300:
            return
        code = _error_code(response) or f"http_{status}"
        message = _error_message(response)
        where = f"Salesforce {method} {path.split('?')[0]}"
        context = {"status": status, "errors": _json_or_none(response)}
        if status == 403 and code == "REQUEST_LIMIT_EXCEEDED":
            self.budget.exhausted()
            raise BudgetPaused(
                f"{where}: {message}",
                retry_after=self.settings.budget_recheck_seconds,
                rule=code,
                context=context,
            )
        if status >= 500 or status in (408, 429):
            raise SalesforceTransientError(
                f"{where} answered {status}: {message}",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                rule=code,
                context=context,
            )
        fields = _error_fields(response)
        error_class = SalesforceNotFound if status == 404 else SalesforceError
        if status == 401:
            error_class = SalesforceAuthError
        raise error_class(
            f"{where} answered {status} {code}: {message}",
            rule=code,
            value=fields or None,
            suggested_fix=_SUGGESTIONS.get(code, "Correct the record or mapping, then replay."),
            context=context,
        )

    # -- REST sObjects -------------------------------------------------------------------------

    def get(self, sobject: str, record_id: str, fields: list[str] | None = None) -> dict[str, Any]:
        params = {"fields": ",".join(fields)} if fields else None
        return _strip(self.request("GET", f"sobjects/{sobject}/{record_id}", params=params).json())

    def create(self, sobject: str, values: dict[str, Any]) -> str:
        return str(self.request("POST", f"sobjects/{sobject}/", json=values).json()["id"])

    def update(self, sobject: str, record_id: str, values: dict[str, Any]) -> None:
        self.request("PATCH", f"sobjects/{sobject}/{record_id}", json=values)

    def delete(self, sobject: str, record_id: str) -> None:
        self.request("DELETE", f"sobjects/{sobject}/{record_id}")

    def upsert(
        self, sobject: str, external_field: str, value: str, values: dict[str, Any]
    ) -> UpsertResult:
        path = f"sobjects/{sobject}/{external_field}/{quote(value, safe='')}"
        response = self.request("PATCH", path, json=values)
        if response.status_code == 204:  # API < 46 answers an update without a body
            return UpsertResult(
                id=self.get(sobject, f"{external_field}/{quote(value, safe='')}", ["Id"])["Id"],
                created=False,
            )
        body = response.json()
        return UpsertResult(
            id=body["id"], created=bool(body.get("created", response.status_code == 201))
        )

    def describe(self, sobject: str) -> dict[str, Any]:
        return dict(self.request("GET", f"sobjects/{sobject}/describe").json())

    def updated(self, sobject: str, start: datetime, end: datetime) -> UpdatedIds:
        params = {"start": _iso(start), "end": _iso(end)}
        body = self.request("GET", f"sobjects/{sobject}/updated/", params=params).json()
        covered = datetime.fromisoformat(body["latestDateCovered"].replace("Z", "+00:00"))
        return UpdatedIds(ids=list(body["ids"]), latest_date_covered=covered)

    # -- SOQL ----------------------------------------------------------------------------------

    def query_pages(
        self, soql: str, *, include_deleted: bool = False
    ) -> Iterator[list[dict[str, Any]]]:
        """Each page of a SOQL result, following ``nextRecordsUrl`` until ``done``."""
        headers = {"Sforce-Query-Options": f"batchSize={self.settings.query_batch_size}"}
        endpoint = "queryAll" if include_deleted else "query"
        body = self.request("GET", endpoint, params={"q": soql}, headers=headers).json()
        while True:
            yield [_strip(record) for record in body["records"]]
            if body.get("done", True) or not body.get("nextRecordsUrl"):
                return
            body = self.request("GET", body["nextRecordsUrl"], headers=headers).json()

    def query(self, soql: str, *, include_deleted: bool = False) -> Iterator[dict[str, Any]]:
        for page in self.query_pages(soql, include_deleted=include_deleted):
            yield from page

    def count(self, soql: str) -> int:
        return int(self.request("GET", "query", params={"q": soql}).json()["totalSize"])

    # -- sObject Collections -------------------------------------------------------------------

    def create_many(self, records: list[dict[str, Any]]) -> list[RecordResult]:
        """Create records (each with ``attributes.type``), 200 per call, allOrNone false."""
        return self._collection("POST", "composite/sobjects", records)

    def update_many(self, records: list[dict[str, Any]]) -> list[RecordResult]:
        """Update records (each with ``attributes.type`` and ``Id``), 200 per call."""
        return self._collection("PATCH", "composite/sobjects", records)

    def upsert_many(
        self, sobject: str, external_field: str, records: list[dict[str, Any]]
    ) -> list[RecordResult]:
        typed = [{"attributes": {"type": sobject}, **record} for record in records]
        return self._collection("PATCH", f"composite/sobjects/{sobject}/{external_field}", typed)

    def _collection(
        self, method: str, path: str, records: list[dict[str, Any]]
    ) -> list[RecordResult]:
        results: list[RecordResult] = []
        for start in range(0, len(records), COLLECTION_SIZE):
            chunk = records[start : start + COLLECTION_SIZE]
            response = self.request(method, path, json={"allOrNone": False, "records": chunk})
            answered = [RecordResult.model_validate(item) for item in response.json()]
            if len(answered) != len(chunk):
                raise SalesforceError(
                    f"Salesforce answered {len(answered)} results for {len(chunk)} records",
                    rule="collection_result_mismatch",
                )
            results.extend(answered)
        return results


_SUGGESTIONS = {
    "INVALID_FIELD": "A mapped field does not exist in this org: fix the Salesforce mapping or "
    "install the Handoff custom fields.",
    "REQUIRED_FIELD_MISSING": "Fill the required field in the source record or the mapping.",
    "DUPLICATE_VALUE": "Two records share an external id: merge them in Salesforce.",
    "MALFORMED_QUERY": "The SOQL built from the mapping is invalid: check field names.",
    "INVALID_SESSION_ID": "Login keeps failing: check the connected app and user.",
}


def _json_or_none(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _first_error(response: httpx.Response) -> dict[str, Any]:
    body = _json_or_none(response)
    if isinstance(body, list) and body and isinstance(body[0], dict):
        return body[0]
    return {}


def _error_code(response: httpx.Response) -> str | None:
    code = _first_error(response).get("errorCode")
    return str(code) if code else None


def _error_message(response: httpx.Response) -> str:
    return str(_first_error(response).get("message") or response.text[:300])


def _error_fields(response: httpx.Response) -> list[str]:
    fields = _first_error(response).get("fields") or []
    return [str(f) for f in fields]


def _strip(record: dict[str, Any]) -> dict[str, Any]:
    """A record without ``attributes`` (also in nested parent records)."""
    return {
        key: _strip(value) if isinstance(value, dict) else value
        for key, value in record.items()
        if key != "attributes"
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")


def soql_datetime(moment: datetime) -> str:
    """A SOQL datetime literal (unquoted): 2024-01-31T10:00:00.000Z."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def soql_string(value: str) -> str:
    """A quoted SOQL string literal with Salesforce's escapes."""
    escaped = value.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return f"'{escaped}'"
