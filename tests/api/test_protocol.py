"""HeadMeter: the size of a request's head, from raw bytes, before the parser sees them.

The server-level checks (431 for a head in one write or many, pipelined heads) are in
test_api_command.py; these pin the counting itself, whichever way the bytes are split.
"""

from __future__ import annotations

import pytest

from digit_knower.api.protocol import HeadMeter

HEAD = b"POST /v1/predictions HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n"
BODY = b"hello"


def measured(*reads: bytes) -> HeadMeter:
    meter = HeadMeter()
    for data in reads:
        meter.feed(data)
    return meter


def test_a_head_and_body_in_one_read_count_the_head_only() -> None:
    meter = measured(HEAD + BODY)
    assert (meter.size, meter.complete) == (len(HEAD), True)


@pytest.mark.parametrize("cut", range(1, len(HEAD)))
def test_a_head_split_anywhere_counts_the_same(cut: int) -> None:
    meter = measured(HEAD[:cut], HEAD[cut:] + BODY)
    assert (meter.size, meter.complete) == (len(HEAD), True)


def test_a_head_sent_a_byte_at_a_time_counts_the_same() -> None:
    meter = measured(*(bytes([b]) for b in HEAD + BODY))
    assert (meter.size, meter.complete) == (len(HEAD), True)


def test_an_incomplete_head_counts_every_byte_so_far() -> None:
    meter = measured(b"GET / HTTP/1.1\r\nX-Huge: ", b"a" * 50_000)
    assert (meter.size, meter.complete) == (len(b"GET / HTTP/1.1\r\nX-Huge: ") + 50_000, False)


def test_empty_lines_before_the_request_line_count_but_do_not_end_the_head() -> None:
    """The parser skips them; were they taken for the end of the head, the real head would go uncounted."""
    meter = measured(b"\r\n\r\n", b"\r\n" + HEAD)
    assert (meter.size, meter.complete) == (6 + len(HEAD), True)
    assert measured(b"\r\n\r\n" + HEAD + BODY).size == 4 + len(HEAD)
