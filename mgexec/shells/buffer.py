"""Bounded output of one background shell: the last N lines and at most M bytes, counting what was dropped.

Output is decoded incrementally (UTF-8 with replacement) and stored re-encoded, so every held
byte is valid UTF-8 and offsets into the stream can serve as read cursors.
"""

from __future__ import annotations

import codecs
from collections import deque

# Chunks are appended to until they reach this size: large enough that a flood of short
# lines costs one deque entry per 16 KiB, small enough that trimming a chunk stays cheap.
CHUNK_SIZE = 16 * 1024
# When the bytes cap cuts into a line, the cut moves on to that line's end if it is this
# close, so the oldest line kept is usually whole without throwing away much more.
LINE_SNAP = 4096


class _Chunk:
    __slots__ = ("data", "newlines")

    def __init__(self) -> None:
        self.data = bytearray()
        self.newlines = 0


class OutputBuffer:
    """Ring buffer of terminal output, bounded by lines and by bytes.

    The bytes cap holds after every `feed` (an endless line without newline is cut from the
    front); the lines cap is kept per chunk while feeding and exactly whenever output is read,
    so a flood of short lines costs O(1) per chunk instead of per line.
    """

    def __init__(self, max_lines: int = 10_000, max_bytes: int = 4 * 1024 * 1024) -> None:
        if max_lines < 1 or max_bytes < 1:
            raise ValueError(f"max_lines and max_bytes must be at least 1 (got {max_lines}, {max_bytes})")
        self.max_lines = max_lines
        self.max_bytes = max_bytes
        self.dropped_lines = 0
        self.dropped_bytes = 0
        self._chunks: deque[_Chunk] = deque()
        self._held = 0
        self._held_newlines = 0
        self._start = 0  # stream offset of the first held byte
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending_cr = False

    @property
    def held_bytes(self) -> int:
        return self._held

    @property
    def start_offset(self) -> int:
        """Stream offset of the oldest byte still held."""
        return self._start

    @property
    def end_offset(self) -> int:
        """Stream offset just past the newest byte: a cursor for "what came after this"."""
        return self._start + self._held

    def feed(self, data: bytes) -> None:
        self._append(self._decoder.decode(data))

    def finish(self) -> None:
        """The stream ended: flush a partial character and a held carriage return."""
        self._append(self._decoder.decode(b"", final=True), final=True)

    def read(self, since: int = 0, tail_lines: int | None = None) -> str:
        """Held output from stream offset `since` on, optionally only its last `tail_lines` lines."""
        self._trim_lines_exactly()
        data = b"".join(chunk.data for chunk in self._chunks)
        data = data[max(0, since - self._start):]
        if tail_lines is not None:
            data = tail(data, tail_lines)
        return data.decode("utf-8", errors="replace")

    def window(self, since: int, scan_from: int, context: int) -> tuple[str, int]:
        """Held text from max(since, scan_from - context) on, and the index in it of scan_from.

        For searching only what is new: a match is tried from the index on, while `^` and
        lookbehinds still see up to `context` bytes before it. The index falls on a character start.
        """
        self._trim_lines_exactly()
        first = max(since, self._start, scan_from - context)
        data = self._bytes_from(first)
        skip = _char_boundary(data, 0)  # the context may begin inside a character
        split = _char_boundary(data, min(max(skip, scan_from - first), len(data)))
        data, split = data[skip:], split - skip
        head = data[:split].decode("utf-8", errors="replace")
        return head + data[split:].decode("utf-8", errors="replace"), len(head)

    def _bytes_from(self, offset: int) -> bytearray:
        # Only the chunks that hold bytes at or after offset: new output costs what it adds.
        needed, pieces = self.end_offset - max(offset, self._start), []
        for chunk in reversed(self._chunks):
            if needed <= 0:
                break
            pieces.append(chunk.data[-needed:] if needed < len(chunk.data) else chunk.data)
            needed -= len(chunk.data)
        return bytearray().join(reversed(pieces))

    def line_count(self) -> int:
        """Lines held: complete ones plus a final line still missing its newline."""
        last = self._chunks[-1].data if self._chunks else b""
        return self._held_newlines + (1 if last and not last.endswith(b"\n") else 0)

    def _append(self, text: str, final: bool = False) -> None:
        # A pty turns "\n" into "\r\n"; a "\r" at the end of a chunk may be the first half.
        if self._pending_cr:
            text = "\r" + text
            self._pending_cr = False
        if not final and text.endswith("\r"):
            text = text[:-1]
            self._pending_cr = True
        if text:
            self._store(text.replace("\r\n", "\n").encode("utf-8"))

    def _store(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if not self._chunks or len(self._chunks[-1].data) >= CHUNK_SIZE:
                self._chunks.append(_Chunk())
            last = self._chunks[-1]
            piece = view[:CHUNK_SIZE - len(last.data)]
            before = len(last.data)
            last.data += piece
            count = last.data.count(b"\n", before)
            last.newlines += count
            self._held += len(piece)
            self._held_newlines += count
            view = view[len(piece):]
        self._drop_surplus_chunks()
        self._trim_bytes()

    def _drop_surplus_chunks(self) -> None:
        # Dropping the oldest chunk is safe once the rest still has more than max_lines newlines:
        # the last max_lines lines then lie entirely after it.
        while len(self._chunks) > 1 and self._held_newlines - self._chunks[0].newlines > self.max_lines:
            first = self._chunks.popleft()
            self._account_drop(len(first.data), first.newlines)

    def _trim_bytes(self) -> None:
        excess = self._held - self.max_bytes
        while excess > 0 and len(self._chunks) > 1 and len(self._chunks[0].data) <= excess:
            first = self._chunks.popleft()
            self._account_drop(len(first.data), first.newlines)
            excess -= len(first.data)
        if excess > 0:
            self._cut_first_chunk(excess)

    def _cut_first_chunk(self, count: int) -> None:
        first = self._chunks[0]
        cut = _char_boundary(first.data, count)
        newline = first.data.find(b"\n", cut, cut + LINE_SNAP)
        if newline >= 0 and (newline + 1 < len(first.data) or len(self._chunks) > 1):
            cut = newline + 1
        newlines = first.data.count(b"\n", 0, cut)
        del first.data[:cut]
        first.newlines -= newlines
        self._account_drop(cut, newlines)
        if not first.data and len(self._chunks) > 1:
            self._chunks.popleft()

    def _trim_lines_exactly(self) -> None:
        if self.line_count() <= self.max_lines:
            return
        data = b"".join(chunk.data for chunk in self._chunks)
        kept = tail(data, self.max_lines)
        cut = len(data) - len(kept)
        dropped_newlines = data.count(b"\n", 0, cut)
        chunk = _Chunk()
        chunk.data = bytearray(kept)
        chunk.newlines = self._held_newlines - dropped_newlines
        self._chunks = deque([chunk])
        self._account_drop(cut, dropped_newlines)

    def _account_drop(self, nbytes: int, newlines: int) -> None:
        self._held -= nbytes
        self._held_newlines -= newlines
        self._start += nbytes
        self.dropped_bytes += nbytes
        self.dropped_lines += newlines


def tail(data: bytes, lines: int) -> bytes:
    """The last `lines` lines of data (a final line without newline counts as one)."""
    if lines <= 0:
        return b""
    pos = len(data) - 1 if data.endswith(b"\n") else len(data)
    for _ in range(lines):
        pos = data.rfind(b"\n", 0, pos)
        if pos < 0:
            return data
    return data[pos + 1:]


def _char_boundary(data: bytearray, pos: int) -> int:
    """Move pos forward past UTF-8 continuation bytes, so a cut never splits a character."""
    while pos < len(data) and (data[pos] & 0xC0) == 0x80:
        pos += 1
    return pos
