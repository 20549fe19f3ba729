"""HubSpot's error body, so every 4xx the sandbox answers looks like the real thing."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi.responses import JSONResponse


class HubSpotApiError(Exception):
    """An error answered as `{status:"error", message, correlationId, category, ...}`."""

    def __init__(
        self,
        status_code: int,
        category: str,
        message: str,
        *,
        sub_category: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        context: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.category = category
        self.message = message
        self.sub_category = sub_category
        self.errors = errors
        self.context = context
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "status": "error",
            "message": self.message,
            "correlationId": str(uuid.uuid4()),
        }
        if self.category:
            body["category"] = self.category
        if self.sub_category:
            body["subCategory"] = self.sub_category
        if self.errors:
            body["errors"] = self.errors
        if self.context:
            body["context"] = self.context
        body.update(self.extra)
        return body

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status_code, headers=self.headers)


def validation_error(message: str, **kwargs: Any) -> HubSpotApiError:
    return HubSpotApiError(400, "VALIDATION_ERROR", message, **kwargs)


def not_found(message: str, **kwargs: Any) -> HubSpotApiError:
    return HubSpotApiError(404, "OBJECT_NOT_FOUND", message, **kwargs)


def rate_limited(policy: str, message: str, headers: dict[str, str]) -> HubSpotApiError:
    # The 429 body has errorType/policyName and no category, as HubSpot answers it.
    return HubSpotApiError(
        429,
        "",
        message,
        extra={"errorType": "RATE_LIMIT", "policyName": policy},
        headers=headers,
    )
