"""Request bodies at every webhook endpoint are bounded: refused past the limit, never buffered."""

from __future__ import annotations

from starlette.requests import Request

MAX_BODY_BYTES = 10 * 1024 * 1024


async def read_limited_body(request: Request, limit: int = MAX_BODY_BYTES) -> bytes | None:
    """The body, or None when it is larger than ``limit`` (checked before reading it all)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)
