"""uvicorn's HTTP protocol (httptools), with the limits it lacks: a read timeout and a header limit.

uvicorn with httptools waits for ever for a request that was sent in part, and parses a request
header of any size (500 half-sent requests were all still held after 65 s; a 30 MB header took
1.7 s to parse, sidestepping the 2 MB body limit). This protocol, passed to uvicorn as its `http`
class (api/launch.py), adds what nginx calls client_header_timeout, client_body_timeout and
large_client_header_buffers:

- the request line and headers must arrive in full within `read_timeout_s` of the request's
  first byte (or of the connection's opening), else 408 and the connection is closed;
- the body may pause for at most `read_timeout_s` between two reads, else the same (unless the
  app, not the client, is what stopped the reading);
- the request line and headers may hold at most MAX_HEAD_BYTES, else 431 and the connection is
  closed; the parser never holds more than that and one read.

A refusal is a problem document like every other error. The connection is then closed gently
(a "lingering close", as nginx and Apache do): the answer is sent, then the server's side of the
connection is shut, and whatever the client is still sending is read and dropped for up to
LINGER_S, so that its kernel gets no reset that would destroy the answer before it is read.

The cost on the hot path is one timer armed and cancelled per request, and a length added per
read while a header is incomplete.
"""

from __future__ import annotations

import asyncio
import json
from http import HTTPStatus
from typing import Any, Final

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from digit_knower.api.errors import PROBLEM_MEDIA_TYPE
from digit_knower.api.headers import SECURITY_HEADERS
from digit_knower.settings import get_settings

# Browsers send 1-8 kB of headers; nginx refuses more than 4 x 8 kB per header line by default.
MAX_HEAD_BYTES: Final = 32 * 1024
LINGER_S: Final = 2.0


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with a read timeout, a header size limit and refusals that arrive."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_timeout_s = get_settings().api_read_timeout_s
        self._deadline: asyncio.TimerHandle | None = None
        self._reading_head = True  # from a request's first byte until its headers are complete
        self._reading_body = False
        self._head_bytes = 0
        self._lingering = False

    # -- the connection --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # a connection that never sends a byte is closed too

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # dropped: the answer has gone out, the connection is closing
        if self._deadline is None:  # the first byte of a new request
            self._head_bytes = 0
            self._arm()
        elif self._reading_body:
            self._arm()  # the body moves: the idle time starts again
        super().data_received(data)
        if self._reading_head and not self._lingering and not self.transport.is_closing():
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse(
                    431,
                    f"The request line and headers exceed {MAX_HEAD_BYTES // 1024} kB; send smaller "
                    "headers (a browser sends 1-8 kB).",
                )

    def eof_received(self) -> None:
        if self._lingering:
            self.transport.close()
        super().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    # -- parser callbacks --------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._reading_head = True
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._reading_body = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._reading_body = False
        self._disarm()  # the request is in: what the app does with it is not the client's time
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        # uvicorn's answer to bytes that are not HTTP, as a problem document like the rest.
        self._refuse(400, f"{msg} Send an HTTP/1.1 request.")

    # -- timeouts and refusals -----------------------------------------------------------------

    def _arm(self) -> None:
        self._disarm()
        self._deadline = self.loop.call_later(self.read_timeout_s, self._timed_out)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _timed_out(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self._reading_body and self.flow.read_paused:
            self._arm()  # the app has not taken the body it was sent: the client is not late
            return
        if not (self._reading_body or self._head_bytes):
            self.transport.close()  # a connection that never sent a byte: there is no one to answer
            return
        what = "body" if self._reading_body else "request line and headers"
        self._refuse(408, f"The {what} did not arrive within {self.read_timeout_s:g} s; send it again.")

    def _refuse(self, status: int, detail: str) -> None:
        """Answer `status` with a problem document, unless the app has begun its own answer; then
        close gently."""
        self._disarm()
        if self.cycle is not None and not self.cycle.response_complete:
            if self.cycle.response_started:
                self.transport.close()  # half an answer is out: nothing can follow it
                return
            # The app waits for a body that will not come: it hears that the client left.
            self.cycle.disconnected = True
            self.cycle.message_event.set()
        self.transport.write(_problem(status, detail, self.server_state.default_headers))
        self._linger()

    def _linger(self) -> None:
        self._lingering = True
        self.flow.resume_reading()
        if self.transport.can_write_eof():
            self.transport.write_eof()  # the answer, then the end of our side
        self.loop.call_later(LINGER_S, self.transport.close)


def _problem(status: int, detail: str, default_headers: list[tuple[bytes, bytes]]) -> bytes:
    phrase = HTTPStatus(status).phrase
    body = json.dumps({"type": "about:blank", "title": phrase, "status": status, "detail": detail}).encode()
    headers = [
        *default_headers,
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *SECURITY_HEADERS,
    ]
    head = f"HTTP/1.1 {status} {phrase}\r\n".encode() + b"".join(k + b": " + v + b"\r\n" for k, v in headers)
    return head + b"\r\n" + body
