"""The body-HMAC signature schemes several sources share; the timestamped ones are their
sources' own (``HubSpotSignature`` in ``hubspot``, ``StripeSignature`` in ``stripe``).

- ``sha256=<hex>``: hex HMAC-SHA256 of the raw body (generic sources, the time tracker, the
  Salesforce CDC relay);
- ``<base64>``: base64 HMAC-SHA256 of the raw body (DocuSign Connect).

Compared in constant time, as bytes: ``hmac.compare_digest`` raises TypeError on a str holding
a non-ASCII character, which a header can (Starlette decodes header bytes as Latin-1).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass

from handoff.ingress.router import SignatureError, Signed


def hmac_sha256_hex(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def hmac_sha256_base64(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def signatures_match(given: str, expected: str) -> bool:
    """Constant-time comparison of a signature header with the expected value."""
    return hmac.compare_digest(
        given.strip().encode("latin-1", "replace"), expected.encode("latin-1", "replace")
    )


@dataclass(frozen=True)
class BodyHmac:
    """``header`` holds ``sign(secret, body)``: missing_signature or bad_signature else."""

    header: str
    sign: Callable[[str, bytes], str]

    def verify(self, secret: str, request: Signed, now: float) -> None:
        given = request.headers.get(self.header.lower())
        if not given:
            raise SignatureError("missing_signature", f"Header {self.header} is required.")
        if not signatures_match(given, self.sign(secret, request.body)):
            raise SignatureError("bad_signature", f"{self.header} does not match the body.")
