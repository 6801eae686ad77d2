"""The warm channel's wire format (mgexec/inside/wire.py): frames out of any chunking, bad streams refused."""

from __future__ import annotations

import os
import threading

import pytest

from mgexec.inside import wire
from mgexec.inside.wire import CONTROL, HEADER, MAX_PAYLOAD, STDERR, STDOUT, FrameReader, WireError


def stream(*frames: tuple[bytes, bytes]) -> bytes:
    return b"".join(header + bytes(payload) for header, payload in frames)


SAMPLE = [
    wire.encode_control(7, {"op": "started", "id": 7, "pid": 42}),
    wire.encode_output(STDOUT, 7, b"out\n"),
    wire.encode_output(STDERR, 7, "é\u2603\n".encode()),
    wire.encode_output(STDOUT, 7, b""),
    wire.encode_output(STDOUT, 8, bytes(range(256)) * 4),
    wire.encode_control(None, {"op": "error", "id": None, "message": "unreadable request"}),
]
EXPECTED = [(CONTROL, 7, b'{"op":"started","id":7,"pid":42}'), (STDOUT, 7, b"out\n"),
            (STDERR, 7, "é\u2603\n".encode()), (STDOUT, 7, b""), (STDOUT, 8, bytes(range(256)) * 4),
            (CONTROL, 0, b'{"op":"error","id":null,"message":"unreadable request"}')]


@pytest.mark.parametrize("step", [1, 2, 3, HEADER.size, HEADER.size + 1, 100, 1 << 20])
def test_frames_come_out_whole_whatever_the_chunking(step):
    data = stream(*SAMPLE)
    reader, got = FrameReader(), []
    for start in range(0, len(data), step):
        got += reader.feed(data[start:start + step])
    assert got == EXPECTED and reader.pending == 0


def test_a_cut_stream_leaves_its_partial_frame_pending():
    data = stream(*SAMPLE)
    reader = FrameReader()
    assert reader.feed(data[:-3]) == EXPECTED[:-1]
    assert reader.pending == len(SAMPLE[-1][0]) + len(SAMPLE[-1][1]) - 3


@pytest.mark.parametrize("header, words", [
    (HEADER.pack(0, 1, 4), "kind 0"),
    (HEADER.pack(9, 1, 4), "kind 9"),
    (HEADER.pack(STDOUT, 1, MAX_PAYLOAD + 1), f"length {MAX_PAYLOAD + 1}"),
    (b'{"op":"exit","id":1}', "kind 123"),  # a JSON line where a frame belongs
])
def test_a_stream_that_is_not_frames_is_refused(header, words):
    with pytest.raises(WireError, match=words):
        FrameReader().feed(header + b"xxxx")


@pytest.mark.parametrize("rid, sent", [(1, 1), (None, 0), ("7", 0), (-1, 0), (1 << 32, 0), ((1 << 32) - 1, (1 << 32) - 1)])
def test_control_frames_carry_an_id_only_when_it_fits(rid, sent):
    header, payload = wire.encode_control(rid, {"op": "x"})
    assert HEADER.unpack(header) == (CONTROL, sent, len(payload))
    assert wire.decode_control(payload) == {"op": "x"}


@pytest.mark.parametrize("payload", [b"[1, 2]", b"\"text\"", b"nul"])
def test_a_control_frame_must_be_one_object(payload):
    with pytest.raises(ValueError):
        wire.decode_control(payload)


def test_write_frame_finishes_partial_writes_through_a_small_pipe():
    """writev may take part of a frame when the pipe is full: the rest follows, in order, uncopied."""
    read_end, write_end = os.pipe()
    payload = os.urandom(3 * 65536 + 17)
    received = bytearray()

    def drain():
        while chunk := os.read(read_end, 4096):
            received.extend(chunk)

    reader_thread = threading.Thread(target=drain)
    reader_thread.start()
    try:
        wire.write_frame(write_end, *wire.encode_output(STDERR, 3, payload))
        wire.write_frame(write_end, *wire.encode_control(3, {"op": "exit"}))
    finally:
        os.close(write_end)
        reader_thread.join(10)
        os.close(read_end)
    assert FrameReader().feed(bytes(received)) == [(STDERR, 3, payload), (CONTROL, 3, b'{"op":"exit"}')]
