"""Delivers signed webhook batches from the sandbox's outbox, as HubSpot does.

HubSpot posts a JSON array (fewer than 100 events), unordered and possibly duplicated, signed with
v1 (`X-HubSpot-Signature`) and v3 (`X-HubSpot-Signature-v3` + `X-HubSpot-Request-Timestamp`), and
retries a batch that fails or takes more than 5 s. The `duplicate` / `reorder` switches exaggerate
the duplication and disorder so consumers' deduplication and ordering can be tested.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections import deque
from typing import Any

import httpx

from handoff_sandbox.hubspot.config import SandboxSettings
from handoff_sandbox.hubspot.records import RecordChange, random_event_id
from handoff_sandbox.hubspot.schema import SINGULAR
from handoff_sandbox.hubspot.store import SandboxStore, now_ms
from handoff_sandbox.signing import hubspot_headers

SUBSCRIBED_OBJECTS = ("deals", "companies", "contacts")
SUBSCRIPTION_IDS = {"creation": 1, "propertyChange": 2, "deletion": 3, "associationChange": 4}


class WebhookSender:
    def __init__(self, store: SandboxStore, settings: SandboxSettings) -> None:
        self.store = store
        self.settings = settings
        self.deliveries: deque[dict[str, Any]] = deque(maxlen=2000)
        self._lock = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._client: httpx.AsyncClient | None = None

    # -- events from writes ----------------------------------------------------------------
    def events_for(self, changes: list[RecordChange], change_source: str = "INTEGRATION") -> None:
        if not self.settings.webhook_url:
            return
        occurred = now_ms()
        events: list[dict[str, Any]] = []
        for change in changes:
            if change.object_type not in SUBSCRIBED_OBJECTS:
                continue
            singular = SINGULAR[change.object_type]
            base = {
                "portalId": self.settings.portal_id,
                "appId": self.settings.app_id,
                "occurredAt": occurred,
                "attemptNumber": 0,
                "objectId": change.object_id,
                "changeSource": change_source,
            }
            if change.created:
                events.append(self._event(base, f"{singular}.creation", changeFlag="NEW"))
                continue
            if change.archived:
                events.append(self._event(base, f"{singular}.deletion", changeFlag="DELETED"))
                continue
            wanted = (self.settings.webhook_properties or {}).get(change.object_type)
            for name, value in change.changed.items():
                if name in ("hs_lastmodifieddate", "lastmodifieddate", "hs_object_id"):
                    continue
                if wanted is not None and name not in wanted:
                    continue
                events.append(
                    self._event(
                        base,
                        f"{singular}.propertyChange",
                        propertyName=name,
                        propertyValue=value,
                    )
                )
        if events:
            self.store.enqueue_events(events)

    def association_events(
        self, from_type: str, from_id: int, to_type: str, to_id: int, type_id: int, removed: bool
    ) -> None:
        if not self.settings.webhook_url or from_type not in SUBSCRIBED_OBJECTS:
            return
        singular = SINGULAR[from_type]
        event = self._event(
            {
                "portalId": self.settings.portal_id,
                "appId": self.settings.app_id,
                "occurredAt": now_ms(),
                "attemptNumber": 0,
                "changeSource": "INTEGRATION",
            },
            f"{singular}.associationChange",
            associationType=f"{SINGULAR[from_type].upper()}_TO_{SINGULAR[to_type].upper()}",
            associationTypeId=type_id,
            fromObjectId=from_id,
            toObjectId=to_id,
            associationRemoved=removed,
            isPrimaryAssociation=type_id in (1, 2, 5, 6),
        )
        self.store.enqueue_events([event])

    def _event(self, base: dict[str, Any], subscription_type: str, **extra: Any) -> dict[str, Any]:
        kind = subscription_type.split(".", 1)[1]
        return {
            "eventId": random_event_id(),
            "subscriptionId": SUBSCRIPTION_IDS.get(kind, 9),
            **base,
            "subscriptionType": subscription_type,
            **extra,
        }

    # -- delivery --------------------------------------------------------------------------
    def start(self) -> None:
        self._client = httpx.AsyncClient(timeout=5.0)
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._client is not None:
            await self._client.aclose()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.settings.webhook_interval_seconds)
            if self.settings.webhook_auto_deliver and self.settings.webhook_url:
                try:
                    await self.deliver_due()
                except Exception as error:  # the loop must survive a broken receiver
                    self.deliveries.append({"at": time.time(), "error": repr(error)})

    async def deliver_due(self) -> int:
        """Post every due batch once; answer how many events were delivered successfully."""
        delivered = 0
        async with self._lock:
            while True:
                due = self.store.due_events(self.settings.webhook_batch_size)
                if not due or not self.settings.webhook_url:
                    return delivered
                ids = [row_id for row_id, _, _ in due]
                events = [dict(event, attemptNumber=attempts) for _, event, attempts in due]
                if self.settings.webhook_reorder:
                    random.shuffle(events)
                ok = await self._post(events)
                if self.settings.webhook_duplicate and ok:
                    duplicate = list(reversed(events)) if self.settings.webhook_reorder else events
                    await self._post(duplicate)
                if ok:
                    self.store.finish_events(ids)
                    delivered += len(events)
                else:
                    self.store.postpone_events(
                        ids,
                        self.settings.webhook_retry_delay_seconds,
                        self.settings.webhook_max_attempts,
                    )
                    return delivered

    async def _post(self, events: list[dict[str, Any]]) -> bool:
        assert self._client is not None
        url = self.settings.webhook_url or ""
        body = json.dumps(events, separators=(",", ":")).encode()
        timestamp = str(now_ms())
        secret = self.settings.webhook_secret or ""
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "HubSpot Connect 2.0 (http://dev.hubspot.com/) (sandbox)",
            **hubspot_headers(secret, url, body, timestamp),
        }
        record: dict[str, Any] = {
            "at": time.time(),
            "url": url,
            "event_ids": [e["eventId"] for e in events],
            "subscription_types": [e["subscriptionType"] for e in events],
        }
        try:
            response = await self._client.post(url, content=body, headers=headers)
        except httpx.HTTPError as error:
            record["error"] = repr(error)
            self.deliveries.append(record)
            return False
        record["status"] = response.status_code
        self.deliveries.append(record)
        return response.is_success
