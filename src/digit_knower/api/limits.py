"""Refuse request bodies over the upload limit, without handing them to the app in full.

A pure ASGI middleware, so it sees the body as it streams in: a declared Content-Length over the
limit is refused before the app sees a byte, and a chunked body is counted as it arrives and
refused the moment it passes the limit.

Before the 413 goes out, the rest of the body is read and thrown away, up to DRAIN_MAX_BYTES. A
server that answers and closes while the client is still sending leaves unread data behind, its
kernel answers that with a TCP reset, and the client's kernel may then drop the 413 before the
client reads it (urllib saw "Connection reset by peer" in up to 34 of 40 tries). Once drained, the
connection stays open for the next request. A client that announced a body over DRAIN_MAX_BYTES,
or asked to be told first (Expect: 100-continue), is answered at once and the connection closed.

FastAPI's own `max_body_size` does the same counting, but answers in plain text when a route
replies without reading the body; here every 413 is a problem document, like every other error.
"""

from __future__ import annotations

import contextlib

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from digit_knower.api.errors import problem_response

MAX_BODY_BYTES = 2 * 1024 * 1024
# Reading 16 MB to throw it away costs a few milliseconds; a phone photo sent by mistake is
# smaller, so its sender gets the 413 and its advice rather than a reset.
DRAIN_MAX_BYTES = 16 * 1024 * 1024


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
        declared = _header(scope, b"content-length")
        if declared.isdigit() and int(declared) > self.max_bytes:
            drained = int(declared) <= DRAIN_MAX_BYTES and await self._drain(scope, receive, 0)
            await self._refuse(scope, receive, send, drained)
            return

        received = 0
        too_large = False
        body_ended = False

        async def counting_receive() -> Message:
            nonlocal received, too_large, body_ended
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                body_ended = not message.get("more_body", False)
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
            drained = body_ended or await self._drain(scope, receive, received)
            await self._refuse(scope, receive, send, drained)

    @staticmethod
    async def _drain(scope: Scope, receive: Receive, received: int) -> bool:
        """Read the rest of the body and throw it away, up to DRAIN_MAX_BYTES in all; True when
        the whole body was read, so that the connection can serve another request."""
        if _header(scope, b"expect").lower() == "100-continue":
            return False  # the client waits for a go-ahead before sending; it gets the 413 instead
        while received <= DRAIN_MAX_BYTES:
            message = await receive()
            if message["type"] != "http.request":
                return False  # the client hung up
            received += len(message.get("body", b""))
            if not message.get("more_body", False):
                return True
        return False

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, drained: bool) -> None:
        limit_mb = self.max_bytes / (1024 * 1024)
        response = problem_response(
            413,
            f"The request body is larger than the {limit_mb:g} MB limit; send a smaller image "
            "(a 280x280 PNG drawing is about 5-20 kB).",
            instance=scope.get("path"),
            headers=None if drained else {"Connection": "close"},
        )
        await response(scope, receive, send)


def _header(scope: Scope, name: bytes) -> str:
    """The first value of a request header, or '' (a malformed Content-Length is the server's to
    reject)."""
    for key, value in scope["headers"]:
        if key == name:
            return value.decode("latin-1").strip()
    return ""
