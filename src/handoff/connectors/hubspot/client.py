"""HTTP client for HubSpot CRM v3/v4: auth, client-side rate limits, error classification.

- Auth: a static (private app) token, or OAuth refreshed before `expires_in` runs out (and once
  more on a 401 EXPIRED_AUTHENTICATION).
- Limits: at most `searches_per_second` searches and `requests_per_ten_seconds` requests in any
  rolling window, so the account's limits are not hit in the first place.
- 429: the body's `policyName` and the X-HubSpot-RateLimit-* headers (and Retry-After when sent)
  decide how long to wait; after `max_retries` waits the call raises `HubSpotRateLimited`, a
  TransientError carrying `retry_after` for the engine's retry policy.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import httpx

from handoff.canonical.errors import PermanentError, TransientError, parse_retry_after

DEFAULT_BASE_URL = "https://api.hubapi.com"
SYSTEM = "hubspot"


class HubSpotRateLimited(TransientError):
    """HubSpot answered 429; `policy` is its policyName (SECONDLY, TEN_SECONDLY_ROLLING, DAILY)."""

    def __init__(self, message: str, *, policy: str, retry_after: float, **kwargs: Any) -> None:
        super().__init__(
            message, retry_after=retry_after, rule=f"rate_limit_{policy.lower()}", **kwargs
        )
        self.policy = policy


class HubSpotUnavailable(TransientError):
    """5xx, timeouts and connection failures."""


class HubSpotRequestError(PermanentError):
    """HubSpot refused the request (4xx other than 429); `category` is HubSpot's error category."""

    def __init__(
        self, message: str, *, status: int, category: str | None, body: Any, **kwargs: Any
    ):
        super().__init__(message, rule=category or f"http_{status}", value=body, **kwargs)
        self.status = status
        self.category = category
        self.body = body


class HubSpotAuthError(HubSpotRequestError):
    """Credentials were refused (401/403) even after refreshing."""


class HubSpotNotFound(HubSpotRequestError):
    pass


# -- auth --------------------------------------------------------------------------------------
class HubSpotAuth(Protocol):
    def access_token(self, http: httpx.Client, base_url: str) -> str: ...

    def invalidate(self) -> bool:
        """Forget the current token; answer whether a new one can be obtained."""
        ...


@dataclass
class StaticToken:
    """A private-app / static auth token: nothing to refresh."""

    token: str

    def access_token(self, http: httpx.Client, base_url: str) -> str:
        return self.token

    def invalidate(self) -> bool:
        return False


@dataclass
class OAuthRefresh:
    """OAuth 2.0 refresh-token (or client-credentials) grant, refreshed before expiry."""

    client_id: str
    client_secret: str
    refresh_token: str | None = None
    token_path: str = "/oauth/v1/token"
    # Refresh this many seconds before `expires_in` runs out, so no call carries a dying token.
    refresh_margin_seconds: float = 60.0
    clock: Callable[[], float] = time.time
    _token: str | None = field(default=None, repr=False)
    _expires_at: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    refreshes: int = 0

    def access_token(self, http: httpx.Client, base_url: str) -> str:
        with self._lock:
            if (
                self._token is None
                or self.clock() >= self._expires_at - self.refresh_margin_seconds
            ):
                self._refresh(http, base_url)
            assert self._token is not None
            return self._token

    def invalidate(self) -> bool:
        with self._lock:
            self._token = None
        return True

    def _refresh(self, http: httpx.Client, base_url: str) -> None:
        form = {"client_id": self.client_id, "client_secret": self.client_secret}
        if self.refresh_token:
            form |= {"grant_type": "refresh_token", "refresh_token": self.refresh_token}
        else:
            form |= {"grant_type": "client_credentials"}
        try:
            response = http.post(base_url.rstrip("/") + self.token_path, data=form)
        except httpx.TransportError as error:
            raise HubSpotUnavailable(
                f"hubspot: token refresh failed: {error}", rule="connection"
            ) from error
        if response.status_code >= 500 or response.status_code == 429:
            raise HubSpotUnavailable(f"hubspot: token endpoint answered {response.status_code}")
        if not response.is_success:
            body = _json_or_text(response)
            raise HubSpotAuthError(
                f"hubspot: OAuth token refresh refused ({response.status_code}): {body}",
                status=response.status_code,
                category=body.get("status") if isinstance(body, dict) else None,
                body=body,
                suggested_fix="Reconnect the HubSpot app to obtain a new refresh token.",
            )
        payload = response.json()
        self._token = payload["access_token"]
        self._expires_at = self.clock() + float(payload.get("expires_in", 1800))
        if payload.get("refresh_token"):
            self.refresh_token = payload["refresh_token"]
        self.refreshes += 1


# -- client-side limits -------------------------------------------------------------------------
class RollingLimiter:
    """Blocks until a call fits in `limit` calls per `interval` seconds (thread-safe).

    A slot is stamped again when its call completes (`done`): the server counts a request when
    it arrives, which is after it was sent, so counting from completion never undercounts.
    """

    def __init__(
        self,
        limit: int,
        interval: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.limit = limit
        self.interval = interval
        self.clock = clock
        self.sleep = sleep
        self._stamps: deque[list[float]] = deque()
        self._lock = threading.Lock()
        self.waited_seconds = 0.0

    def acquire(self) -> list[float]:
        while True:
            with self._lock:
                moment = self.clock()
                while self._stamps and moment - self._stamps[0][0] >= self.interval:
                    self._stamps.popleft()
                if len(self._stamps) < self.limit:
                    slot = [moment]
                    self._stamps.append(slot)
                    return slot
                wait = self.interval - (moment - self._stamps[0][0]) + 0.001
            self.waited_seconds += wait
            self.sleep(wait)

    def done(self, slot: list[float]) -> None:
        with self._lock:
            slot[0] = max(slot[0], self.clock())


@dataclass
class RateLimitStatus:
    """The X-HubSpot-RateLimit-* headers of the last response that carried them."""

    max: int | None = None
    remaining: int | None = None
    interval_ms: int | None = None
    daily: int | None = None
    daily_remaining: int | None = None

    @classmethod
    def from_headers(cls, headers: httpx.Headers) -> RateLimitStatus | None:
        if "x-hubspot-ratelimit-max" not in headers and "x-hubspot-ratelimit-daily" not in headers:
            return None

        def number(name: str) -> int | None:
            raw = headers.get(name)
            return int(raw) if raw is not None and raw.isdigit() else None

        return cls(
            max=number("x-hubspot-ratelimit-max"),
            remaining=number("x-hubspot-ratelimit-remaining"),
            interval_ms=number("x-hubspot-ratelimit-interval-milliseconds"),
            daily=number("x-hubspot-ratelimit-daily"),
            daily_remaining=number("x-hubspot-ratelimit-daily-remaining"),
        )


def retry_after_for(response: httpx.Response, *, now: datetime | None = None) -> tuple[str, float]:
    """(policyName, seconds to wait) for a 429, from Retry-After, the body and the headers."""
    body = _json_or_text(response)
    policy = str(body.get("policyName", "")) if isinstance(body, dict) else ""
    if not policy:
        message = str(body.get("message", "")) if isinstance(body, dict) else str(body)
        policy = (
            "SECONDLY"
            if "secondly limit" in message and "ten_" not in message
            else "TEN_SECONDLY_ROLLING"
        )
    header = parse_retry_after(response.headers.get("Retry-After"))
    if header is not None:
        return policy, header
    status = RateLimitStatus.from_headers(response.headers)
    if policy == "DAILY":
        # The daily budget resets at midnight (account time zone, unknown here: use UTC).
        moment = now or datetime.now(UTC)
        midnight = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        return policy, (midnight - moment).total_seconds()
    if policy == "SECONDLY":
        return policy, 1.0
    interval = (status.interval_ms if status and status.interval_ms else 10_000) / 1000
    # A rolling window frees its oldest slot at the latest one interval after the 429.
    return policy, interval


def _json_or_text(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return {"message": response.text[:500]}


# -- client ------------------------------------------------------------------------------------
@dataclass
class ClientLimits:
    searches_per_second: int = 5
    requests_per_ten_seconds: int = 100  # Free/Starter budget; Pro/Enterprise may raise to 190
    max_retries: int = 3
    # Waits longer than this are not slept through: the error goes to the engine instead.
    max_inline_wait_seconds: float = 15.0


class HubSpotClient:
    """One HubSpot account. Thread-safe; keeps connections alive across calls."""

    def __init__(
        self,
        auth: HubSpotAuth | str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        limits: ClientLimits | None = None,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 30.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.auth: HubSpotAuth = StaticToken(auth) if isinstance(auth, str) else auth
        self.base_url = base_url.rstrip("/")
        self.limits = limits or ClientLimits()
        self.sleep = sleep
        self.http = httpx.Client(
            base_url=self.base_url,
            transport=transport,
            timeout=timeout,
            limits=httpx.Limits(max_keepalive_connections=10, keepalive_expiry=60),
            headers={"User-Agent": "handoff-hubspot/0.1"},
        )
        self.search_limiter = RollingLimiter(self.limits.searches_per_second, 1.0, sleep=sleep)
        self.request_limiter = RollingLimiter(
            self.limits.requests_per_ten_seconds, 10.0, sleep=sleep
        )
        self.rate_limit: RateLimitStatus | None = None
        self.calls = 0
        self.rate_limited = 0

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> HubSpotClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- verbs ---------------------------------------------------------------------------------
    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params=params or None).json()

    def post(self, path: str, body: Any) -> Any:
        response = self.request("POST", path, json=body)
        return response.json() if response.content else None

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, json=body).json()

    def put(self, path: str, body: Any = None) -> Any:
        response = self.request("PUT", path, json=body)
        return response.json() if response.content else None

    def delete(self, path: str) -> None:
        self.request("DELETE", path)

    def request(
        self, method: str, path: str, *, json: Any = None, params: dict[str, Any] | None = None
    ) -> httpx.Response:
        is_search = method == "POST" and path.endswith("/search")
        auth_retried = False
        attempt = 0
        while True:
            token = self.auth.access_token(self.http, self.base_url)
            search_slot = self.search_limiter.acquire() if is_search else None
            request_slot = self.request_limiter.acquire()
            try:
                response = self.http.request(
                    method,
                    path,
                    json=json,
                    params=params,
                    headers={"Authorization": f"Bearer {token}"},
                )
            except httpx.TimeoutException as error:
                failure: TransientError = HubSpotUnavailable(
                    f"hubspot {method} {path}: timed out", rule="timeout"
                )
                failure.__cause__ = error
            except httpx.TransportError as error:
                failure = HubSpotUnavailable(f"hubspot {method} {path}: {error}", rule="connection")
                failure.__cause__ = error
            else:
                self.calls += 1
                self.request_limiter.done(request_slot)
                if search_slot is not None:
                    self.search_limiter.done(search_slot)
                status = RateLimitStatus.from_headers(response.headers)
                if status is not None:
                    self.rate_limit = status
                if response.is_success:
                    return response
                if response.status_code == 401 and not auth_retried and self.auth.invalidate():
                    auth_retried = True
                    continue
                failure_or_final = self._classify(method, path, response)
                if not isinstance(failure_or_final, TransientError):
                    raise failure_or_final
                failure = failure_or_final
            wait = (
                failure.retry_after
                if failure.retry_after is not None
                else min(8.0, 0.5 * 2**attempt)
            )
            if attempt >= self.limits.max_retries or wait > self.limits.max_inline_wait_seconds:
                raise failure
            attempt += 1
            self.sleep(wait)

    def _classify(self, method: str, path: str, response: httpx.Response) -> Exception:
        where = f"hubspot {method} {path}"
        if response.status_code == 429:
            self.rate_limited += 1
            policy, wait = retry_after_for(response)
            return HubSpotRateLimited(
                f"{where}: rate limited ({policy}); retry in {wait:.1f} s",
                policy=policy,
                retry_after=wait,
                context={"status": 429, "policy": policy},
            )
        if response.status_code >= 500:
            return HubSpotUnavailable(
                f"{where} answered {response.status_code}",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                rule=f"http_{response.status_code}",
            )
        body = _json_or_text(response)
        category = body.get("category") if isinstance(body, dict) else None
        message = body.get("message") if isinstance(body, dict) else str(body)
        kind: type[HubSpotRequestError] = HubSpotRequestError
        fix = "Correct the record or the mapping that produced this request, then retry."
        if response.status_code in (401, 403):
            kind = HubSpotAuthError
            fix = "Check the HubSpot token and its scopes in handoff.yaml."
        elif response.status_code == 404:
            kind = HubSpotNotFound
            fix = "The HubSpot record no longer exists; unbind it or restore it in HubSpot."
        return kind(
            f"{where} answered {response.status_code} {category or ''}: {message}",
            status=response.status_code,
            category=category,
            body=body,
            suggested_fix=fix,
            context={"status": response.status_code},
        )
