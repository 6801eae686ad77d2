"""The background-shell output buffer: lines cap, bytes cap, endless lines, UTF-8 and \\r\\n."""

from __future__ import annotations

import pytest

from mgexec.shells.buffer import CHUNK_SIZE, LINE_SNAP, OutputBuffer, tail


def lines(n: int, start: int = 0) -> bytes:
    return b"".join(b"line %d\n" % i for i in range(start, start + n))


def test_keeps_everything_under_the_caps():
    buf = OutputBuffer(max_lines=10, max_bytes=1000)
    buf.feed(b"a\nb\n")
    buf.feed(b"c")
    assert buf.read() == "a\nb\nc"
    assert (buf.dropped_lines, buf.dropped_bytes, buf.line_count()) == (0, 0, 3)


def test_lines_cap_keeps_the_last_lines_and_counts_the_rest():
    buf = OutputBuffer(max_lines=5, max_bytes=1 << 20)
    buf.feed(lines(12))
    assert buf.read() == lines(5, start=7).decode()
    assert buf.dropped_lines == 7
    assert buf.dropped_bytes == len(lines(7))


def test_lines_cap_counts_an_unterminated_last_line():
    buf = OutputBuffer(max_lines=2, max_bytes=1 << 20)
    buf.feed(b"a\nb\nc")
    assert buf.read() == "b\nc"
    assert buf.dropped_lines == 1


def test_lines_cap_holds_across_many_chunks_and_reads():
    buf = OutputBuffer(max_lines=100, max_bytes=1 << 20)
    expected = b""
    for start in range(0, 50_000, 1000):
        block = lines(1000, start)
        buf.feed(block)
        expected += block
        assert buf.read() == tail(expected, 100).decode()
    assert buf.dropped_lines == 50_000 - 100
    assert buf.dropped_bytes == len(expected) - len(tail(expected, 100))


def test_held_lines_stay_bounded_between_reads():
    buf = OutputBuffer(max_lines=100, max_bytes=1 << 30)
    for start in range(0, 200_000, 1000):
        buf.feed(lines(1000, start))
    # Without a read the cap is kept per chunk: at most one chunk more than the lines need.
    assert buf.held_bytes <= len(lines(100, 199_900)) + 2 * CHUNK_SIZE


def test_bytes_cap_drops_oldest_lines():
    buf = OutputBuffer(max_lines=1000, max_bytes=100)
    data = lines(50)
    buf.feed(data)
    text = buf.read()
    assert buf.held_bytes <= 100
    assert data.decode().endswith(text)
    assert text.startswith("line ")  # the cut moved on to a line boundary
    assert buf.dropped_bytes == len(data) - len(text.encode())
    assert buf.dropped_lines == data.count(b"\n") - text.count("\n")


def test_endless_line_is_capped_and_keeps_its_end():
    buf = OutputBuffer(max_lines=10, max_bytes=1000)
    for i in range(1000):
        buf.feed(b"%05d" % i * 20)  # 100 kB per 1000 feeds, never a newline
        assert buf.held_bytes <= 1000
    text = buf.read()
    assert len(text) == 1000
    assert text.endswith("00999" * 20)
    assert buf.dropped_lines == 0
    assert buf.dropped_bytes == 1000 * 100 - 1000


def test_endless_line_cut_never_splits_a_character():
    buf = OutputBuffer(max_lines=10, max_bytes=1001)
    for _ in range(500):
        buf.feed("€".encode() * 7)  # 3-byte characters against an odd cap
    text = buf.read()
    assert set(text) == {"€"}
    assert buf.held_bytes == len(text.encode()) <= 1001
    assert buf.dropped_bytes + buf.held_bytes == 500 * 21


def test_bytes_cut_in_a_long_line_does_not_snap_past_it():
    buf = OutputBuffer(max_lines=100, max_bytes=LINE_SNAP * 3)
    long_line = b"x" * (LINE_SNAP * 4) + b"\n"
    buf.feed(long_line + b"short\n")
    text = buf.read()
    assert text.endswith("x\nshort\n")  # kept the end of the long line rather than dropping it all
    assert buf.dropped_lines == 0


def test_utf8_split_across_chunks_is_reassembled():
    data = "héllo wörld €𝄞\n".encode()
    buf = OutputBuffer()
    for i in range(len(data)):
        buf.feed(data[i:i + 1])
    assert buf.read() == "héllo wörld €𝄞\n"


def test_invalid_utf8_is_replaced_not_fatal():
    buf = OutputBuffer()
    buf.feed(b"ok \xff\xfe end\n")
    buf.feed(b"\xe2\x82")  # a character cut off by the end of the stream
    buf.finish()
    assert buf.read() == "ok \ufffd\ufffd end\n\ufffd"


@pytest.mark.parametrize("chunks", [
    [b"a\r\nb\r\n"],
    [b"a\r", b"\nb\r", b"\n"],
    [b"a", b"\r", b"\n", b"b\r\n"],
])
def test_crlf_becomes_lf_even_split_across_chunks(chunks):
    buf = OutputBuffer()
    for chunk in chunks:
        buf.feed(chunk)
    assert buf.read() == "a\nb\n"


def test_lone_carriage_returns_are_kept():
    buf = OutputBuffer()
    buf.feed(b"10%\r50%\r")
    buf.feed(b"100%\n")
    assert buf.read() == "10%\r50%\r100%\n"


def test_trailing_carriage_return_is_flushed_at_the_end():
    buf = OutputBuffer()
    buf.feed(b"progress\r")
    assert buf.read() == "progress"
    buf.finish()
    assert buf.read() == "progress\r"


def test_read_since_an_offset_and_tail():
    buf = OutputBuffer()
    buf.feed(b"one\ntwo\n")
    cursor = buf.end_offset
    buf.feed(b"three\nfour\nfive")
    assert buf.read(since=cursor) == "three\nfour\nfive"
    assert buf.read(since=cursor, tail_lines=2) == "four\nfive"
    assert buf.read(tail_lines=0) == ""
    assert buf.read(since=buf.end_offset) == ""


def test_read_since_a_dropped_offset_returns_what_is_left():
    buf = OutputBuffer(max_lines=2, max_bytes=1000)
    buf.feed(b"a\n")
    cursor = buf.end_offset
    buf.feed(b"b\nc\nd\n")
    assert buf.read(since=cursor) == "c\nd\n"
    assert buf.start_offset > cursor


@pytest.mark.parametrize(("data", "n", "expected"), [
    (b"a\nb\nc\n", 2, b"b\nc\n"),
    (b"a\nb\nc", 2, b"b\nc"),
    (b"a\nb\n", 5, b"a\nb\n"),
    (b"", 3, b""),
    (b"\n\n\n", 1, b"\n"),
])
def test_tail(data, n, expected):
    assert tail(data, n) == expected


def test_caps_must_be_positive():
    with pytest.raises(ValueError):
        OutputBuffer(max_lines=0)


def test_window_starts_tries_at_a_character_start_and_keeps_context_before_it():
    buffer = OutputBuffer(max_lines=100, max_bytes=1 << 20)
    buffer.feed("line one\nzé zé\nlast".encode())  # the first é is bytes 10-11, the second 14-15
    text, pos = buffer.window(0, 11, 1024)
    assert text == "line one\nzé zé\nlast" and text[pos:] == " zé\nlast"
    text, pos = buffer.window(0, 14, 3)  # the context would begin inside the first é
    assert (text, text[pos:]) == (" zé\nlast", "é\nlast")
    text, pos = buffer.window(13, 0, 3)  # never before `since`
    assert (text, pos) == ("zé\nlast", 0)


def test_window_reads_only_the_tail():
    buffer = OutputBuffer(max_lines=1 << 20, max_bytes=1 << 24)
    buffer.feed(b"x" * 200_000 + b"\nnew")
    text, pos = buffer.window(0, buffer.end_offset - 3, 10)
    assert (text, text[pos:]) == ("x" * 9 + "\nnew", "new")
