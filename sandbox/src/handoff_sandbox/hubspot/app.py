"""The HubSpot sandbox: CRM v3/v4 over HTTP with HubSpot's shapes, limits and errors.

Control endpoints live under `/_sandbox/` (no auth, not rate limited) for tests and demos.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from handoff_sandbox.hubspot.config import SandboxSettings, SettingsPatch
from handoff_sandbox.hubspot.directory import (
    Person,
    demo_people,
    missing_scopes,
    page,
    required_scopes,
)
from handoff_sandbox.hubspot.errors import (
    HubSpotApiError,
    not_found,
    rate_limited,
    validation_error,
)
from handoff_sandbox.hubspot.limits import RollingWindow, TokenBudget
from handoff_sandbox.hubspot.records import InputError, RecordChange, Records
from handoff_sandbox.hubspot.schema import (
    DEFAULT_ASSOCIATION,
    GROUP_NAME,
    OBJECT_TYPE_IDS,
    UNSTORED_OBJECT_TYPES,
    PropertyDefinition,
    association_types,
    resolve_object_type,
    resolve_unstored_type,
    unstored_properties,
)
from handoff_sandbox.hubspot.store import SandboxStore, StoredObject, iso_ms, now_ms
from handoff_sandbox.hubspot.webhook_sender import WebhookSender

BATCH_LIMIT = 100
PAGE_LIMIT_MAX = 100


@dataclass
class Fault:
    """Answer the next ``remaining`` ``method path`` requests with ``status`` instead."""

    method: str
    path: str
    status: int
    remaining: int


class SandboxState:
    def __init__(self, store: SandboxStore, settings: SandboxSettings) -> None:
        self.store = store
        self.settings = settings
        self.records = Records(store)
        self.webhooks = WebhookSender(store, settings)
        self.budgets: dict[str, TokenBudget] = {}
        # OAuth: access token -> expiry (epoch s); refresh token -> client id.
        self.access_tokens: dict[str, float] = {}
        self.refresh_tokens: dict[str, str] = {}
        self.calls: Counter[str] = Counter()
        self.rejections: Counter[str] = Counter()
        self.people: list[Person] = []
        # Failures to answer the next matching requests with (tests: 429s and 5xx on demand).
        self.faults: list[Fault] = []

    def take_fault(self, method: str, path: str) -> Fault | None:
        for fault in self.faults:
            if fault.method == method and fault.path == path and fault.remaining > 0:
                fault.remaining -= 1
                return fault
        return None

    def budget(self, token: str) -> TokenBudget:
        budget = self.budgets.get(token)
        if budget is None:
            budget = TokenBudget(
                ten_secondly=RollingWindow(self.settings.ten_secondly_max, 10.0),
                search=RollingWindow(self.settings.search_per_second, 1.0),
            )
            self.budgets[token] = budget
        return budget

    def issue_access_token(self) -> str:
        token = "CO" + secrets.token_urlsafe(24)
        self.access_tokens[token] = time.time() + self.settings.access_token_ttl_seconds
        return token


def _now_iso() -> str:
    return iso_ms(now_ms())


def _object_type(raw: str) -> str:
    """A type the sandbox stores; an unstored standard type is refused here (writes)."""
    resolved = resolve_object_type(raw)
    unstored = resolve_unstored_type(raw) if resolved is None else None
    if unstored is not None:
        raise validation_error(
            f"The HubSpot sandbox keeps no {unstored} records: it reads them as an account that "
            "has none, and stores only contacts, companies, deals, products and line_items.",
            sub_category="SANDBOX_UNSTORED_OBJECT_TYPE",
        )
    if resolved is None:
        raise HubSpotApiError(
            400,
            "VALIDATION_ERROR",
            f"Unable to infer object type from: {raw}",
            sub_category="UNKNOWN_OBJECT_TYPE",
        )
    return resolved


def _readable_type(raw: str) -> tuple[str, bool]:
    """(canonical name, stored?) of a type a read may name: stored or a known standard type."""
    unstored = resolve_unstored_type(raw) if resolve_object_type(raw) is None else None
    if unstored is not None:
        return unstored, False
    return _object_type(raw), True


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    try:
        return json.loads(raw or b"null")
    except json.JSONDecodeError as error:
        raise validation_error(
            f"Invalid input JSON on line {error.lineno}, column {error.colno}: {error.msg}"
        ) from None


def _inputs(body: Any) -> list[Any]:
    if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
        raise validation_error("Invalid input JSON: expected an object with an `inputs` array.")
    inputs = body["inputs"]
    if len(inputs) > BATCH_LIMIT:
        raise validation_error(
            f"Batch input is limited to {BATCH_LIMIT} inputs, got {len(inputs)}.",
            context={"inputs": [str(len(inputs))]},
        )
    return inputs


def _batch_response(
    results: list[Any], errors: list[dict[str, Any]], started: str, created: bool = False
):
    body: dict[str, Any] = {
        "status": "COMPLETE",
        "results": results,
        "startedAt": started,
        "completedAt": _now_iso(),
    }
    if errors:
        body["numErrors"] = len(errors)
        body["errors"] = errors
        return JSONResponse(body, status_code=207)
    return JSONResponse(body, status_code=201 if created else 200)


def _input_error(error: InputError) -> dict[str, Any]:
    return {
        "status": "error",
        "category": error.category,
        "message": error.message,
        "context": error.context,
        "errors": [],
    }


def _traced(result: dict[str, Any], item: Any) -> dict[str, Any]:
    """Echo the caller's objectWriteTraceId so it can match results to inputs."""
    trace = (item or {}).get("objectWriteTraceId") if isinstance(item, dict) else None
    if trace is not None:
        result["objectWriteTraceId"] = str(trace)
    return result


def _split_csv(values: list[str]) -> list[str]:
    return [part for value in values for part in value.split(",") if part]


def create_app(
    db_path: Path | str | None = None,
    settings: SandboxSettings | None = None,
    *,
    seed: bool = False,
) -> FastAPI:
    settings = settings or SandboxSettings()
    store = SandboxStore(db_path)
    state = SandboxState(store, settings)
    from handoff_sandbox.hubspot.seed import ensure_default_pipelines, seed_demo_data

    ensure_default_pipelines(store)
    if seed and store.is_empty():
        seed_demo_data(state.records)
    if seed:
        state.people = demo_people()

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        state.webhooks.start()
        yield
        await state.webhooks.stop()

    app = FastAPI(title="HubSpot sandbox (Handoff)", lifespan=lifespan, docs_url="/_sandbox/docs")
    app.state.sandbox = state

    # -- errors ----------------------------------------------------------------------------
    @app.exception_handler(HubSpotApiError)
    async def hubspot_error(_: Request, error: HubSpotApiError) -> JSONResponse:
        return error.response()

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        category = "OBJECT_NOT_FOUND" if error.status_code == 404 else "VALIDATION_ERROR"
        message = "Resource not found" if error.status_code == 404 else str(error.detail)
        return HubSpotApiError(error.status_code, category, message).response()

    # -- auth and limits -------------------------------------------------------------------
    @app.middleware("http")
    async def auth_and_limits(request: Request, call_next: Any) -> Response:
        path = request.url.path
        if not path.startswith(("/crm/", "/crm-object-schemas/", "/settings/")):
            return await call_next(request)
        header = request.headers.get("authorization", "")
        token = header[7:].strip() if header.lower().startswith("bearer ") else ""
        if not token:
            state.rejections["auth"] += 1
            return HubSpotApiError(
                401,
                "INVALID_AUTHENTICATION",
                "Authentication credentials not found. This API supports OAuth 2.0 authentication "
                "and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            ).response()
        if token != settings.token:
            expiry = state.access_tokens.get(token)
            if expiry is None:
                state.rejections["auth"] += 1
                return HubSpotApiError(
                    401,
                    "INVALID_AUTHENTICATION",
                    "The OAuth token used to make this call is not valid.",
                ).response()
            if expiry < time.time():
                state.rejections["expired"] += 1
                ago = int(time.time() - expiry)
                return HubSpotApiError(
                    401,
                    "EXPIRED_AUTHENTICATION",
                    f"The OAuth token used to make this call expired {ago} second(s) ago.",
                ).response()
        if settings.token_scopes is not None:
            required = required_scopes(request.method, path)
            if required and not set(required) & set(settings.token_scopes):
                state.rejections["scopes"] += 1
                return missing_scopes(required).response()
        budget = state.budget(token)
        budget.ten_secondly.limit = settings.ten_secondly_max
        budget.search.limit = settings.search_per_second
        headers_base = {
            "X-HubSpot-RateLimit-Max": str(settings.ten_secondly_max),
            "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            "X-HubSpot-RateLimit-Daily": str(settings.daily_max),
        }
        retry_after = (
            {"Retry-After": f"{settings.retry_after_seconds:g}"}
            if settings.retry_after_seconds is not None
            else {}
        )

        def limit_headers() -> dict[str, str]:
            return {
                **headers_base,
                "X-HubSpot-RateLimit-Remaining": str(budget.ten_secondly.remaining()),
                "X-HubSpot-RateLimit-Daily-Remaining": str(
                    max(0, settings.daily_max - budget.daily_used)
                ),
            }

        if budget.daily_used >= settings.daily_max:
            state.rejections["DAILY"] += 1
            return rate_limited(
                "DAILY", "You have reached your daily limit.", {**limit_headers(), **retry_after}
            ).response()
        if not budget.ten_secondly.try_take():
            state.rejections["TEN_SECONDLY_ROLLING"] += 1
            return rate_limited(
                "TEN_SECONDLY_ROLLING",
                "You have reached your ten_secondly_rolling limit.",
                {**limit_headers(), **retry_after},
            ).response()
        if request.method == "POST" and path.endswith("/search") and not budget.search.try_take():
            state.rejections["SECONDLY"] += 1
            return rate_limited(
                "SECONDLY",
                "You have reached your secondly limit.",
                {**limit_headers(), **retry_after},
            ).response()
        fault = state.take_fault(request.method, path)
        if fault is not None and fault.status == 429:
            # As HubSpot answers when the app's burst budget is spent (not counted as a call).
            state.rejections["TEN_SECONDLY_ROLLING"] += 1
            return rate_limited(
                "TEN_SECONDLY_ROLLING",
                "You have reached your ten_secondly_rolling limit.",
                {**limit_headers(), **retry_after},
            ).response()
        budget.daily_used += 1
        state.calls[f"{request.method} {_call_label(path)}"] += 1
        if fault is not None:
            # HubSpot's 5xx bodies are not documented (unconfirmed): the generic error shape.
            return HubSpotApiError(
                fault.status, "INTERNAL_ERROR", "internal error", headers=limit_headers()
            ).response()
        response = await call_next(request)
        response.headers.update(limit_headers())
        return response

    # -- OAuth -----------------------------------------------------------------------------
    async def token_endpoint(request: Request) -> JSONResponse:
        # Form-encoded, as HubSpot requires; parsed here to avoid a multipart dependency.
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        grant = form.get("grant_type")
        client_ok = (
            form.get("client_id") == settings.oauth_client_id
            and form.get("client_secret") == settings.oauth_client_secret
        )
        if grant not in ("authorization_code", "refresh_token", "client_credentials"):
            return JSONResponse(
                {
                    "status": "BAD_GRANT_TYPE",
                    "message": f"grant_type {grant!r} is not supported",
                    "correlationId": secrets.token_hex(8),
                },
                status_code=400,
            )
        if not client_ok:
            return JSONResponse(
                {
                    "status": "BAD_CLIENT_ID",
                    "message": "missing or unknown client_id / client_secret",
                    "correlationId": secrets.token_hex(8),
                },
                status_code=400,
            )
        body: dict[str, Any] = {
            "token_type": "bearer",
            "expires_in": settings.access_token_ttl_seconds,
        }
        if grant == "refresh_token":
            refresh = str(form.get("refresh_token") or "")
            if state.refresh_tokens.get(refresh) != settings.oauth_client_id:
                return JSONResponse(
                    {
                        "status": "BAD_REFRESH_TOKEN",
                        "message": "missing or unknown refresh token",
                        "correlationId": secrets.token_hex(8),
                    },
                    status_code=400,
                )
            body["refresh_token"] = refresh
        elif grant == "authorization_code":
            code = str(form.get("code") or "")
            if not code.startswith("sandbox-code-"):
                return JSONResponse(
                    {
                        "status": "BAD_AUTH_CODE",
                        "message": "missing or unknown auth code",
                        "correlationId": secrets.token_hex(8),
                    },
                    status_code=400,
                )
            refresh = secrets.token_urlsafe(24)
            state.refresh_tokens[refresh] = settings.oauth_client_id
            body["refresh_token"] = refresh
        body["access_token"] = state.issue_access_token()
        return JSONResponse(body)

    app.post("/oauth/v1/token")(token_endpoint)
    app.post("/oauth/v3/token")(token_endpoint)

    # -- objects ---------------------------------------------------------------------------
    @app.get("/crm/v3/objects/{object_type}")
    async def list_objects(request: Request, object_type: str) -> JSONResponse:
        kind, stored = _readable_type(object_type)
        query = request.query_params
        limit = _int_param(query.get("limit"), 10, "limit")
        if limit > PAGE_LIMIT_MAX:
            raise validation_error(
                f"limit {limit} is larger than max allowed limit {PAGE_LIMIT_MAX}"
            )
        if not stored:
            return JSONResponse({"results": []})
        after = _int_param(query.get("after"), 0, "after")
        archived = query.get("archived", "false").lower() == "true"
        properties = _split_csv(query.getlist("properties")) or None
        associations = [_object_type(a) for a in _split_csv(query.getlist("associations"))]
        rows = store.page_objects(kind, after=after, limit=limit + 1, archived=archived)
        body: dict[str, Any] = {
            "results": [
                state.records.to_json(r, properties, associations=associations)
                for r in rows[:limit]
            ]
        }
        if len(rows) > limit:
            next_after = str(rows[limit - 1].id + 1)
            body["paging"] = {
                "next": {
                    "after": next_after,
                    "link": f"{request.base_url}crm/v3/objects/{object_type}?after={next_after}",
                }
            }
        return JSONResponse(body)

    @app.post("/crm/v3/objects/{object_type}")
    async def create_object(request: Request, object_type: str) -> JSONResponse:
        kind = _object_type(object_type)
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise validation_error("Invalid input JSON: expected an object with `properties`.")
        values = state.records.clean_properties(kind, body.get("properties"))
        conflicts = state.records.unique_conflicts(kind, [values])
        if conflicts:
            conflict = conflicts[0]
            raise HubSpotApiError(409, "CONFLICT", conflict.message)
        association_rows = _association_inputs(kind, body.get("associations"), pending_id=True)
        created, changes = state.records.create(kind, [values])
        _apply_associations(kind, created[0].id, association_rows)
        state.webhooks.events_for(changes)
        return JSONResponse(
            state.records.to_json(created[0], list(values) or None), status_code=201
        )

    def _association_inputs(
        kind: str, raw: Any, *, pending_id: bool
    ) -> list[tuple[str, int, list[dict[str, Any]]]]:
        if not raw:
            return []
        if not isinstance(raw, list):
            raise validation_error("associations must be an array")
        parsed = []
        for item in raw:
            to = (item or {}).get("to") or {}
            types = (item or {}).get("types") or []
            # v3 create inputs name the target only by id; the type id decides the object type.
            to_type = _target_type_for(kind, types)
            to_id = state.records.require_existing(to_type, to.get("id"))
            parsed.append((to_type, to_id, types))
        return parsed

    def _target_type_for(kind: str, types: list[dict[str, Any]]) -> str:
        for spec in types:
            for from_type, to_type in DEFAULT_ASSOCIATION:
                if from_type == kind and spec.get("associationTypeId") in association_types(
                    from_type, to_type
                ):
                    return to_type
        raise validation_error(
            "association types do not name a known object pair",
            sub_category="INVALID_ASSOCIATION_TYPE",
        )

    def _apply_associations(
        kind: str, object_id: int, parsed: list[tuple[str, int, list[dict[str, Any]]]]
    ) -> None:
        for to_type, to_id, types in parsed:
            store.associate(state.records.association_rows(kind, object_id, to_type, to_id, types))

    @app.get("/crm/v3/objects/{object_type}/{object_id}")
    async def get_object(request: Request, object_type: str, object_id: str) -> JSONResponse:
        kind, stored = _readable_type(object_type)
        if not stored:
            raise not_found("resource not found", context={"id": [object_id]})
        query = request.query_params
        archived = query.get("archived", "false").lower() == "true"
        record = state.records.get_one(kind, object_id, query.get("idProperty"), archived)
        properties = _split_csv(query.getlist("properties")) or None
        associations = [_object_type(a) for a in _split_csv(query.getlist("associations"))]
        return JSONResponse(state.records.to_json(record, properties, associations=associations))

    @app.patch("/crm/v3/objects/{object_type}/{object_id}")
    async def update_object(request: Request, object_type: str, object_id: str) -> JSONResponse:
        kind = _object_type(object_type)
        record = state.records.get_one(kind, object_id, request.query_params.get("idProperty"))
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise validation_error("Invalid input JSON: expected an object with `properties`.")
        values = state.records.clean_properties(
            kind, body.get("properties"), existing=record.properties
        )
        conflicts = state.records.unique_conflicts(kind, [values], ignore_ids=[record.id])
        if conflicts:
            raise HubSpotApiError(409, "CONFLICT", conflicts[0].message)
        change = state.records.update(record, values)
        store.save_objects([record])
        state.webhooks.events_for([change])
        return JSONResponse(state.records.to_json(record, list(values) or None))

    @app.delete("/crm/v3/objects/{object_type}/{object_id}")
    async def archive_object(object_type: str, object_id: str) -> Response:
        kind = _object_type(object_type)
        found = state.records.resolve_ids(kind, [object_id], None)
        records = store.get_objects(kind, list(found.values()))
        # HubSpot answers 204 even for an id that does not exist.
        _archive(kind, list(records.values()))
        return Response(status_code=204)

    def _archive(kind: str, records: list[StoredObject]) -> None:
        stamp = now_ms()
        changes = []
        for record in records:
            record.archived = True
            record.updated_at = max(stamp, record.updated_at)
            changes.append(RecordChange(kind, record.id, archived=True))
        store.save_objects(records)
        state.webhooks.events_for(changes)

    # -- batch -----------------------------------------------------------------------------
    @app.post("/crm/v3/objects/{object_type}/batch/{action}")
    async def batch(request: Request, object_type: str, action: str) -> Response:
        kind, stored = (
            _readable_type(object_type) if action == "read" else (_object_type(object_type), True)
        )
        started = _now_iso()
        body = await _json_body(request)
        inputs = _inputs(body)
        if not stored:
            missing = list(dict.fromkeys(str((i or {}).get("id")) for i in inputs))
            name = UNSTORED_OBJECT_TYPES[kind].singular.upper()
            errors = (
                [
                    {
                        "status": "error",
                        "category": "OBJECT_NOT_FOUND",
                        "message": f"Could not get some {name} objects, they may be deleted or not "
                        "exist. Check that ids are valid.",
                        "context": {"ids": missing},
                        "errors": [],
                    }
                ]
                if missing
                else []
            )
            return _batch_response([], errors, started)
        if action == "read":
            return _batch_read(kind, body, inputs, started)
        if action == "create":
            return _batch_create(kind, inputs, started)
        if action == "update":
            return _batch_update(kind, body, inputs, started)
        if action == "upsert":
            return _batch_upsert(kind, inputs, started)
        if action == "archive":
            ids = [str((i or {}).get("id")) for i in inputs]
            found = state.records.resolve_ids(kind, ids, None)
            _archive(kind, list(store.get_objects(kind, list(found.values())).values()))
            return Response(status_code=204)
        raise not_found(f"Unknown batch action {action!r}")

    def _batch_read(kind: str, body: dict[str, Any], inputs: list[Any], started: str) -> Response:
        id_property = body.get("idProperty")
        raw_ids = [str((i or {}).get("id")) for i in inputs]
        resolved = state.records.resolve_ids(kind, raw_ids, id_property)
        records = store.get_objects(
            kind, set(resolved.values()), archived=bool(body.get("archived", False))
        )
        properties = body.get("properties") or None
        results = []
        missing = []
        for raw in dict.fromkeys(raw_ids):
            record_id = resolved.get(raw)
            if record_id is None or record_id not in records:
                missing.append(raw)
                continue
            results.append(state.records.to_json(records[record_id], properties))
        errors = [state.records.missing_error(kind, missing)] if missing else []
        return _batch_response(results, errors, started)

    def _batch_create(kind: str, inputs: list[Any], started: str) -> Response:
        cleaned = [
            state.records.clean_properties(kind, (i or {}).get("properties")) for i in inputs
        ]
        associations = [
            _association_inputs(kind, (i or {}).get("associations"), pending_id=True)
            for i in inputs
        ]
        conflicts = state.records.unique_conflicts(kind, cleaned)
        keep = [index for index in range(len(cleaned)) if index not in conflicts]
        created, changes = state.records.create(kind, [cleaned[i] for i in keep])
        for index, record in zip(keep, created, strict=True):
            _apply_associations(kind, record.id, associations[index])
        state.webhooks.events_for(changes)
        results = [
            _traced(state.records.to_json(r, list(cleaned[i]) or None), inputs[i])
            for i, r in zip(keep, created, strict=True)
        ]
        errors = []
        for index, conflict in conflicts.items():
            trace = (inputs[index] or {}).get("objectWriteTraceId")
            if trace is not None:
                conflict.context["objectWriteTraceId"] = [str(trace)]
            errors.append(_input_error(conflict))
        return _batch_response(results, errors, started, created=True)

    def _batch_update(kind: str, body: dict[str, Any], inputs: list[Any], started: str) -> Response:
        id_property = (
            body.get("idProperty") or (inputs[0] or {}).get("idProperty") if inputs else None
        )
        raw_ids = [str((i or {}).get("id")) for i in inputs]
        resolved = state.records.resolve_ids(kind, raw_ids, id_property)
        records = store.get_objects(kind, set(resolved.values()))
        cleaned: list[tuple[StoredObject, dict[str, Any], Any]] = []
        missing: list[str] = []
        for raw, item in zip(raw_ids, inputs, strict=True):
            record = records.get(resolved.get(raw, -1))
            if record is None:
                missing.append(raw)
                continue
            values = state.records.clean_properties(
                kind, (item or {}).get("properties"), existing=record.properties
            )
            cleaned.append((record, values, item))
        stamp = now_ms()
        changes = [
            state.records.update(record, values, stamp=stamp) for record, values, _ in cleaned
        ]
        store.save_objects([record for record, _, _ in cleaned])
        state.webhooks.events_for(changes)
        results = [
            _traced(state.records.to_json(record, list(values) or None), item)
            for record, values, item in cleaned
        ]
        errors = [state.records.missing_error(kind, missing)] if missing else []
        return _batch_response(results, errors, started)

    def _batch_upsert(kind: str, inputs: list[Any], started: str) -> Response:
        by_property: dict[str, list[str]] = {}
        for item in inputs:
            if not isinstance(item, dict) or "id" not in item:
                raise validation_error(
                    "Each upsert input needs an `id` (and `idProperty` unless it is the record id)."
                )
            by_property.setdefault(item.get("idProperty") or "hs_object_id", []).append(
                str(item["id"])
            )
        resolved: dict[tuple[str, str], int] = {}
        for id_property, raw_ids in by_property.items():
            for raw, record_id in state.records.resolve_ids(kind, raw_ids, id_property).items():
                resolved[(id_property, raw)] = record_id
        records = store.get_objects(kind, set(resolved.values()))
        to_create: list[dict[str, Any]] = []
        created_inputs: list[dict[str, Any]] = []
        updated: list[tuple[StoredObject, dict[str, Any], dict[str, Any]]] = []
        for item in inputs:
            id_property = item.get("idProperty") or "hs_object_id"
            record = records.get(resolved.get((id_property, str(item["id"])), -1))
            if record is not None:
                values = state.records.clean_properties(
                    kind, item.get("properties"), existing=record.properties
                )
                updated.append((record, values, item))
                continue
            if id_property == "hs_object_id":
                raise not_found(
                    f"No {kind} with id {item['id']} exists to update.",
                    context={"ids": [str(item["id"])]},
                )
            values = state.records.clean_properties(kind, item.get("properties"))
            values[id_property] = str(item["id"])
            to_create.append(values)
            created_inputs.append(item)
        stamp = now_ms()
        changes = [
            state.records.update(record, values, stamp=stamp) for record, values, _ in updated
        ]
        store.save_objects([record for record, _, _ in updated])
        created, created_changes = (
            state.records.create(kind, to_create, stamp=stamp) if to_create else ([], [])
        )
        state.webhooks.events_for(changes + created_changes)

        def upserted(record: StoredObject, values: dict[str, Any], item: dict[str, Any], new: bool):
            names = [*values, item.get("idProperty") or "hs_object_id"]
            return {**_traced(state.records.to_json(record, names), item), "new": new}

        results = [upserted(r, v, i, False) for r, v, i in updated] + [
            upserted(r, v, i, True)
            for r, v, i in zip(created, to_create, created_inputs, strict=True)
        ]
        return _batch_response(results, [], started)

    # -- search ----------------------------------------------------------------------------
    @app.post("/crm/v3/objects/{object_type}/search")
    async def search(request: Request, object_type: str) -> JSONResponse:
        kind, stored = _readable_type(object_type)
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise validation_error("Invalid input JSON: expected a search request object.")
        if not stored:
            return JSONResponse({"total": 0, "results": []})
        visible_before = (
            now_ms() - settings.search_index_delay_ms if settings.search_index_delay_ms else None
        )
        return JSONResponse(
            state.records.search(
                kind, body, result_cap=settings.search_result_cap, visible_before_ms=visible_before
            )
        )

    # -- properties ------------------------------------------------------------------------
    def _property_json(definition: PropertyDefinition) -> dict[str, Any]:
        return {
            "name": definition.name,
            "label": definition.label,
            "type": definition.type,
            "fieldType": definition.field_type,
            "groupName": definition.group_name,
            "description": "",
            "options": list(definition.options),
            "displayOrder": -1,
            "calculated": False,
            "externalOptions": False,
            "hasUniqueValue": definition.unique,
            "hidden": False,
            "hubspotDefined": definition.hubspot_defined,
            "modificationMetadata": {
                "archivable": not definition.hubspot_defined,
                "readOnlyDefinition": definition.hubspot_defined,
                "readOnlyValue": definition.read_only,
            },
            "formField": False,
            "createdAt": "2024-01-01T00:00:00.000Z",
            "updatedAt": "2024-01-01T00:00:00.000Z",
            "archived": False,
        }

    @app.get("/crm/v3/properties/{object_type}")
    async def list_properties(object_type: str) -> JSONResponse:
        kind, stored = _readable_type(object_type)
        if not stored:
            return JSONResponse({"results": [_property_json(d) for d in unstored_properties()]})
        return JSONResponse(
            {"results": [_property_json(d) for d in state.records.definitions(kind).values()]}
        )

    @app.get("/crm/v3/properties/{object_type}/{name}")
    async def get_property(object_type: str, name: str) -> JSONResponse:
        kind = _object_type(object_type)
        definition = state.records.definitions(kind).get(name)
        if definition is None:
            raise not_found(
                f"Unable to find property {name} for object type {OBJECT_TYPE_IDS[kind]}"
            )
        return JSONResponse(_property_json(definition))

    @app.post("/crm/v3/properties/{object_type}")
    async def create_property(request: Request, object_type: str) -> JSONResponse:
        kind = _object_type(object_type)
        body = await _json_body(request)
        if not isinstance(body, dict):
            raise validation_error("Invalid input JSON: expected a property definition object.")
        missing = [
            k for k in ("name", "label", "type", "fieldType", "groupName") if not body.get(k)
        ]
        if missing:
            raise validation_error(
                f"Property definition is missing {missing}", context={"missing": missing}
            )
        name = str(body["name"])
        if not name.replace("_", "").isalnum() or name != name.lower() or name[0].isdigit():
            raise validation_error(
                f"Property name {name!r} must be lower-case letters, digits and underscores."
            )
        if body["type"] not in ("string", "number", "date", "datetime", "enumeration", "bool"):
            raise validation_error(f"Unknown property type {body['type']!r}")
        if name in state.records.definitions(kind):
            raise HubSpotApiError(
                409,
                "OBJECT_ALREADY_EXISTS",
                f"A property named '{name}' already exists.",
                context={"name": [name]},
            )
        if body["groupName"] not in (GROUP_NAME[kind],):
            raise validation_error(
                f"Property group {body['groupName']!r} does not exist for {kind}."
            )
        definition = PropertyDefinition(
            name=name,
            label=str(body["label"]),
            type=str(body["type"]),
            field_type=str(body["fieldType"]),
            group_name=str(body["groupName"]),
            unique=bool(body.get("hasUniqueValue", False)),
            hubspot_defined=False,
            options=tuple(body.get("options") or ()),
        )
        store.add_property(kind, definition)
        state.records.forget_definitions()
        return JSONResponse(_property_json(definition), status_code=201)

    # -- pipelines -------------------------------------------------------------------------
    @app.get("/crm/v3/pipelines/{object_type}")
    async def list_pipelines(object_type: str) -> JSONResponse:
        kind = _object_type(object_type)
        return JSONResponse({"results": store.pipelines(kind)})

    def _pipeline(kind: str, pipeline_id: str) -> dict[str, Any]:
        for pipeline in store.pipelines(kind):
            if pipeline["id"] == pipeline_id:
                return pipeline
        raise not_found(f"Unable to find pipeline {pipeline_id}")

    @app.get("/crm/v3/pipelines/{object_type}/{pipeline_id}")
    async def get_pipeline(object_type: str, pipeline_id: str) -> JSONResponse:
        return JSONResponse(_pipeline(_object_type(object_type), pipeline_id))

    @app.get("/crm/v3/pipelines/{object_type}/{pipeline_id}/stages")
    async def get_stages(object_type: str, pipeline_id: str) -> JSONResponse:
        return JSONResponse(
            {"results": _pipeline(_object_type(object_type), pipeline_id)["stages"]}
        )

    @app.post("/crm/v3/pipelines/{object_type}")
    async def create_pipeline(request: Request, object_type: str) -> JSONResponse:
        from handoff_sandbox.hubspot.seed import build_pipeline

        kind = _object_type(object_type)
        body = await _json_body(request)
        if not isinstance(body, dict) or not body.get("label") or not body.get("stages"):
            raise validation_error("A pipeline needs a label and at least one stage.")
        for stage in body["stages"]:
            probability = str((stage.get("metadata") or {}).get("probability", ""))
            try:
                valid = 0.0 <= float(probability) <= 1.0
            except ValueError:
                valid = False
            if kind == "deals" and not valid:
                raise validation_error(
                    f"Stage {stage.get('label')!r} needs metadata.probability between 0.0 and 1.0."
                )
        pipeline = build_pipeline(
            str(secrets.randbelow(10**8) + 10**8),
            str(body["label"]),
            int(body.get("displayOrder", 1)),
            [
                (
                    str(secrets.randbelow(10**8) + 10**8),
                    str(s["label"]),
                    dict(s.get("metadata") or {}),
                )
                for s in body["stages"]
            ],
        )
        store.save_pipeline(kind, pipeline)
        return JSONResponse(pipeline, status_code=201)

    # -- associations v4 -------------------------------------------------------------------
    @app.put("/crm/v4/objects/{from_type}/{from_id}/associations/default/{to_type}/{to_id}")
    async def associate_default(
        from_type: str, from_id: str, to_type: str, to_id: str
    ) -> JSONResponse:
        started = _now_iso()
        source, target = _object_type(from_type), _object_type(to_type)
        results = _associate_default(source, from_id, target, to_id)
        return _batch_response(results, [], started)

    def _associate_default(
        source: str, from_id: Any, target: str, to_id: Any
    ) -> list[dict[str, Any]]:
        default = DEFAULT_ASSOCIATION.get((source, target))
        if default is None:
            raise validation_error(
                f"{source} cannot be associated with {target}",
                sub_category="INVALID_ASSOCIATION_TYPE",
            )
        left = state.records.require_existing(source, from_id)
        right = state.records.require_existing(target, to_id)
        spec = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": default.type_id}
        store.associate(state.records.association_rows(source, left, target, right, [spec]))
        state.webhooks.association_events(source, left, target, right, default.type_id, False)
        return [
            {"from": {"id": str(left)}, "to": {"id": str(right)}, "associationSpec": spec},
            {
                "from": {"id": str(right)},
                "to": {"id": str(left)},
                "associationSpec": {
                    "associationCategory": "HUBSPOT_DEFINED",
                    "associationTypeId": default.inverse_type_id,
                },
            },
        ]

    @app.put("/crm/v4/objects/{from_type}/{from_id}/associations/{to_type}/{to_id}")
    async def associate_labelled(
        request: Request, from_type: str, from_id: str, to_type: str, to_id: str
    ) -> JSONResponse:
        source, target = _object_type(from_type), _object_type(to_type)
        specs = await _json_body(request)
        if not isinstance(specs, list) or not specs:
            raise validation_error(
                "Body must be a non-empty array of {associationCategory, associationTypeId}."
            )
        left = state.records.require_existing(source, from_id)
        right = state.records.require_existing(target, to_id)
        rows = state.records.association_rows(source, left, target, right, specs)
        store.associate(rows)
        for spec in specs:
            state.webhooks.association_events(
                source, left, target, right, spec["associationTypeId"], False
            )
        return JSONResponse(_labels_pair(source, left, target, right), status_code=201)

    def _labels_pair(source: str, left: int, target: str, right: int) -> dict[str, Any]:
        types = store.associations_of(source, left, target).get(right, [])
        known = association_types(source, target)
        return {
            "fromObjectTypeId": OBJECT_TYPE_IDS[source],
            "fromObjectId": left,
            "toObjectTypeId": OBJECT_TYPE_IDS[target],
            "toObjectId": right,
            "labels": [known[t].label for t, _ in types if t in known and known[t].label],
        }

    @app.delete("/crm/v4/objects/{from_type}/{from_id}/associations/{to_type}/{to_id}")
    async def dissociate(from_type: str, from_id: str, to_type: str, to_id: str) -> Response:
        source, target = _object_type(from_type), _object_type(to_type)
        if from_id.isdigit() and to_id.isdigit():
            store.dissociate(source, int(from_id), target, int(to_id))
        return Response(status_code=204)

    @app.get("/crm/v4/objects/{from_type}/{from_id}/associations/{to_type}")
    async def list_associations(
        request: Request, from_type: str, from_id: str, to_type: str
    ) -> JSONResponse:
        source, target = _object_type(from_type), _readable_type(to_type)[0]
        left = state.records.require_existing(source, from_id)
        if resolve_unstored_type(target) is not None:
            return JSONResponse({"results": []})
        limit = _int_param(request.query_params.get("limit"), 500, "limit")
        after = _int_param(request.query_params.get("after"), 0, "after")
        results = state.records.association_results(source, left, target)
        page = results[after : after + limit]
        body: dict[str, Any] = {"results": page}
        if after + limit < len(results):
            body["paging"] = {"next": {"after": str(after + limit)}}
        return JSONResponse(body)

    @app.post("/crm/v4/associations/{from_type}/{to_type}/batch/{action}")
    async def batch_associations(
        request: Request, from_type: str, to_type: str, action: str
    ) -> Response:
        started = _now_iso()
        source = _object_type(from_type)
        target, target_stored = (
            _readable_type(to_type) if action == "read" else (_object_type(to_type), True)
        )
        body = await _json_body(request)
        inputs = _inputs(body)
        if action == "read":
            results, missing = [], []
            for item in inputs:
                raw = str((item or {}).get("id"))
                if not raw.isdigit() or not store.get_objects(source, [int(raw)]):
                    missing.append(raw)
                    continue
                to = (
                    state.records.association_results(source, int(raw), target)
                    if target_stored
                    else []
                )
                results.append({"from": {"id": raw}, "to": to})
            errors = [
                {
                    "status": "error",
                    "category": "OBJECT_NOT_FOUND",
                    "subCategory": "crm.associations.NO_ASSOCIATIONS_FOUND",
                    "message": f"No {source} with id {raw} exists",
                    "context": {"fromObjectId": [raw]},
                    "errors": [],
                }
                for raw in missing
            ]
            return _batch_response(results, errors, started)
        if action == "create":
            results = []
            for item in inputs:
                left = state.records.require_existing(
                    source, ((item or {}).get("from") or {}).get("id")
                )
                right = state.records.require_existing(
                    target, ((item or {}).get("to") or {}).get("id")
                )
                types = (item or {}).get("types") or []
                store.associate(state.records.association_rows(source, left, target, right, types))
                results.append(_labels_pair(source, left, target, right))
            return _batch_response(results, [], started, created=True)
        if action == "archive":
            for item in inputs:
                from_raw = str(((item or {}).get("from") or {}).get("id"))
                for to in (item or {}).get("to") or []:
                    to_raw = str((to or {}).get("id"))
                    if from_raw.isdigit() and to_raw.isdigit():
                        store.dissociate(source, int(from_raw), target, int(to_raw))
            return Response(status_code=204)
        raise not_found(f"Unknown association batch action {action!r}")

    @app.post("/crm/v4/associations/{from_type}/{to_type}/batch/associate/default")
    async def batch_associate_default(request: Request, from_type: str, to_type: str) -> Response:
        started = _now_iso()
        source, target = _object_type(from_type), _object_type(to_type)
        inputs = _inputs(await _json_body(request))
        results = []
        for item in inputs:
            results.extend(
                _associate_default(
                    source,
                    ((item or {}).get("from") or {}).get("id"),
                    target,
                    ((item or {}).get("to") or {}).get("id"),
                )[:1]
            )
        return _batch_response(results, [], started)

    # -- owners, users, custom object schemas ----------------------------------------------
    @app.get("/crm/v3/owners")
    @app.get("/crm/v3/owners/")
    async def list_owners(request: Request) -> JSONResponse:
        query = request.query_params
        limit = _int_param(query.get("limit"), 100, "limit")
        if limit > 500:
            raise validation_error(f"limit {limit} is larger than max allowed limit 500")
        archived = query.get("archived", "false").lower() == "true"
        email = query.get("email")
        people = (
            []
            if archived
            else [p for p in state.people if email is None or p.email.lower() == email.lower()]
        )
        return JSONResponse(
            page(
                [p.owner_json() for p in people],
                after=query.get("after"),
                limit=limit,
                link=f"{request.base_url}crm/v3/owners/",
            )
        )

    @app.get("/crm/v3/owners/{owner_id}")
    async def get_owner(request: Request, owner_id: str) -> JSONResponse:
        by_user = request.query_params.get("idProperty", "id") == "userId"
        archived = request.query_params.get("archived", "false").lower() == "true"
        for person in [] if archived else state.people:
            if (str(person.user_id) if by_user else person.owner_id) == owner_id:
                return JSONResponse(person.owner_json())
        raise not_found(f"No owner with id {owner_id} exists", context={"id": [owner_id]})

    @app.get("/settings/v3/users")
    @app.get("/settings/v3/users/")
    async def list_users(request: Request) -> JSONResponse:
        query = request.query_params
        limit = _int_param(query.get("limit"), 100, "limit")
        if limit > 100:
            raise validation_error(f"limit {limit} is larger than max allowed limit 100")
        return JSONResponse(
            page(
                [p.user_json() for p in state.people],
                after=query.get("after"),
                limit=limit,
                link=f"{request.base_url}settings/v3/users/",
            )
        )

    @app.get("/settings/v3/users/{user_id}")
    async def get_user(request: Request, user_id: str) -> JSONResponse:
        by_email = request.query_params.get("idProperty", "USER_ID").upper() == "EMAIL"
        for person in state.people:
            if (person.email.lower() if by_email else str(person.user_id)) == user_id.lower():
                return JSONResponse(person.user_json())
        raise not_found(f"No user with id {user_id} exists", context={"id": [user_id]})

    @app.get("/crm/v3/schemas")
    @app.get("/crm/v3/schemas/")
    @app.get("/crm-object-schemas/v3/schemas")  # the path hubspot-api-client uses
    async def list_schemas() -> JSONResponse:
        # The sandbox account defines no custom objects.
        return JSONResponse({"results": []})

    # -- control ---------------------------------------------------------------------------
    @app.get("/_sandbox/settings")
    async def read_settings() -> JSONResponse:
        return JSONResponse(settings.model_dump(exclude={"webhook_secret", "oauth_client_secret"}))

    @app.post("/_sandbox/settings")
    async def patch_settings(request: Request) -> JSONResponse:
        patch = SettingsPatch.model_validate(await _json_body(request))
        for name, value in patch.model_dump(
            exclude_unset=True, exclude={"clear_retry_after", "clear_token_scopes"}
        ).items():
            if value is not None:
                setattr(settings, name, value)
        if patch.clear_retry_after:
            settings.retry_after_seconds = None
        if patch.clear_token_scopes:
            settings.token_scopes = None
        return JSONResponse(settings.model_dump(exclude={"webhook_secret", "oauth_client_secret"}))

    @app.post("/_sandbox/faults")
    async def add_fault(request: Request) -> JSONResponse:
        body = await _json_body(request)
        fault = Fault(
            method=str(body.get("method", "POST")).upper(),
            path=str(body["path"]),
            status=int(body.get("status", 503)),
            remaining=int(body.get("times", 1)),
        )
        state.faults.append(fault)
        return JSONResponse({"faults": len(state.faults)})

    @app.delete("/_sandbox/faults")
    async def clear_faults() -> JSONResponse:
        state.faults.clear()
        return JSONResponse({"faults": 0})

    @app.post("/_sandbox/limits/reset")
    async def reset_limits() -> JSONResponse:
        state.budgets.clear()
        return JSONResponse({"reset": True})

    @app.get("/_sandbox/stats")
    async def stats() -> JSONResponse:
        return JSONResponse(
            {
                "calls": dict(state.calls),
                "total_calls": sum(state.calls.values()),
                "rejections": dict(state.rejections),
                "pending_webhook_events": store.pending_event_count(),
            }
        )

    @app.post("/_sandbox/stats/reset")
    async def reset_stats() -> JSONResponse:
        state.calls.clear()
        state.rejections.clear()
        return JSONResponse({"reset": True})

    @app.post("/_sandbox/oauth/refresh-token")
    async def mint_refresh_token() -> JSONResponse:
        refresh = secrets.token_urlsafe(24)
        state.refresh_tokens[refresh] = settings.oauth_client_id
        return JSONResponse(
            {
                "refresh_token": refresh,
                "client_id": settings.oauth_client_id,
                "client_secret": settings.oauth_client_secret,
            }
        )

    @app.post("/_sandbox/oauth/expire-all")
    async def expire_tokens() -> JSONResponse:
        for token in state.access_tokens:
            state.access_tokens[token] = time.time() - 1
        return JSONResponse({"expired": len(state.access_tokens)})

    @app.post("/_sandbox/webhooks/flush")
    async def flush_webhooks() -> JSONResponse:
        delivered = await state.webhooks.deliver_due()
        return JSONResponse({"delivered": delivered, "pending": store.pending_event_count()})

    @app.get("/_sandbox/webhooks/deliveries")
    async def deliveries() -> JSONResponse:
        return JSONResponse({"deliveries": list(state.webhooks.deliveries)})

    @app.post("/_sandbox/bulk/{object_type}")
    async def bulk_load(request: Request, object_type: str) -> JSONResponse:
        """Insert many records at once (benchmarks), spreading last-modified times over a range."""
        kind = _object_type(object_type)
        body = await _json_body(request)
        count = int(body.get("count", 0))
        start_ms = int(body.get("modified_from_ms", now_ms() - 86_400_000))
        end_ms = int(body.get("modified_to_ms", now_ms() - 60_000))
        template = dict(body.get("properties") or {})
        from handoff_sandbox.hubspot.seed import bulk_records

        inserted = bulk_records(state.records, kind, count, start_ms, end_ms, template)
        return JSONResponse({"inserted": inserted})

    @app.post("/_sandbox/touch/{object_type}")
    async def touch(request: Request, object_type: str) -> JSONResponse:
        """Mark records modified at a given instant without webhooks (tests of sync windows)."""
        kind = _object_type(object_type)
        body = await _json_body(request)
        moment = int(body["modified_ms"])
        ids = [int(i) for i in body["ids"]]
        records = store.get_objects(kind, ids)
        for record in records.values():
            record.updated_at = moment
            record.properties[
                "hs_lastmodifieddate" if kind != "contacts" else "lastmodifieddate"
            ] = iso_ms(moment)
        store.save_objects(list(records.values()))
        return JSONResponse({"touched": len(records)})

    @app.get("/_sandbox/health")
    async def health() -> JSONResponse:
        return JSONResponse({"status": "ok", "time": datetime.now(UTC).isoformat()})

    return app


def _int_param(raw: str | None, default: int, name: str) -> int:
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise validation_error(f"{name} must be a non-negative integer, got {raw!r}")
    return int(raw)


def _call_label(path: str) -> str:
    """Path with ids replaced, so call counts group by endpoint."""
    parts = ["{id}" if part.isdigit() else part for part in path.split("/")]
    return "/".join(parts)
