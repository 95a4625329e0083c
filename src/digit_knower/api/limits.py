"""Refuse request bodies over the upload limit before reading them in full.

A pure ASGI middleware, so it sees the body as it streams in: a declared Content-Length over the
limit is refused at once without reading a byte, and a chunked body is counted as it arrives and
refused the moment it passes the limit.

FastAPI's own `max_body_size` does the same counting, but answers in plain text when a route
replies without reading the body; here every 413 is a problem document, like every other error.
"""

from __future__ import annotations

import contextlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digit_knower.api.errors import problem_response

MAX_BODY_BYTES = 2 * 1024 * 1024


class _BodyTooLarge(Exception):
    pass


class BodySizeLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self._declared_length(scope) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return

        received = 0
        too_large = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            # Whatever the app answers once the body overflowed (a parse error, say) is dropped:
            # the client gets the 413 below instead.
            if not too_large:
                await send(message)

        # The app may let the overflow escape (or turn it into its own error response, dropped above).
        with contextlib.suppress(_BodyTooLarge):
            await self.app(scope, counting_receive, guarded_send)
        if too_large:
            await self._refuse(scope, receive, send)

    @staticmethod
    def _declared_length(scope: Scope) -> int:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    return int(value)
                except ValueError:
                    return 0  # the server itself rejects a malformed Content-Length
        return 0

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        limit_mb = self.max_bytes / (1024 * 1024)
        response = problem_response(
            413,
            f"The request body is larger than the {limit_mb:g} MB limit; send a smaller image "
            "(a 280x280 PNG drawing is about 5-20 kB).",
            instance=scope.get("path"),
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
