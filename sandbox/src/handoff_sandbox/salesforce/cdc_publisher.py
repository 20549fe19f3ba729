"""Publishes the sandbox's committed changes as Change Data Capture events to a relay URL.

Real Salesforce delivers CDC over the gRPC Pub/Sub API; a relay (a small subscriber process)
forwards each decoded event over HTTPS. The sandbox plays both parts: the body it POSTs is a JSON
array of events shaped like a decoded Pub/Sub/CometD event::

    {"channel": "/data/OpportunityChangeEvent", "schema": "<schema id>",
     "event": {"replayId": 17},
     "payload": {"ChangeEventHeader": {entityName, recordIds, changeType, changedFields,
                 nulledFields, diffFields, commitTimestamp, commitNumber, commitUser,
                 transactionKey, sequenceNumber, changeOrigin}, ...changed fields...}}

signed with ``X-Handoff-Relay-Signature: sha256=<hex HMAC-SHA256(secret, body)>``.
Delivery runs on a background thread so writes never wait for the relay.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import queue
import threading
import time
from typing import Any

import httpx

from handoff_sandbox.salesforce.schema import CDC_ENTITIES
from handoff_sandbox.salesforce.store import Change
from handoff_sandbox.signing import CDC_RELAY_HEADER, hmac_sha256

MAX_EVENTS_PER_POST = 100


class CdcPublisher:
    def __init__(
        self,
        url: str,
        secret: str,
        *,
        api_version: str,
        commit_user: str,
        transport: httpx.BaseTransport | None = None,
        max_attempts: int = 5,
    ) -> None:
        self.url = url
        self.secret = secret
        self.api_version = api_version
        self.commit_user = commit_user
        self.max_attempts = max_attempts
        self.delivered = 0
        self.failed = 0
        self.sent_bodies: list[bytes] = []
        self._replay_ids = itertools.count(1)
        self._commit_numbers = itertools.count(10_000_000)
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._pending = 0
        self._idle = threading.Condition()
        self._client = httpx.Client(transport=transport, timeout=10.0)
        self._thread = threading.Thread(target=self._run, name="salesforce-cdc", daemon=True)
        self._thread.start()

    def publish(self, transaction_key: str, changes: list[Change]) -> None:
        commit_number = next(self._commit_numbers)
        sequence = 0
        for change in changes:
            if change.entity not in CDC_ENTITIES:
                continue
            sequence += 1
            header = {
                "entityName": change.entity,
                "recordIds": [change.record_id],
                "changeType": change.change_type,
                "changeOrigin": f"com/salesforce/api/rest/{self.api_version}",
                "transactionKey": transaction_key,
                "sequenceNumber": sequence,
                "commitTimestamp": int(change.commit_timestamp.timestamp() * 1000),
                "commitNumber": commit_number,
                "commitUser": self.commit_user,
                "changedFields": sorted(change.changed) if change.change_type == "UPDATE" else [],
                "nulledFields": list(change.nulled),
                "diffFields": [],
            }
            event = {
                "channel": f"/data/{change.entity}ChangeEvent",
                "schema": hashlib.sha1(change.entity.encode()).hexdigest()[:22],
                "event": {"replayId": next(self._replay_ids)},
                "payload": {"ChangeEventHeader": header, **change.changed},
            }
            with self._idle:
                self._pending += 1
            self._queue.put(event)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every published event was delivered or given up on."""
        deadline = time.monotonic() + timeout
        with self._idle:
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._idle.wait(remaining)
        return True

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)
        self._client.close()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            stop = False
            while len(batch) < MAX_EVENTS_PER_POST:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    stop = True
                    break
                batch.append(more)
            self._deliver(batch)
            with self._idle:
                self._pending -= len(batch)
                self._idle.notify_all()
            if stop:
                return

    def _deliver(self, batch: list[dict[str, Any]]) -> None:
        body = json.dumps(batch).encode()
        signature = hmac_sha256(self.secret, body)
        headers = {"Content-Type": "application/json", CDC_RELAY_HEADER: signature}
        for attempt in range(self.max_attempts):
            try:
                response = self._client.post(self.url, content=body, headers=headers)
                if response.status_code < 500:
                    if response.is_success:
                        self.delivered += len(batch)
                        self.sent_bodies.append(body)
                    else:
                        self.failed += len(batch)
                    return
            except httpx.HTTPError:
                pass
            time.sleep(min(2.0, 0.1 * 2**attempt))
        self.failed += len(batch)
