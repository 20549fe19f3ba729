"""Bulk API 2.0 query jobs over the sandbox's SOQL engine.

``POST /jobs/query`` creates a job (state ``UploadComplete``); ``GET /jobs/query/{id}`` reports
its state, which moves to ``InProgress`` on the first look and to ``JobComplete`` on the next
(or once ``complete_after_seconds`` have passed), so clients exercise their polling;
``GET /jobs/query/{id}/results`` answers CSV pages with ``Sforce-Locator`` (base64 of the next
offset, ``null`` on the last page) and ``Sforce-NumberOfRecords``; ``GET /jobs/query`` lists jobs;
``PATCH`` with ``{"state": "Aborted"}`` aborts; ``DELETE`` removes a finished job.

The query runs when the job is created (a snapshot); the result keeps the selected field paths as
CSV headers (``Account.Name``), every value quoted, nulls as empty values, datetimes in the
``2024-01-15T10:20:30.000Z`` form Bulk API uses.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from fastapi.responses import JSONResponse, Response

from handoff_sandbox.salesforce import soql
from handoff_sandbox.salesforce.errors import SalesforceApiError, not_found
from handoff_sandbox.salesforce.store import OrgStore, format_datetime

COLUMN_DELIMITERS = {
    "BACKQUOTE": "`",
    "CARET": "^",
    "COMMA": ",",
    "PIPE": "|",
    "SEMICOLON": ";",
    "TAB": "\t",
}
LINE_ENDINGS = {"LF": "\n", "CRLF": "\r\n"}
JOBS_PER_PAGE = 1000
FINISHED_STATES = ("JobComplete", "Aborted", "Failed")


@dataclass
class QueryJob:
    id: str
    operation: str
    sobject: str
    query: str
    api_version: str
    created: str
    created_at: float
    column_delimiter: str
    line_ending: str
    headers: list[str]
    rows: list[list[str]]
    state: str = "UploadComplete"
    modified: str = ""
    looks: int = 0
    processing_ms: int = 0
    created_by: str = ""

    def info(self, *, full: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "operation": self.operation,
            "object": self.sobject,
            "createdById": self.created_by,
            "createdDate": self.created,
            "systemModstamp": self.modified or self.created,
            "state": self.state,
            "concurrencyMode": "Parallel",
            "contentType": "CSV",
            "apiVersion": float(self.api_version),
        }
        if full:
            body["jobType"] = "V2Query"
        body["lineEnding"] = self.line_ending
        body["columnDelimiter"] = self.column_delimiter
        if full:
            done = self.state == "JobComplete"
            body["numberRecordsProcessed"] = len(self.rows) if done else 0
            body["retries"] = 0
            body["totalProcessingTime"] = self.processing_ms if done else 0
            body["isPkChunkingSupported"] = True
        return body


def _invalid_job(message: str) -> SalesforceApiError:
    return SalesforceApiError(400, "INVALIDJOB", message)


def _invalid_state(message: str) -> SalesforceApiError:
    return SalesforceApiError(400, "INVALIDJOBSTATE", message)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and len(value) == 28 and value.endswith("+0000") and value[10] == "T":
        return value[:-5] + "Z"  # 2024-01-15T10:20:30.000+0000 -> ...000Z
    return str(value)


class QueryJobs:
    """Every Bulk API 2.0 query job of the org."""

    def __init__(self, store: OrgStore, user_id: str, complete_after_seconds: float) -> None:
        self.store = store
        self.user_id = user_id
        self.complete_after_seconds = complete_after_seconds
        self.jobs: dict[str, QueryJob] = {}
        self.lock = threading.Lock()

    def dispatch(
        self, method: str, parts: list[str], params: Any, payload: Any, version: str
    ) -> Response:
        if not parts:
            if method == "POST":
                return JSONResponse(self.create(payload, version))
            if method == "GET":
                return JSONResponse(self.list(params, version))
            raise not_found()
        job = self._job(parts[0])
        if len(parts) == 1:
            if method == "GET":
                return JSONResponse(self._advance(job).info(full=True))
            if method == "PATCH":
                return JSONResponse(self.set_state(job, payload).info(full=False))
            if method == "DELETE":
                self.delete(job)
                return Response(status_code=204)
            raise not_found()
        if parts[1:] == ["results"] and method == "GET":
            return self.results(self._advance(job, look=False), params)
        raise not_found()

    def _job(self, job_id: str) -> QueryJob:
        job = self.jobs.get(job_id)
        if job is None:
            raise not_found()
        return job

    def create(self, payload: Any, version: str) -> dict[str, Any]:
        if not isinstance(payload, dict):
            raise SalesforceApiError(
                400, "JSON_PARSER_ERROR", "The request body must be a JSON object"
            )
        operation = payload.get("operation")
        if operation not in ("query", "queryAll"):
            raise _invalid_job(
                f"InvalidJob : Invalid operation: {operation}. Query jobs take query or queryAll"
            )
        text = payload.get("query")
        if not isinstance(text, str) or not text.strip():
            raise _invalid_job("InvalidJob : query is required")
        content_type = str(payload.get("contentType", "CSV"))
        if content_type != "CSV":
            raise _invalid_job(f"InvalidJob : Unsupported content type: {content_type}")
        delimiter = str(payload.get("columnDelimiter", "COMMA"))
        line_ending = str(payload.get("lineEnding", "LF"))
        if delimiter not in COLUMN_DELIMITERS:
            raise _invalid_job(f"InvalidJob : Invalid column delimiter: {delimiter}")
        if line_ending not in LINE_ENDINGS:
            raise _invalid_job(f"InvalidJob : Invalid line ending: {line_ending}")
        plan = soql.parse(text, self.store)
        if plan.count_only:
            raise _invalid_job(
                "InvalidJob : Aggregate queries such as COUNT() are not supported by Bulk API 2.0"
            )
        if plan.offset:
            raise _invalid_job("InvalidJob : The OFFSET clause is not supported by Bulk API 2.0")
        if plan.children:
            raise _invalid_job(
                "InvalidJob : Nested (parent-to-child) queries are not supported by Bulk API 2.0"
            )
        started = time.perf_counter()
        records = soql.execute(plan, self.store, include_deleted=operation == "queryAll")
        rows = [[_cell(ref.getter(record)) for ref in plan.fields] for record in records]
        now = format_datetime(datetime.now(UTC))
        job = QueryJob(
            id="750" + "8d" + secrets.token_hex(5).upper() + "AAA",
            operation=operation,
            sobject=plan.sobject.name,
            query=text,
            api_version=version,
            created=now,
            created_at=time.time(),
            column_delimiter=delimiter,
            line_ending=line_ending,
            headers=[".".join(ref.path) for ref in plan.fields],
            rows=rows,
            processing_ms=max(1, int((time.perf_counter() - started) * 1000)),
            created_by=self.user_id,
        )
        with self.lock:
            self.jobs[job.id] = job
        return job.info(full=False)

    def _advance(self, job: QueryJob, *, look: bool = True) -> QueryJob:
        """Move the job on: a look at its state counts, and so does time."""
        with self.lock:
            if job.state in ("UploadComplete", "InProgress"):
                job.looks += 1 if look else 0
                elapsed = time.time() - job.created_at
                if job.looks >= 2 or elapsed >= self.complete_after_seconds:
                    job.state = "JobComplete"
                elif job.looks:
                    job.state = "InProgress"
                job.modified = format_datetime(datetime.now(UTC))
        return job

    def set_state(self, job: QueryJob, payload: Any) -> QueryJob:
        state = payload.get("state") if isinstance(payload, dict) else None
        if state != "Aborted":
            raise _invalid_state(
                f"InvalidJobState : Query jobs can only be set to Aborted, not {state}"
            )
        with self.lock:
            if job.state in FINISHED_STATES:
                raise _invalid_state(
                    f"InvalidJobState : Aborting an already {job.state} job is not allowed"
                )
            job.state = "Aborted"
            job.modified = format_datetime(datetime.now(UTC))
        return job

    def delete(self, job: QueryJob) -> None:
        with self.lock:
            if job.state not in FINISHED_STATES:
                raise _invalid_state(
                    f"InvalidJobState : A job in state {job.state} cannot be deleted; abort it first"
                )
            self.jobs.pop(job.id, None)

    def list(self, params: Any, version: str) -> dict[str, Any]:
        job_type = params.get("jobType")
        with self.lock:
            jobs = sorted(self.jobs.values(), key=lambda j: (j.created, j.id))
        if job_type not in (None, "V2Query"):
            jobs = []
        start = _decode_locator(params.get("queryLocator"), "queryLocator")
        page = jobs[start : start + JOBS_PER_PAGE]
        end = start + len(page)
        body: dict[str, Any] = {"done": end >= len(jobs), "records": []}
        for job in page:
            info = job.info(full=False)
            info["jobType"] = "V2Query"
            body["records"].append(info)
        body["nextRecordsUrl"] = (
            None
            if body["done"]
            else f"/services/data/v{version}/jobs/query?queryLocator={_encode_locator(end)}"
        )
        return body

    def results(self, job: QueryJob, params: Any) -> Response:
        if job.state != "JobComplete":
            raise _invalid_state(
                f"InvalidJobState : Results are only available for a job in state JobComplete, "
                f"this one is {job.state}"
            )
        start = _decode_locator(params.get("locator"), "locator")
        raw_max = params.get("maxRecords")
        size = len(job.rows)
        if raw_max is not None:
            if not str(raw_max).isdigit() or int(raw_max) < 1:
                raise SalesforceApiError(
                    400, "INVALIDPARAMETER", f"maxRecords must be a positive integer, not {raw_max}"
                )
            size = int(raw_max)
        page = job.rows[start : start + size]
        end = start + len(page)
        buffer = io.StringIO()
        writer = csv.writer(
            buffer,
            delimiter=COLUMN_DELIMITERS[job.column_delimiter],
            lineterminator=LINE_ENDINGS[job.line_ending],
            quoting=csv.QUOTE_ALL,
        )
        writer.writerow(job.headers)
        writer.writerows(page)
        return Response(
            buffer.getvalue(),
            media_type="text/csv",
            headers={
                "Sforce-Locator": _encode_locator(end) if end < len(job.rows) else "null",
                "Sforce-NumberOfRecords": str(len(page)),
            },
        )


def _encode_locator(offset: int) -> str:
    return base64.b64encode(str(offset).encode()).decode().rstrip("=")


def _decode_locator(raw: str | None, name: str) -> int:
    if raw in (None, ""):
        return 0
    text = str(raw)
    try:
        decoded = base64.b64decode(text + "=" * (-len(text) % 4), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        decoded = ""
    if not decoded.isdigit():
        raise SalesforceApiError(400, "INVALIDLOCATOR", f"Invalid {name}: {text}")
    return int(decoded)
