"""The last minutes of a mail log, read from its end without reading the rest.

Used where the statistics of the last ``thresholds.log_window`` are needed at once: ``mailtop --check``'s
``logs`` check, and the dashboard's log monitor when it starts following a large log from its end (it
counts the window before its start, so rates and delays are there from the first screen).

``window_start`` walks back from ``end`` in chunks until a chunk's first whole line is older than
``since`` (or the file's start, or ``max_bytes``); ``window_lines`` then yields the complete lines from
there to ``end`` in lists, one chunk at a time, so a busy window (600,000 lines at 2,000 lines/s over
five minutes) is never held whole.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any, BinaryIO

from mailtop.logs.follow import Bounded, iter_text_lines

CHUNK = 256 * 1024
MAX_BYTES = 64 * 1024 * 1024
"""How far back a window is looked for at most (at ~130 bytes a line: ~500,000 lines)."""


def line_end(fh: BinaryIO, end: int, chunk: int = CHUNK) -> int:
    """The offset just after the last newline at or before ``end`` (0 when there is none): where the
    complete lines stop; a last line still being written waits for its newline."""
    pos = end
    while pos > 0:
        step = min(chunk, pos)
        pos -= step
        fh.seek(pos)
        nl = fh.read(step).rfind(b"\n")
        if nl >= 0:
            return pos + nl + 1
    return 0


def window_start(fh: BinaryIO, since: float, ts_of: Callable[[str], float], end: int,
                 max_bytes: int = MAX_BYTES, chunk: int = CHUNK) -> int:
    """The offset of the first line to read so that every line stamped at or after ``since`` before
    ``end`` is read (a few older lines too: the chunk where the walk stopped). ``ts_of(line)`` is the
    line's time (0 when it has none)."""
    pos = end
    head = b""  # the front of what was read, up to its first newline (what the next look needs)
    while pos > 0 and end - pos < max_bytes:
        step = min(chunk, pos)
        pos -= step
        fh.seek(pos)
        head = fh.read(step) + head
        first_nl = head.find(b"\n")
        if pos == 0 or first_nl < 0:
            continue
        second = head.find(b"\n", first_nl + 1)
        line = head[first_nl + 1: second if second >= 0 else len(head)].decode("utf-8", "replace")
        head = head[: first_nl + 1]
        ts = ts_of(line) if line else 0.0
        if ts and ts < since:
            break
    if pos == 0:
        return 0
    # drop the partial first line of the chunk where the walk stopped
    fh.seek(pos)
    while pos < end:
        piece = fh.read(min(chunk, end - pos))
        if not piece:
            return end
        nl = piece.find(b"\n")
        if nl >= 0:
            return pos + nl + 1
        pos += len(piece)
    return end


def window_lines(fh: BinaryIO, start: int, end: int, chunk: int = CHUNK) -> Iterator[list[str]]:
    """The lines between the offsets ``start`` and ``end`` (``end`` just after a newline), in lists."""
    fh.seek(start)
    yield from iter_text_lines(Bounded(fh, end - start), chunk)  # type: ignore[arg-type]


def events_since(parser: Any, batches: Iterable[list[str]], cutoff: float) -> Iterator[Any]:
    """The events (``parser.parse``) of the lines in ``batches`` stamped at or after ``cutoff``, parsed
    one at a time as a consumer takes them."""
    parse = parser.parse
    for lines in batches:
        for line in lines:
            ev = parse(line)
            if ev.ts >= cutoff:
                yield ev
