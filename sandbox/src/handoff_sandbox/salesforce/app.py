"""The Salesforce sandbox as an ASGI app: login (SOAP and OAuth 2.0), REST sObjects, SOQL with
query locators, sObject Collections, /updated, API usage limits, and test controls.

Login hosts: simple-salesforce builds ``https://{domain}.salesforce.com/services/...`` for login.
Passing ``domain="127.0.0.1:PORT/login"`` yields ``https://127.0.0.1:PORT/login.salesforce.com/
services/...``, so every login endpoint is also served under ``/{host}.salesforce.com/``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode
from xml.etree import ElementTree
from xml.sax.saxutils import escape

import jwt
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field

from handoff_sandbox.salesforce import soql
from handoff_sandbox.salesforce.bulk2 import QueryJobs
from handoff_sandbox.salesforce.cdc_publisher import CdcPublisher
from handoff_sandbox.salesforce.errors import (
    SalesforceApiError,
    invalid_session,
    not_found,
    request_limit_exceeded,
)
from handoff_sandbox.salesforce.schema import SOBJECTS, FieldType, SObjectDef
from handoff_sandbox.salesforce.store import (
    OrgStore,
    Record,
    Transaction,
    format_datetime,
    parse_datetime,
)

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
COLLECTION_LIMIT = 200
DEFAULT_BATCH_SIZE = 2000
MAX_OPEN_CURSORS = 200
CURSOR_IDLE_SECONDS = 15 * 60


class SandboxConfig(BaseModel):
    api_version: str = "59.0"
    org_id: str = "00D8d000000HandA"
    username: str = "integration@handoff_sandbox"
    password: str = "sandbox-password"
    security_token: str = "SANDBOXTOKEN"
    consumer_key: str = "handoff-sandbox-consumer-key"
    consumer_secret: str = "handoff-sandbox-consumer-secret"
    jwt_public_key_pem: str | None = None
    daily_api_limit: int = Field(default=100_000, ge=1)
    session_ttl_seconds: float = 7200.0
    cdc_url: str | None = None
    cdc_secret: str = "handoff-sandbox-relay-secret"
    # The connected app's callback URL (web server flow) and whether its client credentials flow
    # is enabled with a run-as user.
    callback_url: str = "http://localhost:1717/OauthRedirect"
    client_credentials_enabled: bool = True
    # A Bulk API 2.0 query job completes on the second look at it or after this long.
    bulk_query_complete_after_seconds: float = 2.0


@dataclass
class AuthorizationCode:
    redirect_uri: str
    expires: float


@dataclass
class QueryCursor:
    rows: list[dict[str, Any]]
    batch_size: int
    total: int
    last_used: float


class SandboxState:
    """Everything mutable outside the records: sessions, API usage, query cursors, CDC."""

    def __init__(self, config: SandboxConfig, store: OrgStore) -> None:
        self.config = config
        self.store = store
        self.lock = threading.Lock()
        self.sessions: dict[str, float] = {}
        # refresh token -> the access tokens issued from it (revoking it ends them too)
        self.refresh_tokens: dict[str, set[str]] = {}
        self.authorization_codes: dict[str, AuthorizationCode] = {}
        self.query_jobs = QueryJobs(store, store.user_id, config.bulk_query_complete_after_seconds)
        self.api_usage = 0
        self.daily_limit = config.daily_api_limit
        self.cursors: OrderedDict[str, QueryCursor] = OrderedDict()
        self.logins = 0
        self.publisher: CdcPublisher | None = None
        if config.cdc_url:
            self.publisher = CdcPublisher(
                config.cdc_url,
                config.cdc_secret,
                api_version=config.api_version,
                commit_user=store.user_id,
            )
            store.add_listener(self.publisher.publish)

    # sessions
    def new_session(self) -> str:
        token = f"{self.config.org_id}!AQ{secrets.token_urlsafe(48)}"
        with self.lock:
            self.sessions[token] = time.time() + self.config.session_ttl_seconds
            self.logins += 1
        return token

    def new_refresh_token(self) -> str:
        token = f"5Aep861{secrets.token_urlsafe(64)}"
        with self.lock:
            self.refresh_tokens[token] = set()
        return token

    def refresh(self, refresh_token: str) -> str | None:
        """A new access token for a live refresh token, or None when it is unknown or revoked."""
        if refresh_token not in self.refresh_tokens:
            return None
        token = self.new_session()
        with self.lock:
            issued = self.refresh_tokens.get(refresh_token)
            if issued is None:
                self.sessions.pop(token, None)
                return None
            issued.add(token)
        return token

    def new_authorization_code(self, redirect_uri: str) -> str:
        code = f"aPrx{secrets.token_urlsafe(48)}"
        with self.lock:
            self.authorization_codes[code] = AuthorizationCode(redirect_uri, time.time() + 15 * 60)
        return code

    def redeem_authorization_code(self, code: str, redirect_uri: str) -> bool:
        """True once for a live code issued for this redirect URI (codes are single-use)."""
        with self.lock:
            grant = self.authorization_codes.pop(code, None)
        return (
            grant is not None and grant.expires > time.time() and grant.redirect_uri == redirect_uri
        )

    def revoke(self, token: str) -> bool:
        """Revoke a refresh token (and every access token issued from it) or an access token."""
        with self.lock:
            issued = self.refresh_tokens.pop(token, None)
            if issued is not None:
                for access_token in issued:
                    self.sessions.pop(access_token, None)
                return True
            return self.sessions.pop(token, None) is not None

    def session_valid(self, token: str) -> bool:
        expires = self.sessions.get(token)
        return expires is not None and expires > time.time()

    def expire_sessions(self) -> int:
        """Invalidate every session (as an admin or a timeout would): clients must log in again."""
        with self.lock:
            count = len(self.sessions)
            self.sessions.clear()
        return count

    # usage
    def consume_api_call(self) -> bool:
        with self.lock:
            if self.api_usage >= self.daily_limit:
                return False
            self.api_usage += 1
            return True

    def limit_info(self) -> str:
        return f"api-usage={self.api_usage}/{self.daily_limit}"

    def set_limits(self, *, daily_limit: int | None = None, used: int | None = None) -> None:
        with self.lock:
            if daily_limit is not None:
                self.daily_limit = daily_limit
            if used is not None:
                self.api_usage = used

    # cursors
    def open_cursor(self, rows: list[dict[str, Any]], batch_size: int) -> str:
        locator = "01g8d" + secrets.token_hex(5).upper()
        with self.lock:
            now = time.time()
            for key in [
                k for k, c in self.cursors.items() if now - c.last_used > CURSOR_IDLE_SECONDS
            ]:
                del self.cursors[key]
            while len(self.cursors) >= MAX_OPEN_CURSORS:
                self.cursors.popitem(last=False)
            self.cursors[locator] = QueryCursor(rows, batch_size, len(rows), now)
        return locator

    def close(self) -> None:
        if self.publisher is not None:
            self.publisher.close()


def _json(body: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


def _error(error: SalesforceApiError) -> JSONResponse:
    return _json(error.rest_body(), error.status)


def _version_ok(version: str) -> bool:
    try:
        return 20.0 <= float(version) <= 99.0
    except ValueError:
        return False


def create_app(config: SandboxConfig | None = None, store: OrgStore | None = None) -> FastAPI:
    config = config or SandboxConfig()
    store = store or OrgStore()
    state = SandboxState(config, store)
    app = FastAPI(title="Handoff Salesforce sandbox", docs_url=None, redoc_url=None)
    app.state.sandbox = state
    api = _RestApi(state)

    # -- login ---------------------------------------------------------------------------------

    async def oauth_token(request: Request) -> Response:
        # Parsed by hand: the form is url-encoded, and this keeps python-multipart optional.
        pairs = parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
        form = dict(pairs)
        grant = str(form.get("grant_type", ""))
        instance_url = f"https://{request.url.netloc}"
        refresh_token: str | None = None
        if grant in ("password", "authorization_code", "refresh_token", "client_credentials"):
            problem = _check_client(form, config, secret_required=grant != "refresh_token")
            if problem is not None:
                return _json(problem, 400)
        if grant == "password":
            password = str(form.get("password", ""))
            if form.get("username") != config.username or password != (
                config.password + config.security_token
            ):
                return _json(
                    {"error": "invalid_grant", "error_description": "authentication failure"}, 400
                )
        elif grant == JWT_GRANT:
            problem = _verify_jwt_assertion(str(form.get("assertion", "")), config, request)
            if problem is not None:
                return _json(problem, 400)
        elif grant == "authorization_code":
            if not state.redeem_authorization_code(
                str(form.get("code", "")), str(form.get("redirect_uri", ""))
            ):
                return _json(
                    {"error": "invalid_grant", "error_description": "invalid authorization code"},
                    400,
                )
            refresh_token = state.new_refresh_token()
        elif grant == "refresh_token":
            refreshed = state.refresh(str(form.get("refresh_token", "")))
            if refreshed is None:
                return _json(
                    {
                        "error": "invalid_grant",
                        "error_description": "expired access/refresh token",
                    },
                    400,
                )
            return _json(_token_body(refreshed, instance_url, config, store.user_id))
        elif grant == "client_credentials":
            if not config.client_credentials_enabled:
                return _json(
                    {
                        "error": "invalid_grant",
                        "error_description": "no client credentials user enabled",
                    },
                    400,
                )
        else:
            return _json(
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant type not supported",
                },
                400,
            )
        body = _token_body(state.new_session(), instance_url, config, store.user_id)
        if refresh_token is not None:
            body["refresh_token"] = refresh_token
            body["scope"] = "refresh_token api"
        return _json(body)

    async def authorize(request: Request) -> Response:
        """The web server flow's authorize step; the configured user is taken as logged in and
        as having approved the app, so it redirects straight back with a code."""
        params = request.query_params
        if params.get("client_id") != config.consumer_key:
            return _json(
                {"error": "invalid_client_id", "error_description": "client identifier invalid"},
                400,
            )
        redirect_uri = params.get("redirect_uri", "")
        if redirect_uri != config.callback_url:
            return _json(
                {
                    "error": "redirect_uri_mismatch",
                    "error_description": "redirect_uri must match configuration",
                },
                400,
            )
        separator = "&" if "?" in redirect_uri else "?"
        if params.get("response_type") != "code":
            query = urlencode(
                {
                    "error": "unsupported_response_type",
                    "error_description": "response type not supported",
                }
            )
            return RedirectResponse(f"{redirect_uri}{separator}{query}", status_code=302)
        values = {"code": state.new_authorization_code(redirect_uri)}
        if params.get("state") is not None:
            values["state"] = params["state"]
        return RedirectResponse(f"{redirect_uri}{separator}{urlencode(values)}", status_code=302)

    async def revoke(request: Request) -> Response:
        pairs = parse_qsl((await request.body()).decode("utf-8", "replace"), keep_blank_values=True)
        token = dict(pairs).get("token") or request.query_params.get("token", "")
        if not state.revoke(token):
            return _json({"error": "invalid_token", "error_description": "invalid token"}, 400)
        return Response(status_code=200)

    async def soap_login(request: Request, version: str) -> Response:
        body = await request.body()
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError:
            return _soap_fault(
                "INVALID_LOGIN",
                "Invalid username, password, security token; or user locked out.",
                500,
            )
        values = {element.tag.rsplit("}", 1)[-1]: (element.text or "") for element in root.iter()}
        if values.get("username") != config.username or values.get("password") not in (
            config.password + config.security_token,
        ):
            return _soap_fault(
                "INVALID_LOGIN",
                "Invalid username, password, security token; or user locked out.",
                500,
            )
        token = state.new_session()
        host = request.url.netloc
        server_url = f"https://{host}/services/Soap/u/{version}/{config.org_id}"
        envelope = f"""<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><loginResponse><result><metadataServerUrl>https://{host}/services/Soap/m/{version}/{config.org_id}</metadataServerUrl><passwordExpired>false</passwordExpired><sandbox>true</sandbox><serverUrl>{server_url}</serverUrl><sessionId>{escape(token)}</sessionId><userId>{store.user_id}</userId><userInfo><organizationId>{config.org_id}</organizationId><organizationName>Handoff Sandbox</organizationName><userEmail>{escape(config.username)}</userEmail><userFullName>Sandbox Admin</userFullName><userId>{store.user_id}</userId><userName>{escape(config.username)}</userName></userInfo></result></loginResponse></soapenv:Body></soapenv:Envelope>"""
        return Response(envelope, media_type="text/xml; charset=utf-8")

    app.add_api_route("/services/oauth2/token", oauth_token, methods=["POST"])
    app.add_api_route("/services/oauth2/authorize", authorize, methods=["GET"])
    app.add_api_route("/services/oauth2/revoke", revoke, methods=["POST"])
    app.add_api_route("/{login_host}/services/oauth2/authorize", authorize, methods=["GET"])
    app.add_api_route("/{login_host}/services/oauth2/revoke", revoke, methods=["POST"])
    app.add_api_route("/{login_host}/services/oauth2/token", oauth_token, methods=["POST"])
    app.add_api_route("/services/Soap/u/{version}", soap_login, methods=["POST"])
    app.add_api_route("/{login_host}/services/Soap/u/{version}", soap_login, methods=["POST"])

    # -- REST ----------------------------------------------------------------------------------

    async def rest(request: Request, version: str, path: str) -> Response:
        authorization = request.headers.get("authorization", "")
        token = authorization[7:] if authorization.lower().startswith("bearer ") else ""
        limit_header = {"Sforce-Limit-Info": state.limit_info()}
        response: Response
        if not state.session_valid(token):
            response = _error(invalid_session())
            response.headers.update(limit_header)
            return response
        if not state.consume_api_call():
            response = _error(request_limit_exceeded())
            response.headers.update({"Sforce-Limit-Info": state.limit_info()})
            return response
        try:
            if not _version_ok(version):
                raise not_found()
            body = await request.body()
            payload: Any = None
            if body:
                try:
                    payload = json.loads(body)
                except ValueError as error:
                    raise SalesforceApiError(
                        400, "JSON_PARSER_ERROR", f"Unexpected character in request body: {error}"
                    ) from None
            response = api.dispatch(request, version, path.strip("/"), payload)
        except SalesforceApiError as error:
            if error.status == 300:
                response = _json([f"/services/data/v{version}/sobjects/{path}"], 300)
            else:
                response = _error(error)
        response.headers["Sforce-Limit-Info"] = state.limit_info()
        return response

    async def versions(request: Request) -> Response:
        return _json(
            [
                {
                    "label": "Sandbox",
                    "url": f"/services/data/v{config.api_version}",
                    "version": config.api_version,
                }
            ]
        )

    app.add_api_route("/services/data", versions, methods=["GET"])
    app.add_api_route("/services/data/", versions, methods=["GET"])
    app.add_api_route(
        "/services/data/v{version}/{path:path}",
        rest,
        methods=["GET", "POST", "PATCH", "DELETE", "PUT"],
    )
    app.add_api_route("/services/data/v{version}", rest, methods=["GET"], name="rest_root")

    # -- controls for tests and demos -----------------------------------------------------------

    async def control_state(request: Request) -> Response:
        return _json(
            {
                "api_usage": state.api_usage,
                "daily_limit": state.daily_limit,
                "sessions": len(state.sessions),
                "logins": state.logins,
                "open_cursors": len(state.cursors),
                "cdc_delivered": state.publisher.delivered if state.publisher else 0,
                "cdc_failed": state.publisher.failed if state.publisher else 0,
            }
        )

    async def control_expire(request: Request) -> Response:
        return _json({"expired": state.expire_sessions()})

    async def control_limits(request: Request) -> Response:
        payload = await request.json()
        state.set_limits(daily_limit=payload.get("daily_limit"), used=payload.get("used"))
        return _json({"api_usage": state.api_usage, "daily_limit": state.daily_limit})

    app.add_api_route("/__sandbox__/state", control_state, methods=["GET"])
    app.add_api_route("/__sandbox__/sessions/expire", control_expire, methods=["POST"])
    app.add_api_route("/__sandbox__/limits", control_limits, methods=["POST"])

    return app


def _check_client(
    form: dict[str, str], config: SandboxConfig, *, secret_required: bool
) -> dict[str, str] | None:
    """The connected app's id (and secret when sent or required); None when it checks out."""
    if form.get("client_id") != config.consumer_key:
        return {"error": "invalid_client_id", "error_description": "client identifier invalid"}
    secret = form.get("client_secret")
    if (secret_required or secret is not None) and secret != config.consumer_secret:
        return {"error": "invalid_client", "error_description": "invalid client credentials"}
    return None


def _token_body(
    token: str, instance_url: str, config: SandboxConfig, user_id: str
) -> dict[str, Any]:
    issued_at = str(int(time.time() * 1000))
    user_path = f"{instance_url}/id/{config.org_id}/{user_id}"
    signature = base64.b64encode(
        hmac.new(
            config.consumer_secret.encode(), (user_path + issued_at).encode(), hashlib.sha256
        ).digest()
    ).decode()
    return {
        "access_token": token,
        "signature": signature,
        "scope": "api",
        "instance_url": instance_url,
        "id": user_path,
        "token_type": "Bearer",
        "issued_at": issued_at,
    }


def _soap_fault(code: str, message: str, status: int) -> Response:
    body = f"""<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>sf:{code}</faultcode><faultstring>{code}: {escape(message)}</faultstring><detail><sf:LoginFault xsi:type="sf:LoginFault"><sf:exceptionCode>{code}</sf:exceptionCode><sf:exceptionMessage>{escape(message)}</sf:exceptionMessage></sf:LoginFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"""
    return Response(body, status_code=status, media_type="text/xml; charset=utf-8")


def _verify_jwt_assertion(
    assertion: str, config: SandboxConfig, request: Request
) -> dict[str, str] | None:
    """Check an RS256 JWT bearer assertion; None when valid, else the OAuth error body."""
    invalid = {"error": "invalid_grant", "error_description": "invalid assertion"}
    if not config.jwt_public_key_pem or not assertion:
        return invalid
    try:
        # simple-salesforce sends `exp` as a string, so expiry is checked here, not by PyJWT.
        claims = jwt.decode(
            assertion,
            config.jwt_public_key_pem,
            algorithms=["RS256"],
            options={"verify_exp": False, "verify_aud": False},
        )
    except jwt.PyJWTError:
        return invalid
    if claims.get("iss") != config.consumer_key:
        return {"error": "invalid_client_id", "error_description": "client identifier invalid"}
    if claims.get("sub") != config.username:
        return {"error": "invalid_grant", "error_description": "user hasn't approved this consumer"}
    audience = str(claims.get("aud", ""))
    host = request.url.netloc
    allowed = {"https://login.salesforce.com", "https://test.salesforce.com", f"https://{host}"}
    if audience not in allowed and not (
        audience.startswith(f"https://{host}/") and audience.endswith(".salesforce.com")
    ):
        return {"error": "invalid_grant", "error_description": "audience is invalid"}
    try:
        expires = float(claims["exp"])
    except (KeyError, TypeError, ValueError):
        return invalid
    now = time.time()
    if expires < now or expires > now + 3 * 60 + 30:
        return {"error": "invalid_grant", "error_description": "expired authorization code"}
    return None


class _RestApi:
    """Routes one authenticated, counted REST call to its handler."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.store = state.store

    def dispatch(self, request: Request, version: str, path: str, payload: Any) -> Response:
        # Split the raw path, then decode each segment: an encoded "/" stays inside its value.
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        raw = raw_path.decode("latin-1").split("?", 1)[0]
        prefix = f"/services/data/v{version}"
        raw = raw[len(prefix) :] if raw.startswith(prefix) else path
        parts = [unquote(p) for p in raw.split("/") if p]
        method = request.method
        params = request.query_params
        if not parts:
            base = f"/services/data/v{version}"
            return _json(
                {
                    "sobjects": f"{base}/sobjects",
                    "query": f"{base}/query",
                    "queryAll": f"{base}/queryAll",
                    "composite": f"{base}/composite",
                    "limits": f"{base}/limits",
                }
            )
        head = parts[0]
        if head in ("query", "queryAll") and method == "GET":
            include_deleted = head == "queryAll"
            if len(parts) == 2:
                return self.query_more(parts[1], version)
            if len(parts) == 1:
                return self.query(request, params.get("q"), version, include_deleted)
        if head == "limits" and method == "GET" and len(parts) == 1:
            remaining = max(0, self.state.daily_limit - self.state.api_usage)
            return _json(
                {"DailyApiRequests": {"Max": self.state.daily_limit, "Remaining": remaining}}
            )
        if head == "jobs" and len(parts) >= 2 and parts[1] == "query" and float(version) >= 47.0:
            return self.state.query_jobs.dispatch(method, parts[2:], params, payload, version)
        if head == "sobjects":
            return self.sobjects(method, parts[1:], params, payload, version)
        if head == "composite" and len(parts) >= 2 and parts[1] == "sobjects":
            return self.collections(method, parts[2:], params, payload, version)
        raise not_found()

    # -- sObjects ------------------------------------------------------------------------------

    def sobjects(
        self, method: str, parts: list[str], params: Any, payload: Any, version: str
    ) -> Response:
        if not parts:
            if method != "GET":
                raise not_found()
            return _json(
                {
                    "encoding": "UTF-8",
                    "maxBatchSize": COLLECTION_LIMIT,
                    "sobjects": [_describe_global(d, version) for d in SOBJECTS.values()],
                }
            )
        definition = self.store.definition(parts[0])
        name = definition.name
        rest = parts[1:]
        if not rest:
            if method == "GET":
                return _json(
                    {"objectDescribe": _describe_global(definition, version), "recentItems": []}
                )
            if method == "POST":
                with self.store.transaction() as tx:
                    record_id = self.store.create(tx, name, _record_body(payload))
                return _json({"id": record_id, "success": True, "errors": []}, 201)
            raise not_found()
        if rest == ["describe"] and method == "GET":
            return _json(_describe(definition, version))
        if rest[0] in ("updated", "deleted") and len(rest) == 1 and method == "GET":
            return self.replication(definition, rest[0], params)
        if len(rest) == 1:
            record_id = rest[0]
            if method == "GET":
                record = self.store.get(name, record_id)
                fields = params.get("fields")
                return _json(
                    _render(definition, record, version, fields.split(",") if fields else None)
                )
            if method == "PATCH":
                with self.store.transaction() as tx:
                    self.store.update(tx, name, record_id, _record_body(payload))
                return Response(status_code=204)
            if method == "DELETE":
                with self.store.transaction() as tx:
                    self.store.delete(tx, name, record_id)
                return Response(status_code=204)
            raise not_found()
        if len(rest) == 2:
            field_name, value = rest
            if method == "GET":
                matches = self.store.find_by_external_id(name, field_name, value)
                if not matches:
                    raise not_found()
                return _json(_render(definition, matches[0], version, None))
            if method == "PATCH":
                update_only = str(params.get("updateOnly", "")).lower() == "true"
                if update_only and not self.store.find_by_external_id(name, field_name, value):
                    raise not_found()
                with self.store.transaction() as tx:
                    record_id, created = self.store.upsert(
                        tx, name, field_name, value, _record_body(payload)
                    )
                if float(version) < 46.0:
                    if created:
                        return _json({"id": record_id, "success": True, "errors": []}, 201)
                    return Response(status_code=204)
                body = {"id": record_id, "success": True, "errors": [], "created": created}
                return _json(body, 201 if created else 200)
        raise not_found()

    def replication(self, definition: SObjectDef, kind: str, params: Any) -> Response:
        try:
            start = parse_datetime(str(params["start"]))
            end = parse_datetime(str(params["end"]))
        except (KeyError, ValueError):
            raise SalesforceApiError(
                400, "MALFORMED_QUERY", "start and end must be ISO-8601 date-times"
            ) from None
        now = datetime.now(UTC)
        if start < now - timedelta(days=30):
            raise SalesforceApiError(
                400,
                "INVALID_REPLICATION_DATE",
                "startDate cannot be more than 30 days ago",
            )
        if end <= start:
            raise SalesforceApiError(
                400, "INVALID_REPLICATION_DATE", "EndDate must chronologically follow the StartDate"
            )
        end = min(end, now).replace(second=0, microsecond=0)
        low, high = format_datetime(start), format_datetime(end)
        records = self.store.records(definition.name, include_deleted=kind == "deleted")
        if kind == "updated":
            ids = [
                r["Id"]
                for r in records
                if not r.get("IsDeleted") and low <= r["SystemModstamp"] <= high
            ]
            return _json({"ids": ids, "latestDateCovered": high})
        deleted = [
            {"id": r["Id"], "deletedDate": r["SystemModstamp"]}
            for r in records
            if r.get("IsDeleted") and low <= r["SystemModstamp"] <= high
        ]
        return _json(
            {
                "deletedRecords": deleted,
                "earliestDateAvailable": format_datetime(now - timedelta(days=15)),
                "latestDateCovered": high,
            }
        )

    # -- SOQL ----------------------------------------------------------------------------------

    def query(
        self, request: Request, text: str | None, version: str, include_deleted: bool
    ) -> Response:
        if not text:
            raise SalesforceApiError(400, "MALFORMED_QUERY", "A query string has to be specified")
        plan = soql.parse(text, self.store)
        rows = soql.execute(plan, self.store, include_deleted=include_deleted)
        if plan.count_only:
            return _json({"totalSize": len(rows), "done": True, "records": []})
        batch_size = _batch_size(request.headers.get("sforce-query-options", ""))
        projected = [soql.project(plan, row, version, self.store) for row in rows]
        endpoint = "queryAll" if include_deleted else "query"
        return self._page(projected, len(projected), batch_size, 0, None, version, endpoint)

    def query_more(self, locator_and_offset: str, version: str) -> Response:
        locator, _, offset_text = locator_and_offset.partition("-")
        cursor = self.state.cursors.get(locator)
        if cursor is None or not offset_text.isdigit():
            raise SalesforceApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        cursor.last_used = time.time()
        return self._page(
            cursor.rows,
            cursor.total,
            cursor.batch_size,
            int(offset_text),
            locator,
            version,
            "query",
        )

    def _page(
        self,
        rows: list[dict[str, Any]],
        total: int,
        batch_size: int,
        offset: int,
        locator: str | None,
        version: str,
        endpoint: str,
    ) -> Response:
        page = rows[offset : offset + batch_size]
        body: dict[str, Any] = {"totalSize": total, "done": offset + batch_size >= total}
        if not body["done"]:
            if locator is None:
                locator = self.state.open_cursor(rows, batch_size)
            body["nextRecordsUrl"] = (
                f"/services/data/v{version}/{endpoint}/{locator}-{offset + batch_size}"
            )
        elif locator is not None:
            self.state.cursors.pop(locator, None)
        body["records"] = page
        return _json(body)

    # -- sObject Collections -------------------------------------------------------------------

    def collections(
        self, method: str, parts: list[str], params: Any, payload: Any, version: str
    ) -> Response:
        if method == "DELETE" and not parts:
            ids = [i for i in str(params.get("ids", "")).split(",") if i]
            all_or_none = str(params.get("allOrNone", "false")).lower() == "true"
            self._check_count(len(ids))
            return self._run_collection(
                [{"Id": i} for i in ids],
                all_or_none,
                lambda tx, rec: self._delete_any(tx, rec["Id"]),
            )
        if method == "GET" and len(parts) == 1:
            definition = self.store.definition(parts[0])
            ids = [i for i in str(params.get("ids", "")).split(",") if i]
            fields = [f for f in str(params.get("fields", "")).split(",") if f]
            self._check_count(len(ids))
            results: list[Any] = []
            for record_id in ids:
                record = self.store.find(definition.name, record_id)
                results.append(
                    _render(definition, record, version, fields or None) if record else None
                )
            return _json(results)
        if not isinstance(payload, dict) or not isinstance(payload.get("records"), list):
            raise SalesforceApiError(
                400, "JSON_PARSER_ERROR", "The request body must have a records array"
            )
        records: list[Any] = payload["records"]
        all_or_none = bool(payload.get("allOrNone", False))
        self._check_count(len(records))
        if method == "POST" and not parts:
            return self._run_collection(records, all_or_none, self._create_any)
        if method == "PATCH" and not parts:
            return self._run_collection(records, all_or_none, self._update_any)
        if method == "PATCH" and len(parts) == 2:
            definition = self.store.definition(parts[0])
            field_name = parts[1]
            field_def = definition.field(field_name)
            if field_def is None or not (field_def.external_id or field_def.name == "Id"):
                raise SalesforceApiError(
                    400,
                    "INVALID_FIELD",
                    f"Field name provided, {field_name} is not an External ID or indexed field for {definition.name}",
                )
            return self._run_collection(
                records,
                all_or_none,
                lambda tx, rec: self._upsert_any(tx, definition.name, field_def.name, rec),
            )
        raise not_found()

    @staticmethod
    def _check_count(count: int) -> None:
        if count > COLLECTION_LIMIT:
            raise SalesforceApiError(
                400,
                "EXCEEDED_ID_LIMIT",
                f"record limit reached. cannot submit more than {COLLECTION_LIMIT} records into this call",
            )

    def _run_collection(self, records: list[Any], all_or_none: bool, operation: Any) -> Response:
        results: list[dict[str, Any]] = []
        if not all_or_none:
            for record in records:
                try:
                    with self.store.transaction() as tx:
                        results.append({"success": True, "errors": [], **operation(tx, record)})
                except SalesforceApiError as error:
                    results.append(_failure(record, error))
            return _json(results)
        failed = False

        class _RollBack(Exception):
            pass

        try:
            with self.store.transaction() as tx:
                for record in records:
                    try:
                        results.append({"success": True, "errors": [], **operation(tx, record)})
                    except SalesforceApiError as error:
                        failed = True
                        results.append(_failure(record, error))
                if failed:
                    raise _RollBack
        except _RollBack:
            rolled_back = SalesforceApiError(
                400,
                "ALL_OR_NONE_OPERATION_ROLLED_BACK",
                "Record rolled back because not all records were valid and the request was using AllOrNone header",
            )
            results = [
                result if not result["success"] else _failure({}, rolled_back) for result in results
            ]
        return _json(results)

    def _type_of(self, record: Any) -> str:
        if not isinstance(record, dict):
            raise SalesforceApiError(400, "JSON_PARSER_ERROR", "Each record must be a JSON object")
        attributes = record.get("attributes") or {}
        sobject = attributes.get("type") if isinstance(attributes, dict) else None
        if not sobject:
            raise SalesforceApiError(400, "INVALID_TYPE", "Must send a concrete entity type.", [])
        return self.store.definition(str(sobject)).name

    def _create_any(self, tx: Transaction, record: Any) -> dict[str, Any]:
        sobject = self._type_of(record)
        return {"id": self.store.create(tx, sobject, _record_body(record))}

    def _update_any(self, tx: Transaction, record: Any) -> dict[str, Any]:
        sobject = self._type_of(record)
        values = _record_body(record)
        record_id = values.pop("Id", None) or values.pop("id", None)
        if not record_id:
            raise SalesforceApiError(
                400, "MISSING_ARGUMENT", "Id not specified in an update call", []
            )
        self.store.update(tx, sobject, str(record_id), values)
        return {"id": self.store.get(sobject, str(record_id))["Id"]}

    def _upsert_any(
        self, tx: Transaction, sobject: str, field_name: str, record: Any
    ) -> dict[str, Any]:
        declared = self._type_of(record)
        if declared != sobject:
            raise SalesforceApiError(
                400, "INVALID_TYPE", f"Record type {declared} does not match {sobject}"
            )
        values = _record_body(record)
        value = next((v for k, v in values.items() if k.lower() == field_name.lower()), None)
        if value in (None, ""):
            raise SalesforceApiError(
                400, "MISSING_ARGUMENT", f"{field_name} not specified", [field_name]
            )
        record_id, created = self.store.upsert(tx, sobject, field_name, str(value), values)
        return {"id": record_id, "created": created}

    def _delete_any(self, tx: Transaction, record_id: str) -> dict[str, Any]:
        from handoff_sandbox.salesforce.ids import normalise_id
        from handoff_sandbox.salesforce.schema import sobject_by_prefix

        normalised = normalise_id(record_id)
        definition = sobject_by_prefix(normalised[:3]) if normalised else None
        if normalised is None or definition is None:
            raise SalesforceApiError(400, "MALFORMED_ID", f"malformed id {record_id}", [])
        self.store.delete(tx, definition.name, normalised)
        return {"id": normalised}


def _failure(record: Any, error: SalesforceApiError) -> dict[str, Any]:
    result: dict[str, Any] = {"success": False, "errors": [error.collection_error()]}
    if isinstance(record, dict) and record.get("Id"):
        result["id"] = record["Id"]
    return result


def _record_body(payload: Any) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise SalesforceApiError(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
    return {k: v for k, v in payload.items() if k != "attributes"}


def _batch_size(header: str) -> int:
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key.lower() == "batchsize" and value.strip().isdigit():
            # Salesforce treats the size as a hint between 200 and 2,000.
            return max(200, min(DEFAULT_BATCH_SIZE, int(value)))
    return DEFAULT_BATCH_SIZE


def _render(
    definition: SObjectDef, record: Record, version: str, fields: list[str] | None
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "attributes": {
            "type": definition.name,
            "url": f"/services/data/v{version}/sobjects/{definition.name}/{record['Id']}",
        }
    }
    names = list(definition.fields)
    if fields:
        names = []
        for name in fields:
            field_def = definition.field(name.strip())
            if field_def is None:
                raise SalesforceApiError(
                    400,
                    "INVALID_FIELD",
                    f"No such column '{name}' on sobject of type {definition.name}",
                )
            names.append(field_def.name)
    for name in names:
        body[name] = record.get(name)
    return body


def _describe_global(definition: SObjectDef, version: str) -> dict[str, Any]:
    base = f"/services/data/v{version}/sobjects/{definition.name}"
    return {
        "name": definition.name,
        "label": definition.label,
        "keyPrefix": definition.key_prefix,
        "custom": False,
        "createable": True,
        "updateable": True,
        "deletable": True,
        "queryable": True,
        "replicateable": True,
        "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
    }


def _describe(definition: SObjectDef, version: str) -> dict[str, Any]:
    fields = []
    for f in definition.fields.values():
        fields.append(
            {
                "name": f.name,
                "label": f.label or f.name,
                "type": f.type.value,
                "length": f.length if f.type not in (FieldType.BOOLEAN,) else 0,
                "nillable": not f.required and f.name != "Id",
                "createable": f.createable,
                "updateable": f.updateable,
                "custom": f.name.endswith("__c"),
                "externalId": f.external_id,
                "unique": f.unique,
                "idLookup": f.external_id or f.name == "Id",
                "referenceTo": [f.reference_to] if f.reference_to else [],
                "relationshipName": f.relationship_name,
                "restrictedPicklist": f.restricted_picklist,
                "picklistValues": [
                    {
                        "active": True,
                        "defaultValue": False,
                        "label": v,
                        "validFor": None,
                        "value": v,
                    }
                    for v in (f.picklist or [])
                ],
            }
        )
    return {**_describe_global(definition, version), "fields": fields}


def new_transaction_key() -> str:
    return uuid.uuid4().hex
