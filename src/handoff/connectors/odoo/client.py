"""HTTP clients for Odoo: a pooled sync client and an async client, both speaking JSON-RPC or JSON-2.

The protocol is chosen from ``common.version``: ``server_version_info[0] >= 19`` selects JSON-2 (bearer
API key), anything older selects ``/jsonrpc`` with ``execute_kw`` (API key or password as the secret).
Callers speak Odoo 18: positional ``execute_kw`` arguments (named per method for JSON-2, see
``wire.JSON2_POSITIONAL_PARAMS``) and 18 field names (renamed for the server's series, see
``series.py``), whichever protocol and series the server has.
Both clients take an httpx transport and a base URL (DESIGN principle 8), so tests and sandboxes plug
in without patching.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from .errors import AccessDenied, OdooConnectionError, OdooError, OdooProtocolError, OdooTimeout
from .series import SeriesNames, TranslatedCall, names_for, translate_call, translate_result
from .wire import Json2Wire, JsonRpcWire, WireProtocol, WireRequest

JSON2_FIRST_MAJOR = 19
ProtocolChoice = Literal["auto", "jsonrpc", "json2"]


class OdooVersion(BaseModel):
    """``common.version`` as Odoo answers it (recorded: 18.0-20250421, info [18, 0, 0, "final", 0, ""])."""

    model_config = ConfigDict(extra="allow")

    server_version: str
    server_version_info: list[Any]
    server_serie: str = ""
    protocol_version: int = 1

    @property
    def major(self) -> int:
        head = self.server_version_info[0] if self.server_version_info else 0
        if isinstance(head, int):
            return head
        # saas builds report e.g. "saas~18"; keep the number.
        digits = "".join(ch for ch in str(head) if ch.isdigit())
        return int(digits or 0)

    @property
    def wire_protocol(self) -> WireProtocol:
        return WireProtocol.JSON2 if self.major >= JSON2_FIRST_MAJOR else WireProtocol.JSONRPC


class OdooSettings(BaseModel):
    """Where and as whom to connect. ``secret`` is an API key (recommended) or the password."""

    url: str
    db: str
    login: str
    secret: SecretStr
    protocol: ProtocolChoice = "auto"
    timeout_s: float = Field(default=30.0, gt=0)
    max_connections: int = Field(default=16, ge=1)
    max_in_flight: int = Field(default=8, ge=1, description="Concurrent calls in call_many.")
    user_agent: str = "handoff-odoo-connector"


class OdooCall(BaseModel):
    """One ``model.method(*args, **kwargs)`` for :meth:`OdooClient.call_many`."""

    model: str
    method: str
    args: list[Any] = Field(default_factory=list)
    kwargs: dict[str, Any] = Field(default_factory=dict)
    timeout_s: float | None = None


def _settings(
    url: str, db: str, login: str, secret: str, protocol: ProtocolChoice, options: dict[str, Any]
) -> OdooSettings:
    return OdooSettings(
        url=url.rstrip("/"),
        db=db,
        login=login,
        secret=SecretStr(secret),
        protocol=protocol,
        **options,
    )


def _transport_error(
    exc: httpx.TransportError, model: str | None, method: str | None, url: str
) -> OdooError:
    if isinstance(exc, httpx.TimeoutException):
        return OdooTimeout(
            f"Odoo call timed out ({type(exc).__name__}) at {url}; it may still have been applied",
            model=model,
            method=method,
            rule="timeout",
        )
    return OdooConnectionError(
        f"Odoo at {url} unreachable: {type(exc).__name__}: {exc}",
        model=model,
        method=method,
        rule="connection",
    )


class _ClientCore:
    """State and wire choice shared by the sync and async clients (no I/O here)."""

    def __init__(self, settings: OdooSettings) -> None:
        self.settings = settings
        self._jsonrpc = JsonRpcWire()
        self._json2 = Json2Wire(settings.db, settings.secret.get_secret_value())
        self._protocol: WireProtocol | None = (
            None if settings.protocol == "auto" else WireProtocol(settings.protocol)
        )
        self._uid: int | None = None
        self._version: OdooVersion | None = None
        self._names: SeriesNames = names_for(0)
        self._state_lock = threading.Lock()

    @property
    def server_key(self) -> str:
        """Identifies (server, database) for caches such as the schema cache."""
        return f"{self.settings.url}|{self.settings.db}"

    def _timeout(self, timeout_s: float | None) -> httpx.Timeout:
        return httpx.Timeout(timeout_s if timeout_s is not None else self.settings.timeout_s)

    def _learn_series(self, version: OdooVersion) -> None:
        self._names = names_for(version.major)

    def _translate(
        self, model: str, method: str, args: Sequence[Any], kwargs: Mapping[str, Any] | None
    ) -> TranslatedCall:
        return translate_call(self._names, model, method, args, kwargs)

    def _answer(
        self, model: str, method: str, args: Sequence[Any], call: TranslatedCall, result: Any
    ) -> Any:
        result = translate_result(self._names, model, method, result, call.asked)
        return self._unwrap_single_create(method, args, result)

    def _object_request(
        self, model: str, method: str, args: Sequence[Any], kwargs: Mapping[str, Any] | None
    ) -> WireRequest:
        if self._protocol is WireProtocol.JSON2:
            return self._json2.request(model, method, args, kwargs)
        assert self._uid is not None
        return self._jsonrpc.execute_kw_request(
            self.settings.db,
            self._uid,
            self.settings.secret.get_secret_value(),
            model,
            method,
            args,
            kwargs,
        )

    def _parse(self, response: httpx.Response, model: str | None, method: str | None) -> Any:
        if self._protocol is WireProtocol.JSON2 and model is not None:
            return self._json2.parse(response, model=model, method=method)
        return self._jsonrpc.parse(response, model=model, method=method)

    def _after_login(self, uid: Any) -> int:
        if not isinstance(uid, int) or isinstance(uid, bool) or uid <= 0:
            # Odoo answers a wrong password/key with `false`, not an error (authenticate.json).
            raise AccessDenied(
                f"Odoo refused login {self.settings.login!r} on database {self.settings.db!r} "
                "(wrong login, password or API key)",
                server_name="odoo.exceptions.AccessDenied",
                method="authenticate",
                rule="login_refused",
                suggested_fix="Check the login and API key configured for this Odoo backend.",
            )
        self._uid = uid
        return uid

    @staticmethod
    def _unwrap_single_create(method: str, args: Sequence[Any], result: Any) -> Any:
        # JSON-2 always creates from a list; JSON-RPC `create(vals)` answers a bare id.
        if (
            method == "create"
            and args
            and isinstance(args[0], Mapping)
            and isinstance(result, list)
        ):
            return result[0] if len(result) == 1 else result
        return result

    def _json2_login_call(self) -> OdooCall:
        # The bearer key names its user: context_get answers {"lang", "tz", "uid"} (19 version.json #8).
        return OdooCall(model="res.users", method="context_get")

    def _json2_uid(self, context: Any) -> int:
        return self._after_login(context.get("uid") if isinstance(context, dict) else False)


class OdooClient(_ClientCore):
    """Synchronous pooled client; :meth:`call_many` keeps several calls in flight on a thread pool.

    >>> client = OdooClient("http://127.0.0.1:8069", "psa", "admin", "<api key>")
    >>> client.execute_kw("res.partner", "search_count", [[]])
    """

    def __init__(
        self,
        url: str,
        db: str,
        login: str,
        secret: str,
        *,
        protocol: ProtocolChoice = "auto",
        transport: httpx.BaseTransport | None = None,
        event_hooks: Mapping[str, list[Any]] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(_settings(url, db, login, secret, protocol, options))
        limits = httpx.Limits(
            max_connections=self.settings.max_connections,
            max_keepalive_connections=self.settings.max_connections,
        )
        self._http = httpx.Client(
            base_url=self.settings.url,
            transport=transport,
            limits=limits,
            timeout=self.settings.timeout_s,
            headers={"User-Agent": self.settings.user_agent},
            event_hooks=dict(event_hooks or {}),
        )
        self._pool: ThreadPoolExecutor | None = None

    # -- plumbing ----------------------------------------------------------------------------

    def _send(
        self, request: WireRequest, model: str | None, method: str | None, timeout_s: float | None
    ) -> Any:
        try:
            response = self._http.post(
                request.path,
                content=request.body,
                headers=request.headers,
                timeout=self._timeout(timeout_s),
            )
        except httpx.TransportError as exc:
            raise _transport_error(exc, model, method, self.settings.url) from exc
        return self._parse(response, model, method)

    def call_service(
        self, service: str, method: str, *args: Any, timeout_s: float | None = None
    ) -> Any:
        """A raw ``/jsonrpc`` service call (``common.version``, ``common.authenticate``...)."""
        return self._send(
            self._jsonrpc.service_request(service, method, args), None, method, timeout_s
        )

    # -- session -----------------------------------------------------------------------------

    def version(self) -> OdooVersion:
        if self._version is None:
            self._version = OdooVersion.model_validate(self._fetch_version())
            self._learn_series(self._version)
        return self._version

    def _fetch_version(self) -> Any:
        try:
            return self.call_service("common", "version")
        except OdooProtocolError as exc:
            # A server that dropped /jsonrpc (Odoo 22+) still answers /web/version
            # ({"version_info": [...], "version": "19.0..."}, 19 version.json #1).
            if exc.status != 404:
                raise
            response = self._http.get("/web/version")
            try:
                answer = response.json()
                return {
                    "server_version": answer["version"],
                    "server_version_info": answer["version_info"],
                }
            except (ValueError, KeyError, TypeError):
                raise exc from None

    @property
    def protocol(self) -> WireProtocol:
        if self._protocol is None:
            self._protocol = self.version().wire_protocol
        return self._protocol

    def login(self) -> int:
        """Check the credentials and return the user id (``common.authenticate`` or JSON-2)."""
        with self._state_lock:
            self.version()  # the series decides field names, whichever protocol was forced
            if self.protocol is WireProtocol.JSON2:
                call = self._json2_login_call()
                found = self._send(
                    self._json2.request(call.model, call.method, (), call.kwargs),
                    call.model,
                    call.method,
                    None,
                )
                return self._json2_uid(found)
            s = self.settings
            uid = self.call_service(
                "common", "authenticate", s.db, s.login, s.secret.get_secret_value(), {}
            )
            return self._after_login(uid)

    @property
    def uid(self) -> int:
        return self._uid if self._uid is not None else self.login()

    # -- ORM calls ---------------------------------------------------------------------------

    def execute_kw(
        self,
        model: str,
        method: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        timeout_s: float | None = None,
    ) -> Any:
        """``model.method(*args, **kwargs)`` on the server; raises a typed :class:`OdooError`."""
        if self._uid is None:
            self.login()
        call = self._translate(model, method, args, kwargs)
        request = self._object_request(model, method, call.args, call.kwargs)
        result = self._send(request, model, method, timeout_s)
        return self._answer(model, method, args, call, result)

    def call(self, call: OdooCall) -> Any:
        return self.execute_kw(
            call.model, call.method, call.args, call.kwargs, timeout_s=call.timeout_s
        )

    def call_many(self, calls: Iterable[OdooCall], *, return_exceptions: bool = False) -> list[Any]:
        """Run independent calls concurrently (``max_in_flight`` at a time), results in order.

        With ``return_exceptions`` each failed call's :class:`OdooError` takes its place in the
        list; otherwise the first failure (in input order) is raised after all calls finished.
        """
        calls = list(calls)
        if self._uid is None:
            self.login()
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=self.settings.max_in_flight, thread_name_prefix="odoo-call"
            )

        def run(call: OdooCall) -> Any:
            try:
                return self.call(call)
            except OdooError as exc:
                return exc

        results = list(self._pool.map(run, calls))
        if not return_exceptions:
            for result in results:
                if isinstance(result, OdooError):
                    raise result
        return results

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        self._http.close()

    def __enter__(self) -> OdooClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncOdooClient(_ClientCore):
    """The same client on ``httpx.AsyncClient``: :meth:`call_many` gathers with a semaphore."""

    def __init__(
        self,
        url: str,
        db: str,
        login: str,
        secret: str,
        *,
        protocol: ProtocolChoice = "auto",
        transport: httpx.AsyncBaseTransport | None = None,
        event_hooks: Mapping[str, list[Any]] | None = None,
        **options: Any,
    ) -> None:
        super().__init__(_settings(url, db, login, secret, protocol, options))
        limits = httpx.Limits(
            max_connections=self.settings.max_connections,
            max_keepalive_connections=self.settings.max_connections,
        )
        self._http = httpx.AsyncClient(
            base_url=self.settings.url,
            transport=transport,
            limits=limits,
            timeout=self.settings.timeout_s,
            headers={"User-Agent": self.settings.user_agent},
            event_hooks=dict(event_hooks or {}),
        )
        self._login_lock = asyncio.Lock()

    async def _send(
        self, request: WireRequest, model: str | None, method: str | None, timeout_s: float | None
    ) -> Any:
        try:
            response = await self._http.post(
                request.path,
                content=request.body,
                headers=request.headers,
                timeout=self._timeout(timeout_s),
            )
        except httpx.TransportError as exc:
            raise _transport_error(exc, model, method, self.settings.url) from exc
        return self._parse(response, model, method)

    async def call_service(
        self, service: str, method: str, *args: Any, timeout_s: float | None = None
    ) -> Any:
        request = self._jsonrpc.service_request(service, method, args)
        return await self._send(request, None, method, timeout_s)

    async def version(self) -> OdooVersion:
        if self._version is None:
            self._version = OdooVersion.model_validate(await self.call_service("common", "version"))
            self._learn_series(self._version)
        return self._version

    async def protocol(self) -> WireProtocol:
        if self._protocol is None:
            self._protocol = (await self.version()).wire_protocol
        return self._protocol

    async def login(self) -> int:
        async with self._login_lock:
            await self.version()
            if await self.protocol() is WireProtocol.JSON2:
                call = self._json2_login_call()
                found = await self._send(
                    self._json2.request(call.model, call.method, (), call.kwargs),
                    call.model,
                    call.method,
                    None,
                )
                return self._json2_uid(found)
            s = self.settings
            uid = await self.call_service(
                "common", "authenticate", s.db, s.login, s.secret.get_secret_value(), {}
            )
            return self._after_login(uid)

    async def execute_kw(
        self,
        model: str,
        method: str,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        timeout_s: float | None = None,
    ) -> Any:
        if self._uid is None:
            await self.login()
        call = self._translate(model, method, args, kwargs)
        request = self._object_request(model, method, call.args, call.kwargs)
        result = await self._send(request, model, method, timeout_s)
        return self._answer(model, method, args, call, result)

    async def call_many(
        self, calls: Iterable[OdooCall], *, return_exceptions: bool = False
    ) -> list[Any]:
        if self._uid is None:
            await self.login()
        gate = asyncio.Semaphore(self.settings.max_in_flight)

        async def run(call: OdooCall) -> Any:
            async with gate:
                try:
                    return await self.execute_kw(
                        call.model, call.method, call.args, call.kwargs, timeout_s=call.timeout_s
                    )
                except OdooError as exc:
                    return exc

        results = await asyncio.gather(*(run(call) for call in calls))
        if not return_exceptions:
            for result in results:
                if isinstance(result, OdooError):
                    raise result
        return list(results)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncOdooClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
