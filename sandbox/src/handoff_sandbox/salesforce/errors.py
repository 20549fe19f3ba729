"""Errors the sandbox answers, in Salesforce's shapes.

REST errors are a JSON array ``[{"message", "errorCode", "fields"}]``; sObject Collections put
``{"statusCode", "message", "fields"}`` in each failed record's ``errors`` instead.
"""

from __future__ import annotations

from typing import Any


class SalesforceApiError(Exception):
    def __init__(
        self,
        status: int,
        error_code: str,
        message: str,
        fields: list[str] | None = None,
    ) -> None:
        super().__init__(f"{error_code}: {message}")
        self.status = status
        self.error_code = error_code
        self.message = message
        self.fields = fields or []

    def rest_body(self) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"message": self.message, "errorCode": self.error_code}
        # Salesforce omits `fields` on errors that are not about fields (e.g. INVALID_SESSION_ID).
        if self.fields or self.status == 400:
            body["fields"] = self.fields
        return [body]

    def collection_error(self) -> dict[str, Any]:
        return {"statusCode": self.error_code, "message": self.message, "fields": self.fields}


def malformed_query(message: str) -> SalesforceApiError:
    return SalesforceApiError(400, "MALFORMED_QUERY", message)


def invalid_field(message: str, fields: list[str] | None = None) -> SalesforceApiError:
    return SalesforceApiError(400, "INVALID_FIELD", message, fields)


def not_found(message: str = "The requested resource does not exist") -> SalesforceApiError:
    return SalesforceApiError(404, "NOT_FOUND", message)


def invalid_type(name: str) -> SalesforceApiError:
    return SalesforceApiError(404, "NOT_FOUND", "The requested resource does not exist")


def invalid_session() -> SalesforceApiError:
    return SalesforceApiError(401, "INVALID_SESSION_ID", "Session expired or invalid")


def request_limit_exceeded() -> SalesforceApiError:
    return SalesforceApiError(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")
