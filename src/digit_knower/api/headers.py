"""Security headers on every response of the API.

- `X-Content-Type-Options: nosniff`: a browser never guesses a type other than the one declared.
- `Cache-Control: no-store`: answers hold drawings (model inputs) and predictions; no cache, proxy
  or browser history keeps them. A response that sets its own (the docs' assets) keeps it.
- `Content-Security-Policy: default-src 'none'; frame-ancestors 'none'`: JSON runs nothing, loads
  nothing and is framed by no page. The docs pages set the policy they need (api/docs.py).
- `Referrer-Policy: no-referrer`.

uvicorn's `server: uvicorn` header is turned off where uvicorn is started (api/launch.py).
"""

from __future__ import annotations

from typing import Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS: Final[tuple[tuple[bytes, bytes], ...]] = (
    (b"x-content-type-options", b"nosniff"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"referrer-policy", b"no-referrer"),
)


class SecurityHeadersMiddleware:
    """Adds each of SECURITY_HEADERS that a response does not set itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", ()))
                present = {name.lower() for name, _ in headers}
                headers += [(name, value) for name, value in SECURITY_HEADERS if name not in present]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
