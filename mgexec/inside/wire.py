"""The warm channel's wire format, the one definition both sides use: the host imports it, the helper
carries it as source (standard library only, Python 3.7+).

Helper -> host: one JSON line, the `hello`, then only frames. A frame is HEADER (kind, request id,
payload length, big-endian) and the payload: a command's raw output bytes (STDOUT, STDERR) or one JSON
object (CONTROL: started, exit, error). Host -> helper: one JSON request per line on the helper's stdin.
"""

import json
import os
import struct

HEADER = struct.Struct(">BII")  # kind, request id (0: none), payload length
STDOUT, STDERR, CONTROL = 1, 2, 3
KINDS = (STDOUT, STDERR, CONTROL)
# No frame is larger (the helper reads at most this much at once): a bigger length is a corrupt stream.
MAX_PAYLOAD = 1 << 20
# What the helper sends first on the socket, before any frame: the token it got on its stdin.
TOKEN_BYTES = 32


class WireError(ValueError):
    """The byte stream is not a sequence of frames (a bug, or bytes not from the helper)."""


def encode_control(rid, message):
    """A CONTROL frame as (header, payload), ready for write_frame."""
    payload = json.dumps(message, separators=(",", ":")).encode("utf-8")
    return HEADER.pack(CONTROL, rid if isinstance(rid, int) and 0 < rid < 1 << 32 else 0, len(payload)), payload


def encode_output(kind, rid, data):
    return HEADER.pack(kind, rid, len(data)), data


def write_frame(fd, header, payload):
    """Write header and payload with one writev (no copy joining them); finish a partial write."""
    write_all(fd, header, payload)


def write_all(fd, *buffers):
    """Write the buffers in order with as few writev calls as the descriptor allows, never joining them."""
    parts = [memoryview(buffer) for buffer in buffers]
    while parts:
        written = os.writev(fd, parts)
        while parts and written >= len(parts[0]):
            written -= len(parts[0])
            parts.pop(0)
        if parts and written:
            parts[0] = parts[0][written:]


class FrameReader:
    """Cuts a byte stream into frames: feed() chunks as they come, get (kind, rid, payload) back.

    One bytearray holds what is not yet a whole frame; payloads come out as bytes slices of it, so a
    chunk is copied once into the buffer and once out, whatever its size."""

    def __init__(self):
        self.buf = bytearray()

    def feed(self, chunk):
        buf = self.buf
        buf += chunk
        frames, pos, size = [], 0, len(buf)
        with memoryview(buf) as view:  # released before the buffer is trimmed
            while size - pos >= HEADER.size:
                kind, rid, length = HEADER.unpack_from(view, pos)
                if kind not in KINDS or length > MAX_PAYLOAD:
                    raise WireError("a frame of kind %d and length %d" % (kind, length))
                end = pos + HEADER.size + length
                if end > size:
                    break
                frames.append((kind, rid, bytes(view[pos + HEADER.size:end])))
                pos = end
        del buf[:pos]
        return frames

    @property
    def pending(self):
        """Bytes of an unfinished frame (a stream that ends with some was cut)."""
        return len(self.buf)


def decode_control(payload):
    message = json.loads(payload.decode("utf-8"))
    if not isinstance(message, dict):
        raise WireError("a control frame that is not an object")
    return message
