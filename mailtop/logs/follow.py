"""Follow mail log files by byte offset across rotation; read history (plain, ``.gz``, the journal).

``FileFollower(path)`` keeps an open file, its inode and a byte offset. Each ``read_new()`` returns the
complete lines appended since the last call (in large chunks; never the whole file in memory):

* rotation by rename (logrotate's default, ``create``): the new file has another inode; the old file is
  read to its end first, then the new one from offset 0;
* rotation by copy-truncate: the file shrinks (or its first line changes) under the same inode; the
  lines between our offset and the truncation are read from the copy (``PATH.1``) when it is there,
  then the file from offset 0;
* a deleted and re-created file: like a rename;
* a file that does not exist yet: nothing, until it appears (then read from its start);
* a line longer than ``max_line``: cut to ``max_line + 1`` characters (the parser then counts it as
  unparsed); a last line without a newline waits for its newline.

Bytes are decoded as UTF-8 with replacement characters: invalid bytes never raise.

``MailLogFollower(paths)`` follows several files (Postfix and Dovecot), parses the lines and yields
``LogEvent`` batches: ``poll()`` once, or ``batches(stop)`` as a blocking generator that waits for
change events (watchdog) with a poll as fallback.

``JournalFollower`` reads ``journalctl -o json`` (``-f`` to follow) where there is no log file, and
``read_lines(path)`` reads a whole file (``.gz`` too) line by line for reports.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import selectors
import subprocess
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from mailtop.logs.parse import MAX_LINE, LineParser, LogEvent

__all__ = [
    "FileFollower", "MailLogFollower", "JournalFollower", "ChangeWaiter", "read_lines", "journal_entry_to_line",
    "iter_text_lines", "iter_line_batches", "read_line_batches", "Bounded",
]

CHUNK = 1 << 20


def _decode(data: bytes) -> str:
    return data.decode("utf-8", "replace")


class _Stream:
    """One open file being read: its descriptor, identity, offset and unfinished last line."""

    __slots__ = ("fh", "inode", "offset", "pending", "skip", "fingerprint", "deadline")

    def __init__(self, fh: BinaryIO, inode: tuple[int, int], offset: int) -> None:
        self.fh = fh
        self.inode = inode
        self.offset = offset
        self.pending = b""
        self.skip = False
        self.fingerprint = b""
        self.deadline = 0.0


def _first_line(fh: BinaryIO) -> bytes:
    try:
        data = os.pread(fh.fileno(), 256, 0)
    except OSError:
        return b""
    nl = data.find(b"\n")
    return data[:nl + 1] if nl >= 0 else b""


class FileFollower:
    """Follow one file (see the module docstring). Not thread-safe; one reader thread.

    ``from_start``: read what is already in the file (True) or only what is appended from now on.
    ``max_bytes``: at most this much is read per ``read_new()`` call, so one call stays short even
    when a large file appears at once; the rest comes with the next calls.
    ``grace``: after a rotation by rename, the old file is still read for this many seconds (a
    writer that has not reopened its log yet keeps writing there).
    ``start``: ``((st_dev, st_ino), offset[, first_line])``: the caller has read what comes before
    ``offset`` (e.g. the dashboard's window). When the file is still that inode at the first open,
    reading begins at ``offset``; a truncation since then (copytruncate: the file shorter than
    ``offset``, or another first line than ``first_line``) is handled as any truncation (the rest
    from ``PATH.1``, then the file from its start). When the path is another file by then (rotated
    by rename), all of it comes after what the caller read: it is read from its start.
    """

    def __init__(self, path: str | os.PathLike[str], *, from_start: bool = False, chunk_size: int = CHUNK,
                 max_bytes: int = 16 * CHUNK, max_line: int = MAX_LINE, grace: float = 5.0,
                 start: tuple[tuple[int, int], int] | tuple[tuple[int, int], int, bytes] | None = None) -> None:
        self.path = Path(path)
        self.from_start = from_start
        self.start = start
        self.chunk_size = chunk_size
        self.max_bytes = max_bytes
        self.max_line = max_line
        self.grace = grace
        self._cur: _Stream | None = None
        self._retired: list[_Stream] = []
        self._started = False
        self.rotations = 0
        self.truncations = 0
        self.recovered_lines = 0
        self.error: OSError | None = None   # the last open/read error (e.g. permission denied)

    @property
    def offset(self) -> int:
        return self._cur.offset if self._cur else 0

    @property
    def inode(self) -> tuple[int, int] | None:
        return self._cur.inode if self._cur else None

    # ------------------------------------------------------------------ public
    def read_new(self) -> list[str]:
        """Complete lines appended since the last call (may be empty)."""
        out: list[str] = []
        budget = self.max_bytes
        if self._retired:
            budget -= self._drain_retired(out, budget)
        if self._cur is None and not self._open():
            return out
        # rotation and truncation first: reading at an old offset of a truncated file would give
        # the middle of other lines
        budget -= self._check_rotation(out, budget)
        if self._cur is not None and budget > 0:
            self._read(self._cur, out, budget)
        return out

    def close(self) -> None:
        for st in [*self._retired, self._cur]:
            if st is not None:
                st.fh.close()
        self._retired = []
        self._cur = None

    def __enter__(self) -> FileFollower:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ internals
    def _open(self) -> bool:
        initial = not self._started
        try:
            fh = open(self.path, "rb")  # noqa: SIM115 - kept open across calls
        except FileNotFoundError:
            self.error = None
            self._started = True    # when it appears, it is read from its start
            return False
        except OSError as exc:
            self.error = exc
            return False
        self.error = None
        self._started = True
        st = os.fstat(fh.fileno())
        stream = _Stream(fh, (st.st_dev, st.st_ino), 0)
        fingerprint = b""
        if initial and self.start is not None:
            if self.start[0] == stream.inode:
                # _check_rotation (next, in the same read_new) finds a truncation since the caller's read
                stream.offset = self.start[1]
                fingerprint = self.start[2] if len(self.start) > 2 else b""  # type: ignore[misc]
            else:
                self.rotations += 1  # replaced after the caller's read: read it whole, from offset 0
        elif initial and not self.from_start and st.st_size:
            stream.offset = st.st_size
            try:
                stream.skip = os.pread(fh.fileno(), 1, st.st_size - 1) != b"\n"
            except OSError:
                stream.skip = False
        stream.fingerprint = fingerprint or _first_line(fh)
        self._cur = stream
        return True

    def _read(self, st: _Stream, out: list[str], budget: int) -> int:
        """Read ``st`` from its offset to its end (or the budget). Returns the bytes read."""
        total = 0
        fd = st.fh.fileno()
        while total < budget:
            try:
                data = os.pread(fd, min(self.chunk_size, budget - total), st.offset)
            except OSError as exc:
                self.error = exc
                break
            if not data:
                break
            st.offset += len(data)
            total += len(data)
            self._feed(st, data, out)
        if not st.fingerprint and total:
            st.fingerprint = _first_line(st.fh)
        return total

    def _feed(self, st: _Stream, data: bytes, out: list[str]) -> None:
        if st.skip:
            nl = data.find(b"\n")
            if nl < 0:
                return
            data = data[nl + 1:]
            st.skip = False
        if st.pending:
            data = st.pending + data
            st.pending = b""
        last = data.rfind(b"\n")
        if last < 0:
            self._keep_partial(st, data, out)
            return
        lines = _decode(data[:last]).split("\n")
        limit = self.max_line
        if limit:
            lines = [ln if len(ln) <= limit else ln[:limit + 1] for ln in lines]
        out.extend(lines)
        if last + 1 < len(data):
            self._keep_partial(st, data[last + 1:], out)

    def _keep_partial(self, st: _Stream, data: bytes, out: list[str]) -> None:
        if self.max_line and len(data) > self.max_line * 4:
            # far too long for a log line: keep its start (the parser counts it unparsed), skip the rest
            out.append(_decode(data[: self.max_line * 4])[: self.max_line + 1])
            st.skip = True
            return
        st.pending = data

    def _flush_partial(self, st: _Stream, out: list[str]) -> None:
        if st.pending:
            out.append(_decode(st.pending)[: self.max_line + 1])
            st.pending = b""
        st.skip = False

    def _drain_retired(self, out: list[str], budget: int) -> int:
        used = 0
        now = time.monotonic()
        keep = []
        for st in self._retired:
            used += self._read(st, out, budget - used)
            if now >= st.deadline:
                self._flush_partial(st, out)
                st.fh.close()
            else:
                keep.append(st)
        self._retired = keep
        return used

    def _check_rotation(self, out: list[str], budget: int) -> int:
        """Switch files on rotation; rewind on truncation. Returns the bytes read doing so."""
        cur = self._cur
        assert cur is not None
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return 0          # renamed or deleted; keep reading the old file until a new one appears
        except OSError as exc:
            self.error = exc
            return 0
        if (st.st_dev, st.st_ino) != cur.inode:
            # rotated by rename (or deleted and re-created): read the old file to its end, keep it
            # open for a grace period (writers reopen their log a little later), then the new one
            used = self._read(cur, out, budget)
            cur.deadline = time.monotonic() + self.grace
            if self.grace > 0:
                self._retired.append(cur)
            else:
                self._flush_partial(cur, out)
                cur.fh.close()
            self._cur = None
            self.rotations += 1
            self._open()
            return used
        size = os.fstat(cur.fh.fileno()).st_size
        truncated = size < cur.offset
        if not truncated and cur.fingerprint and size > 0:
            head = _first_line(cur.fh)
            truncated = bool(head) and head != cur.fingerprint
        if truncated:
            self._recover_from_copy(cur, out)
            self.truncations += 1
            cur.offset = 0
            cur.pending = b""
            cur.skip = False
            cur.fingerprint = _first_line(cur.fh)
        return 0

    def _recover_from_copy(self, cur: _Stream, out: list[str]) -> None:
        """copytruncate: what we had not read yet is in PATH.1 (when logrotate made a plain copy)."""
        copy = self.path.with_name(self.path.name + ".1")
        n0 = len(out)
        try:
            with open(copy, "rb") as fh:
                if not cur.fingerprint or _first_line(fh) != cur.fingerprint:
                    return
                size = os.fstat(fh.fileno()).st_size
                if size < cur.offset:
                    return
                pos = cur.offset
                while True:
                    data = os.pread(fh.fileno(), self.chunk_size, pos)
                    if not data:
                        break
                    pos += len(data)
                    self._feed(cur, data, out)
                self._flush_partial(cur, out)
        except FileNotFoundError:
            return
        except OSError as exc:
            self.error = exc
        self.recovered_lines += len(out) - n0


class ChangeWaiter:
    """Wait until one of some files may have changed: watchdog events, else a plain timeout (poll).

    ``wait(timeout)`` returns True when an event came, False on timeout. ``using_watchdog`` says which.
    """

    def __init__(self, paths: Iterable[str | os.PathLike[str]], use_watchdog: bool = True) -> None:
        self._event = threading.Event()
        self._observer = None
        self.using_watchdog = False
        self.fallback_reason = ""
        if not use_watchdog:
            self.fallback_reason = "disabled"
            return
        try:
            from watchdog.events import FileSystemEventHandler
            from watchdog.observers import Observer
        except ImportError as exc:
            self.fallback_reason = f"watchdog not available: {exc}"
            return
        waiter = self._event
        names = {Path(p).name for p in paths}

        class _Handler(FileSystemEventHandler):
            def on_any_event(self, event) -> None:  # noqa: ANN001 - watchdog's type
                src = os.path.basename(str(getattr(event, "src_path", "")))
                dst = os.path.basename(str(getattr(event, "dest_path", "") or ""))
                if src in names or dst in names or any(src.startswith(n) for n in names):
                    waiter.set()

        try:
            obs = Observer()
            for d in {str(Path(p).resolve().parent) for p in paths}:
                if os.path.isdir(d):
                    obs.schedule(_Handler(), d, recursive=False)
            obs.daemon = True
            obs.start()
        except (OSError, RuntimeError) as exc:
            self.fallback_reason = f"watchdog could not start: {exc}"
            return
        self._observer = obs
        self.using_watchdog = True

    def wait(self, timeout: float) -> bool:
        got = self._event.wait(timeout)
        self._event.clear()
        return got

    def wake(self) -> None:
        self._event.set()

    def close(self) -> None:
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout=2)
            self._observer = None


class MailLogFollower:
    """Follow several mail log files and parse them: the dashboard's source of ``LogEvent`` batches.

    Use from a worker thread (the parser keeps state: one thread only)::

        follower = MailLogFollower(cfg.logs.files, from_start=False)
        stop = threading.Event()
        for batch in follower.batches(stop, poll_interval=cfg.refresh.log):
            stats.add_all(batch)          # LogStats; queries from the UI thread are locked
            ...                            # hand the batch to the UI (call_from_thread / post_message)
        follower.close()

    ``batches`` yields a list for every change (an empty list at most every ``idle_every`` seconds, so
    a caller can notice ``stop``), and returns when ``stop`` is set. ``errors()`` lists files that
    cannot be read (permission denied ...), for a finding.
    """

    def __init__(self, paths: Iterable[str | os.PathLike[str]], *, from_start: bool = False,
                 use_watchdog: bool = True, reference_time: float | None = None,
                 starts: dict[str, tuple[tuple[int, int], int]] | None = None) -> None:
        self.paths = [Path(p) for p in paths]
        starts = starts or {}
        self.followers = [FileFollower(p, from_start=from_start, start=starts.get(str(p))) for p in self.paths]
        self.parser = LineParser(reference_time)
        self._use_watchdog = use_watchdog
        self.waiter: ChangeWaiter | None = None

    def poll_lines(self) -> list[str]:
        out: list[str] = []
        for f in self.followers:
            out.extend(f.read_new())
        return out

    def poll(self) -> list[LogEvent]:
        parse = self.parser.parse
        return [parse(line) for line in self.poll_lines()]

    def errors(self) -> list[tuple[Path, OSError]]:
        return [(f.path, f.error) for f in self.followers if f.error is not None]

    def batches(self, stop: threading.Event, poll_interval: float = 0.5, idle_every: float = 1.0
                ) -> Iterator[list[LogEvent]]:
        if self.waiter is None:
            self.waiter = ChangeWaiter(self.paths, use_watchdog=self._use_watchdog)
        last_yield = time.monotonic()
        while not stop.is_set():
            batch = self.poll()
            now = time.monotonic()
            if batch or now - last_yield >= idle_every:
                last_yield = now
                yield batch
            if not batch:
                # watchdog wakes us at once; the timeout is the poll fallback (and catches missed events)
                self.waiter.wait(poll_interval)

    def close(self) -> None:
        for f in self.followers:
            f.close()
        if self.waiter is not None:
            self.waiter.close()
            self.waiter = None


# ----------------------------------------------------------------------------- whole files


class Bounded:
    """The next ``size`` bytes of a binary file from its current position, as a file-like ``read``:
    a part of a log for the line iterators below (a window of it, one process's share of a report)."""

    __slots__ = ("fh", "left")

    def __init__(self, fh: BinaryIO, size: int) -> None:
        self.fh = fh
        self.left = size

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        data = self.fh.read(self.left if n < 0 else min(n, self.left))
        self.left -= len(data)
        return data


def iter_text_lines(fh: BinaryIO, chunk_size: int = CHUNK, max_line: int = MAX_LINE) -> Iterator[list[str]]:
    """Lines of a binary stream, in lists (one per chunk), decoded with replacement characters.

    Splits on ``\\n`` only (like syslog readers; a ``\\r`` or form feed stays inside its line).
    """
    for lines, _plain in iter_line_batches(fh, chunk_size, max_line):
        yield lines


def block_lines(data: bytes, max_line: int = MAX_LINE) -> tuple[list[str], bool]:
    """The lines of ``data`` (bytes without the newline after the last line), decoded, each cut at
    ``max_line`` characters (one more kept, as ``iter_text_lines`` does), and the flag of
    ``iter_line_batches``."""
    text = _decode(data)
    plain = "\r" not in text
    lines = text.split("\n")
    if max_line and max(map(len, lines)) > max_line:
        plain = False
        for i, ln in enumerate(lines):
            if len(ln) > max_line:
                lines[i] = ln[: max_line + 1]
    return lines, plain


def iter_line_batches(fh: BinaryIO, chunk_size: int = CHUNK, max_line: int = MAX_LINE, raw: bool = False
                      ) -> Iterator[tuple[list[str], bool] | bytes]:
    """``iter_text_lines`` with a flag per batch: True when no line holds a ``\\r`` and none was cut
    at ``max_line`` (the report's fast path reads only such batches itself). With ``raw``, a batch
    whose lines end with a newline is given as its bytes instead (``block_lines`` makes the lines;
    the report's C classifier reads the bytes)."""
    pending = b""
    while True:
        data = fh.read(chunk_size)
        if not data:
            break
        if pending:
            data = pending + data
        last = data.rfind(b"\n")
        if last < 0:
            pending = data
            if len(pending) > max_line * 4:
                # a huge line without a newline: keep its start only
                yield [_decode(pending[: max_line * 4])[: max_line + 1]], False
                pending = b""
                _skip = True
                while _skip:
                    data = fh.read(chunk_size)
                    if not data:
                        return
                    nl = data.find(b"\n")
                    if nl >= 0:
                        pending = data[nl + 1:]
                        _skip = False
            continue
        pending = data[last + 1:]
        yield data[:last] if raw else block_lines(data[:last], max_line)
    if pending:
        text = _decode(pending)
        yield [text[: max_line + 1]], "\r" not in text and len(text) <= max_line


@contextlib.contextmanager
def open_log(path: str | os.PathLike[str] | None) -> Iterator[BinaryIO]:
    """A binary stream of a log: ``None`` or ``-`` is stdin; ``.gz`` is decompressed as it is read."""
    if path is None or str(path) == "-":
        import sys

        yield sys.stdin.buffer
        return
    p = Path(path)
    fh: BinaryIO
    raw = open(p, "rb")  # noqa: SIM115
    try:
        magic = raw.peek(2)[:2]          # not read: a named pipe cannot seek back
        if magic == b"\x1f\x8b":
            fh = gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[assignment]
        else:
            fh = raw
        yield fh
    finally:
        raw.close()


def read_lines(path: str | os.PathLike[str] | None) -> Iterator[list[str]]:
    """Batches of lines of a whole file (``.gz`` read directly; ``None``/``-`` is stdin)."""
    for lines, _plain in read_line_batches(path):
        yield lines


def read_line_batches(path: str | os.PathLike[str] | None, chunk_size: int = CHUNK, raw: bool = False
                      ) -> Iterator[tuple[list[str], bool] | bytes]:
    """``read_lines`` with ``iter_line_batches``' flag per batch (``raw``: see there)."""
    with open_log(path) as fh:
        try:
            yield from iter_line_batches(fh, chunk_size, raw=raw)
        except (EOFError, gzip.BadGzipFile, OSError) as exc:
            if isinstance(exc, OSError) and not isinstance(exc, gzip.BadGzipFile) and exc.errno is not None:
                raise
            raise OSError(f"{path}: damaged or truncated gzip file ({exc})") from exc


# ----------------------------------------------------------------------------- journal

_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _field_text(value: object) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):   # journald gives non-UTF-8 or binary fields as a list of byte values
        try:
            return bytes(int(b) & 0xFF for b in value).decode("utf-8", "replace")
        except (TypeError, ValueError):
            return ""
    if value is None:
        return ""
    return str(value)


def journal_entry_to_line(entry: dict) -> str | None:
    """One ``journalctl -o json`` entry -> a syslog line with an RFC 3339 timestamp (None: no message)."""
    msg = _field_text(entry.get("MESSAGE"))
    if not msg:
        return None
    try:
        us = int(_field_text(entry.get("__REALTIME_TIMESTAMP") or entry.get("_SOURCE_REALTIME_TIMESTAMP")))
    except ValueError:
        return None
    stamp = datetime.fromtimestamp(us / 1e6).astimezone().isoformat(timespec="microseconds")
    host = _field_text(entry.get("_HOSTNAME")) or "localhost"
    ident = _field_text(entry.get("SYSLOG_IDENTIFIER")) or _field_text(entry.get("_COMM")) or "unknown"
    pid = _field_text(entry.get("SYSLOG_PID")) or _field_text(entry.get("_PID"))
    tag = f"{ident}[{pid}]" if pid else ident
    msg = msg.replace("\n", " ")
    return f"{stamp} {host} {tag}: {msg}"


class JournalFollower:
    """Mail lines from the systemd journal (``journalctl -o json``), as syslog lines.

    The default command reads the mail facility (``SYSLOG_FACILITY=2``) and, with ``follow``, waits for
    more (``-f``); ``argv`` replaces the whole command. ``poll(timeout)`` returns the lines available
    within ``timeout`` seconds; ``eof`` is set when journalctl ends; ``close()`` ends journalctl.
    Its stderr is read as it comes (the last ``STDERR_KEEP`` bytes kept): a journalctl with many
    warnings (one per corrupted or unreadable journal file) must not block on a full pipe.
    """

    STDERR_KEEP = 8192
    MAX_READ = 8 * CHUNK
    """Bytes of journalctl's output read per ``poll`` at most (~8,000 entries)."""
    MORE_WAIT = 0.01
    """Seconds a poll waits for more output once the pipe is empty, before it returns."""

    DEFAULT_ARGS = ("-o", "json", "--no-pager", "SYSLOG_FACILITY=2")

    def __init__(self, journalctl: str = "journalctl", *, follow: bool = True, lines: int = 0,
                 extra_args: Iterable[str] = (), argv: list[str] | None = None) -> None:
        if argv is None:
            argv = [journalctl, *self.DEFAULT_ARGS, "-n", str(lines) if follow else "all"]
            if follow:
                argv.append("-f")
            argv.extend(extra_args)
        self.argv = argv
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        self._sel = selectors.DefaultSelector()
        assert self.proc.stdout is not None
        os.set_blocking(self.proc.stdout.fileno(), False)
        self._sel.register(self.proc.stdout, selectors.EVENT_READ)
        assert self.proc.stderr is not None
        os.set_blocking(self.proc.stderr.fileno(), False)
        self._sel.register(self.proc.stderr, selectors.EVENT_READ)
        self._err = b""
        self._err_open = True
        self._buf = b""
        self.bad_entries = 0
        self.eof = False
        self.cursor = ""
        """The journal cursor of the last entry read (``journalctl --after-cursor`` goes on from it)."""

    def poll(self, timeout: float = 0.5) -> list[str]:
        out: list[str] = []
        if self.eof:
            return out
        assert self.proc.stdout is not None
        ready = self._sel.select(timeout)
        self._drain_stderr()
        if not ready:
            return out
        # Read on while journalctl has more (a backlog, a busy host): it blocks on the 64 KiB pipe as
        # soon as it is full, so one read per poll gave ~230 entries a second and the panel fell
        # further behind a busy journal. At most MAX_READ bytes per poll (memory; the caller's turn).
        fd = self.proc.stdout.fileno()
        parts = [self._buf]
        total = 0
        while total < self.MAX_READ:
            try:
                data = os.read(fd, CHUNK)
            except BlockingIOError:
                if not self._sel.select(self.MORE_WAIT):
                    break
                self._drain_stderr()
                continue
            if not data:
                self.eof = True
                break
            parts.append(data)
            total += len(data)
        *complete, self._buf = b"".join(parts).split(b"\n")
        if self.eof and self._buf:
            complete.append(self._buf)
            self._buf = b""
        for raw in complete:
            if not raw.strip():
                continue
            try:
                entry = json.loads(raw)
            except ValueError:
                self.bad_entries += 1
                continue
            if not isinstance(entry, dict):
                self.bad_entries += 1
                continue
            cursor = entry.get("__CURSOR")
            if isinstance(cursor, str):
                self.cursor = cursor
            line = journal_entry_to_line(entry)
            if line is not None:
                out.append(line)
        return out

    def _drain_stderr(self) -> None:
        if not self._err_open or self.proc.stderr is None:
            return
        while True:
            try:
                data = os.read(self.proc.stderr.fileno(), 65536)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._err_open = False
                with contextlib.suppress(KeyError, ValueError):
                    self._sel.unregister(self.proc.stderr)
                return
            self._err = (self._err + data)[-self.STDERR_KEEP:]

    def stderr_text(self) -> str:
        """What journalctl wrote to stderr (its last ``STDERR_KEEP`` bytes), once it has ended."""
        if self.proc.poll() is None:
            return ""
        self._drain_stderr()
        return _decode(self._err)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self._sel.close()
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=2)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def for_each_input(paths, errors, consume) -> None:
    """Call ``consume(path, mtime)`` for each input of a report (``None`` is stdin, mtime ``None``).

    An unreadable input is appended to ``errors`` as ``(name, OSError)`` and the others still run; with
    ``errors=None`` the error is raised. Shared by the full and the fast report paths.
    """
    for path in paths:
        ref = None
        if path is not None:
            try:
                ref = os.stat(path).st_mtime
            except OSError as exc:
                if errors is None:
                    raise
                errors.append((str(path), exc))
                continue
        try:
            consume(path, ref)
        except OSError as exc:
            if errors is None:
                raise
            errors.append((str(path) if path else "stdin", exc))
