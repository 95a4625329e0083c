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
  closed. Every byte of the head is counted before the parser sees it (HeadMeter), whether it
  comes in one write or in many: counting only while the head was still incomplete after a read
  let a 100 kB head sent in one write through. A request pipelined behind another in
  the same read begins where only the parser knows, so its head is also counted from the parser's
  pieces and refused the moment it passes the limit.

A refusal is a problem document like every other error. The connection is then closed gently
(a "lingering close", as nginx and Apache do): the answer is sent, then the server's side of the
connection is shut, and whatever the client is still sending is read and dropped for up to
LINGER_S, so that its kernel gets no reset that would destroy the answer before it is read.

The cost on the hot path is one timer armed and cancelled per request, and a search for the end of
the head over its own bytes (a few hundred), before parsing.
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


class HeadTooLargeError(Exception):
    """Raised from a parser callback to stop parsing a head over MAX_HEAD_BYTES."""


class HeadMeter:
    """The size of one request's head (request line and headers, up to and including the blank
    line that ends them), from the raw bytes as they arrive, in one read or in many.

    The parser skips empty lines before a request line: they count, but cannot end the head. Once
    the end is found, `complete` is true and later bytes (the body) are not counted.
    """

    _END = b"\r\n\r\n"

    def __init__(self) -> None:
        self.size = 0
        self.complete = False
        self._started = False
        self._tail = b""  # the last 3 bytes so far: the end may be split across two reads

    def feed(self, data: bytes) -> None:
        if self.complete:
            return
        start = 0
        if not self._started and data[:1] in (b"\r", b"\n"):
            start = len(data) - len(data.lstrip(b"\r\n"))
        if start == len(data):
            self.size += start
            return
        self._started = True
        end = self._end_of_head(data, start)
        if end is None:
            self.size += len(data)
            self._tail = (self._tail + data[-3:])[-3:]
        else:
            self.size += end
            self.complete = True

    def _end_of_head(self, data: bytes, start: int) -> int | None:
        """How many bytes of `data` belong to the head, when its end lies in `data`; else None."""
        seam = (self._tail + data[start : start + 3]).find(self._END)
        if seam >= 0:
            return start + seam + len(self._END) - len(self._tail)
        found = data.find(self._END, start)
        return None if found < 0 else found + len(self._END)


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """HttpToolsProtocol with a read timeout, a header size limit and refusals that arrive."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read_timeout_s = get_settings().api_read_timeout_s
        self._deadline: asyncio.TimerHandle | None = None
        self._reading_body = False
        self._head = HeadMeter()  # the head of the request being read, counted before parsing
        self._parsed_head_bytes = 0  # the same head, as the parser hands it over (pipelining)
        self._head_too_large = False
        self._lingering = False

    # -- the connection --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # a connection that never sends a byte is closed too

    def data_received(self, data: bytes) -> None:
        if self._lingering:
            return  # dropped: the answer has gone out, the connection is closing
        if self._deadline is None:  # the first byte of a new request
            self._head = HeadMeter()
            self._arm()
        elif self._reading_body:
            self._arm()  # the body moves: the idle time starts again
        self._head.feed(data)
        if self._head.size > MAX_HEAD_BYTES:
            self._refuse_head()  # before the parser holds any of it
            return
        super().data_received(data)

    def eof_received(self) -> None:
        if self._lingering:
            self.transport.close()
        super().eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    # -- parser callbacks --------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._parsed_head_bytes = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._count_parsed(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_parsed(len(name) + len(value) + len(b": \r\n"))
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._reading_body = True
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._reading_body = False
        self._disarm()  # the request is in: what the app does with it is not the client's time
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        if self._head_too_large:  # _count_parsed stopped the parser: not a malformed request
            self._refuse_head()
            return
        # uvicorn's answer to bytes that are not HTTP, as a problem document like the rest.
        self._refuse(400, f"{msg} Send an HTTP/1.1 request.")

    def _count_parsed(self, size: int) -> None:
        """The backstop for a head that HeadMeter could not see: one that begins inside a read,
        behind another request. Raising stops the parser; uvicorn then calls send_400_response."""
        self._parsed_head_bytes += size
        if self._parsed_head_bytes > MAX_HEAD_BYTES:
            self._head_too_large = True
            raise HeadTooLargeError

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
        if not (self._reading_body or self._head.size):
            self.transport.close()  # a connection that never sent a byte: there is no one to answer
            return
        what = "body" if self._reading_body else "request line and headers"
        self._refuse(408, f"The {what} did not arrive within {self.read_timeout_s:g} s; send it again.")

    def _refuse_head(self) -> None:
        self._refuse(
            431,
            f"The request line and headers exceed {MAX_HEAD_BYTES // 1024} kB; send smaller "
            "headers (a browser sends 1-8 kB).",
        )

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
