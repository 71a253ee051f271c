"""Read the Postfix queue: one ``postqueue -j`` per refresh, read as a stream.

Also reads the text listing (``postqueue -p`` of Postfix < 3.1, or any ``mailq`` command, Sendmail
included) through ``mailtop.mta.mailq_text`` when ``[postfix] queue_format`` says so or ``-j`` is
refused. The next retry time of a deferred message is its queue file's modification time (Postfix's
qmgr sets it to the time of the next attempt; verified against Postfix 3.7), read when the queue
folder is readable (root or the postfix user).

Nothing here changes the queue: actions live in ``mailtop.mta.actions``.
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

# The records and the summary builder are imported where they are used: ``summarize()`` starts
# ``postqueue`` first and imports them while it runs (start-up of ``mailtop queue`` overlaps the
# listing). Only light modules are imported before the listing starts.
if TYPE_CHECKING:
    from mailtop.mta.records import QueueEntry, QueueSummary, Snapshot
    from mailtop.mta.summary import SummaryBuilder

from mailtop.mta.early import find_program

if TYPE_CHECKING:
    from mailtop.mta.early import EarlyListing

DEFAULT_CONFIG_DIR = Path("/etc/postfix")


class QueueError(RuntimeError):
    """The queue could not be read at all; the message says what is missing and what to do."""


def _json_loads(text: bytes | str) -> Any:
    """``json.loads``, imported on first use (not before postqueue starts: 1.3 ms); then this name is
    ``json.loads`` itself."""
    global _json_loads
    import json

    _json_loads = json.loads
    return json.loads(text)


def parse_json_record(line: bytes | str) -> dict[str, Any] | None:
    """One ``postqueue -j`` line -> the object, or None when it is not a valid queue record.

    ``queue_id``, ``queue_name`` and ``arrival_time`` (a finite number) are required; ``message_size`` (default 0) and
    ``recipients`` (default none) are optional, but of the right type when present, as is each
    recipient's ``delay_reason``."""
    try:
        d = _json_loads(line)
    except ValueError:
        return None
    if not isinstance(d, dict):
        return None
    qid = d.get("queue_id")
    qname = d.get("queue_name")
    arrival = d.get("arrival_time")
    size = d.get("message_size", 0)
    rcpts = d.get("recipients", [])
    if (
        not isinstance(qid, str) or not qid
        or not isinstance(qname, str)
        or not isinstance(arrival, (int, float)) or isinstance(arrival, bool)
        or not -1e300 < arrival < 1e300  # NaN, infinities, ints too large for a float: ages cannot be computed
        or not isinstance(size, int) or isinstance(size, bool)
        or not isinstance(rcpts, list)
    ):
        return None
    for r in rcpts:
        if not isinstance(r, dict) or not isinstance(r.get("address", None), str) \
                or not isinstance(r.get("delay_reason", ""), str):
            return None
    return d


_entry_types: tuple[Any, Any] | None = None


def _record_types() -> tuple[Any, Any]:
    """(QueueEntry, Recipient), imported on first use (an import statement per entry costs 0.4 us)."""
    global _entry_types
    if _entry_types is None:
        from mailtop.mta.records import QueueEntry, Recipient

        _entry_types = (QueueEntry, Recipient)
    return _entry_types


def entry_from_record(d: dict[str, Any], next_retry: float | None = None) -> QueueEntry:
    QueueEntry, Recipient = _record_types()
    return QueueEntry(
        queue=d["queue_name"],
        queue_id=d["queue_id"],
        arrival=float(d["arrival_time"]),
        size=int(d.get("message_size", 0)),
        sender=str(d.get("sender", "")),
        recipients=tuple(
            Recipient(address=r["address"], reason=str(r.get("delay_reason", ""))) for r in d.get("recipients", ())
        ),
        forced_expire=bool(d.get("forced_expire", False)),
        next_retry=next_retry,
    )


def feed_json_lines(
    builder: SummaryBuilder,
    lines: Iterable[bytes | str],
    on_entry: Callable[[QueueEntry], None] | None = None,
    retry: _Retry | None = None,
) -> int:
    """Add ``postqueue -j`` lines to ``builder`` (malformed ones skipped and counted); returns the
    number of records added. With ``on_entry``, each record also becomes a ``QueueEntry`` handed to it;
    without, no per-message object is made."""
    add_raw = builder.add_raw
    parse = parse_json_record
    n = 0
    for line in lines:
        if not line.strip():
            continue
        d = parse(line)
        if d is None:
            builder.skip(f"malformed postqueue -j line: {line[:120]!r}")
            continue
        n += 1
        if on_entry is not None:
            nr = None
            if retry is not None and retry.keep_map and d["queue_name"] == "deferred":
                retry.join()  # the walk is usually done before the first line arrives
                nr = retry.times.get(d["queue_id"])
            entry = entry_from_record(d, nr)
            builder.add(entry)
            on_entry(entry)
        else:
            # message_size and recipients are optional (parse_json_record, entry_from_record): 0 and none
            add_raw(d["queue_name"], d["queue_id"], d["arrival_time"], d.get("message_size", 0),
                    [(r["address"], r.get("delay_reason", "")) for r in d.get("recipients", ())])
    return n


# The fast path of the summary. postqueue -j writes each record on one line, always in this form
# (Postfix's showq_json.c): keys in this order, ", " and ": " between them. A line that has exactly
# this form, with no backslash escape in its strings, is valid JSON whose values the groups below
# give directly, so the summary needs no json.loads and no dict per message. Any other line (escapes,
# another key order, malformed) goes through parse_json_record like before: same results, same
# skipped count.
_TEXT = r'[^"\\\x00-\x1f]*'  # the inside of a JSON string without escapes (JSON forbids raw controls)


def _rcpt_re(address: str, reason: str) -> str:
    """One recipient object; ``address`` and ``reason`` are the patterns of the two values."""
    return (r'\{"address": ' + address + r'(?:, "orig_address": "' + _TEXT + r'")?'
            r'(?:, "delay_reason": "' + reason + r'")?\}')


_LINE_PATTERN = (
    r'\{"queue_name": "(' + _TEXT + r')", "queue_id": "([^"\\\x00-\x1f]+)", '
    # JSON integers without sign, fraction, exponent or leading zero, below 1e18 (others: the slow path)
    r'"arrival_time": (0|[1-9][0-9]{0,17}), "message_size": (0|[1-9][0-9]{0,17}), '
    r'"forced_expire": (?:true|false), "sender": "' + _TEXT + r'", "recipients": \['
    # the first recipient: its address behind its opening quote (so '' means "no recipient"), its reason
    + r'(?:' + _rcpt_re('("' + _TEXT + ')"', '(' + _TEXT + ')')
    # the others, checked here, split by _MORE_RCPTS_PATTERN
    + r'((?:, ' + _rcpt_re('"' + _TEXT + '"', _TEXT) + r')*))?\]\}\n'
    r'|([^\n]*\n)'  # any other line
)
_MORE_RCPTS_PATTERN = _rcpt_re('"(' + _TEXT + ')"', '(' + _TEXT + ')')
_compiled: tuple[re.Pattern[str], re.Pattern[str]] | None = None


def _fast_patterns() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(line, more recipients), compiled on first use: 0.5 ms that ``mailtop queue`` spends while
    postqueue runs rather than before it starts."""
    global _compiled
    if _compiled is None:
        _compiled = (re.compile(_LINE_PATTERN), re.compile(_MORE_RCPTS_PATTERN))
    return _compiled


def feed_json_blocks(builder: SummaryBuilder, blocks: Iterable[bytes]) -> int:
    """Add ``postqueue -j`` output given in blocks of whole lines (the last block may end without a
    line end) to ``builder``; returns the number of records added. The summary's fast path: the
    same results as ``feed_json_lines`` on the same lines (tests/unit/test_queue_fast.py)."""
    add_many = builder.add_many
    line_re, more_re = _fast_patterns()
    findall = line_re.findall
    more = more_re.findall
    n = 0
    for block in blocks:
        if not block.endswith(b"\n"):  # the end of the output without its line end
            cut = block.rfind(b"\n") + 1
            n += feed_json_blocks(builder, (block[:cut],)) if cut else 0
            n += feed_json_lines(builder, (block[cut:],))
            continue
        try:
            text = block.decode("utf-8")
        except UnicodeDecodeError:
            n += feed_json_lines(builder, _split_lines(block))
            continue
        batch = []
        add = batch.append
        for qname, qid, arrival, size, first, reason, rest, other in findall(text):
            if other:
                # not in the canonical form: the reference parser, in its place in the order
                add_many(batch)
                n += len(batch)
                batch = []
                add = batch.append
                n += feed_json_lines(builder, (other.encode("utf-8"),))
                continue
            if not first:
                rcpts: Any = ()
            elif not rest:
                rcpts = ((first[1:], reason),)
            else:
                rcpts = [(first[1:], reason), *more(rest)]
            add((qname, qid, int(arrival), int(size), rcpts, None))
        add_many(batch)
        n += len(batch)
    return n


def summarize_json_lines(
    lines: Iterable[bytes | str], now: float, *, shapes: bool = True, reasons: bool = True
) -> QueueSummary:
    """The summary of saved ``postqueue -j`` output (a file, a capture), as ``summarize()`` makes it."""
    from mailtop.mta.summary import SummaryBuilder

    builder = SummaryBuilder(now, "postqueue -j", shapes=shapes, reasons=reasons)
    feed_json_lines(builder, lines)
    return builder.result()


class _Retry:
    """Next-retry times from the deferred queue folder's file modification times (a thread).

    ``locate`` finds the queue folder (``postconf``, a few ms); it runs in the thread too, so the
    listing, started before, never waits for it."""

    def __init__(self, locate: Callable[[], Path | None] | None, keep_map: bool) -> None:
        self.locate = locate
        self.queue_dir: Path | None = None
        self.keep_map = keep_map
        self.times: dict[str, float] = {}
        self.soonest: float | None = None
        self.error = ""
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.locate is None:
            return
        self._thread = threading.Thread(target=self._run, name="mailtop-queue-mtimes", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        assert self.locate is not None
        self.queue_dir = self.locate()
        if self.queue_dir is not None:
            self._walk()

    def _walk(self) -> None:
        assert self.queue_dir is not None
        # Each folder is opened once and its files stat()ed relative to it (fstatat): no walk of the
        # whole path per file, about a fifth less time (which the listing, running at the same time
        # on a busy machine, gets).
        stack = [str(self.queue_dir / "deferred")]
        soonest: float | None = None
        keep = self.times if self.keep_map else None
        flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            while stack:
                folder = stack.pop()
                fd = os.open(folder, flags)
                try:
                    with os.scandir(fd) as it:
                        for ent in it:
                            try:
                                if ent.is_dir(follow_symlinks=False):
                                    stack.append(os.path.join(folder, ent.name))
                                    continue
                                mtime = ent.stat(follow_symlinks=False).st_mtime
                            except FileNotFoundError:  # delivered or moved while we looked
                                continue
                            if keep is not None:
                                keep[ent.name] = mtime
                            if soonest is None or mtime < soonest:
                                soonest = mtime
                finally:
                    os.close(fd)
        except PermissionError:
            self.error = f"next retry times unknown: {self.queue_dir}/deferred is not readable (needs root)"
            return
        except FileNotFoundError:
            self.error = f"next retry times unknown: {self.queue_dir}/deferred does not exist"
            return
        self.soonest = soonest

    def join(self) -> None:
        if self._thread is not None:
            self._thread.join()


def _scratch_file() -> IO[bytes]:
    """An anonymous file for a child's stderr (a pipe could fill up and stall it)."""
    try:
        return os.fdopen(os.memfd_create("mailtop-stderr", os.MFD_CLOEXEC), "w+b")
    except (AttributeError, OSError):  # not Linux, or memfd refused
        import tempfile

        return tempfile.TemporaryFile()


def _grow_pipe(fd: int, size: int) -> None:
    """Ask for a pipe buffer of ``size`` bytes (Linux ``F_SETPIPE_SZ``); keep the default if refused."""
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, size)
    except (ImportError, AttributeError, OSError):  # not Linux, or above /proc/sys/fs/pipe-max-size
        pass


def _split_lines(block: bytes) -> Iterator[bytes]:
    """The lines of ``block``, each with its ``\\n`` (as iterating over a binary file gives them)."""
    start = 0
    find = block.find
    while (end := find(b"\n", start) + 1) > 0:
        yield block[start:end]
        start = end
    if start < len(block):
        yield block[start:]


class _Listing:
    """One listing command, started at once; its stdout read in blocks of whole lines."""

    PIPE_SIZE = 1 << 20  # asked for: postqueue never waits for the reader (a parse burst, a GC pass)
    READ_SIZE = 1 << 16
    BLOCK = 1 << 15

    def __init__(self, argv: list[str], timeout: float, started: EarlyListing | None = None) -> None:
        """Start ``argv``; or, with ``started``, take over that process (``mailtop.mta.early``, the
        same command started before the CLI was imported): its timeout counts from its start."""
        self.argv = argv
        self.timeout = timeout
        self.proc: Any
        if started is not None:
            self._err = os.fdopen(started.adopt(), "w+b")
            self.proc = started
            timeout = max(0.0, timeout - (time.time() - started.started))
        else:
            self._err = _scratch_file()
            try:
                self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                             stderr=self._err, bufsize=0)
            except OSError as exc:
                self._err.close()
                raise QueueError(f"cannot run {argv[0]}: {exc.strerror}") from None
        self._finished = False
        self.timed_out = threading.Event()
        self._timer = threading.Timer(timeout, self._kill)
        self._timer.daemon = True
        self._timer.start()

    def _kill(self) -> None:
        self.timed_out.set()
        self.proc.kill()

    def blocks(self) -> Iterator[bytes]:
        """stdout as it arrives, in blocks of whole lines of at least ``BLOCK`` bytes (the last may be
        shorter and lack its line end).

        postqueue writes each record with its own write(), so most reads return one line: they are
        gathered into blocks before the caller sees them (the per-block work, not the per-read one,
        is what costs). The reader stays blocked in read() rather than sleeping between reads: it
        is then woken where postqueue runs, and showq, the listing's bottleneck, keeps its CPU to
        itself (measured on the lab's 2 CPUs: a reader that slept 2 ms between reads made
        ``postqueue -j`` of 100k messages ~8% slower). All reads go into one buffer: os.read(fd, n)
        would allocate (mmap) n bytes per call, and the munmap's TLB shootdowns also slow the
        other CPUs."""
        assert self.proc.stdout is not None
        stdout = self.proc.stdout  # unbuffered (bufsize=0): one read() per readinto()
        _grow_pipe(stdout.fileno(), self.PIPE_SIZE)
        view = memoryview(bytearray(self.READ_SIZE))
        readinto, block = stdout.readinto, self.BLOCK
        gathered = bytearray()
        while n := readinto(view):
            gathered += view[:n]
            if len(gathered) < block:
                continue
            cut = gathered.rfind(b"\n") + 1
            if cut:
                yield bytes(gathered[:cut])
                del gathered[:cut]
        if gathered:
            cut = gathered.rfind(b"\n") + 1
            if cut:
                yield bytes(gathered[:cut])
            if cut < len(gathered):
                yield bytes(gathered[cut:])

    def finish(self, check: bool = True) -> None:
        """Stop the timer, reap the process; with ``check``, raise QueueError when it failed. Once."""
        if self._finished:
            return
        self._finished = True
        self._timer.cancel()
        proc = self.proc
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
        with self._err:
            if not check or proc.returncode == 0:
                return
            self._err.seek(0)
            msg = self._err.read(4096).decode("utf-8", "replace").strip()
        if self.timed_out.is_set():
            msg = f"timed out after {self.timeout:g} s ([postfix] queue_timeout) {msg}".strip()
        raise QueueError(_explain(self.argv, proc.returncode, msg))


class PostfixQueue:
    """The read side of one Postfix instance's queue.

    Parameters are plain values so tests and other instances can point it anywhere; ``from_config``
    builds it from ``Config``.
    """

    name = "postfix"

    def __init__(
        self,
        config_dir: Path = DEFAULT_CONFIG_DIR,
        bin_dir: Path = Path("/usr/sbin"),
        *,
        queue_format: str = "auto",
        mailq_command: str = "",
        timeout: float = 300.0,
        next_retry: bool = True,
    ) -> None:
        self.config_dir = Path(config_dir)
        self.bin_dir = Path(bin_dir)
        self.queue_format = queue_format
        self.mailq_command = mailq_command
        self.timeout = timeout
        self.next_retry = next_retry
        self._queue_dir: Path | None | bool = False  # False: not looked up yet

    @classmethod
    def from_config(cls, cfg: Any) -> PostfixQueue:
        pf = cfg.postfix
        return cls(
            pf.config_dir, pf.bin_dir, queue_format=pf.queue_format, mailq_command=pf.mailq_command,
            timeout=pf.queue_timeout, next_retry=pf.next_retry,
        )

    # ------------------------------------------------------------------ commands

    def _config_args(self) -> list[str]:
        # postqueue refuses a non-default -c for non-root users unless alternate_config_directories
        # lists it; the default one needs no -c.
        if self.config_dir.resolve() == DEFAULT_CONFIG_DIR:
            return []
        return ["-c", str(self.config_dir)]

    def program(self, name: str) -> str:
        exe = find_program(name, self.bin_dir)
        if exe is None:
            raise QueueError(f"{name} not found in {self.bin_dir} or on PATH: is Postfix installed? "
                             f"(set [postfix] bin_dir)")
        return exe

    def listing_argv(self, fmt: str = "json") -> list[str]:
        """The command that lists the queue: ``postqueue [-c DIR] -j`` (or ``-p``, or the mailq command)."""
        if fmt == "mailq":
            import shlex

            return shlex.split(self.mailq_command)
        return [self.program("postqueue"), *self._config_args(), "-j" if fmt == "json" else "-p"]

    def queue_directory(self) -> Path | None:
        """``queue_directory`` of this instance (``postconf -h``), None when unknown."""
        if self._queue_dir is not False:
            return self._queue_dir  # type: ignore[return-value]
        qdir: Path | None = None
        exe = find_program("postconf", self.bin_dir)
        if exe:
            argv = [exe, *(["-c", str(self.config_dir)] if self._config_args() else []), "-h", "queue_directory"]
            try:
                out = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
                if out.returncode == 0 and out.stdout.strip():
                    qdir = Path(out.stdout.strip())
            except (OSError, subprocess.TimeoutExpired):
                qdir = None
        self._queue_dir = qdir
        return qdir

    def _format(self) -> str:
        if self.mailq_command and self.queue_format in ("auto", "mailq"):
            return "mailq"
        return {"auto": "json", "json": "json", "text": "text", "mailq": "mailq"}.get(self.queue_format, "json")

    # ------------------------------------------------------------------ streaming read

    def _lines(self, argv: list[str], listing: _Listing | None = None) -> Iterator[bytes]:
        """Run ``argv`` (or read the already started ``listing``) and yield its stdout lines as they
        arrive; raise QueueError on failure."""
        for block in self._blocks(argv, listing):
            yield from _split_lines(block)

    def _blocks(self, argv: list[str], listing: _Listing | None = None) -> Iterator[bytes]:
        """Like ``_lines``, in blocks of whole lines (the last one may lack its line end)."""
        if listing is None:
            listing = _Listing(argv, self.timeout)
        ok = False
        try:
            yield from listing.blocks()
            ok = True
        finally:
            listing.finish(check=ok)

    def _start_retry(self, keep_map: bool) -> _Retry:
        retry = _Retry(self.queue_directory if self.next_retry else None, keep_map)
        retry.start()
        return retry

    def _read(
        self,
        builder: SummaryBuilder,
        on_entry: Callable[[QueueEntry], None] | None,
        retry: _Retry,
        listing: _Listing | None = None,
    ) -> list[str]:
        """Feed the builder (and ``on_entry``) from one listing; returns the argv used. ``listing``:
        the ``postqueue -j`` already started (``summarize()``)."""
        fmt = self._format()
        if fmt in ("text", "mailq"):
            return self._read_text(fmt, builder, on_entry)
        argv = listing.argv if listing is not None else self.listing_argv("json")
        try:
            if on_entry is None:  # the summary only: the fast path, no object per message
                feed_json_blocks(builder, self._blocks(argv, listing))
            else:
                feed_json_lines(builder, self._lines(argv, listing), on_entry, retry)
        except QueueError as exc:
            if builder.empty and self.queue_format == "auto" and "usage:" in str(exc):
                # Postfix < 3.1 has no -j: fall back to the text listing.
                builder.source = "postqueue -p"
                return self._read_text("text", builder, on_entry)
            raise
        return argv

    def _read_text(self, fmt: str, builder: SummaryBuilder, on_entry: Callable[[QueueEntry], None] | None) -> list[str]:
        from mailtop.mta.mailq_text import parse_mailq

        argv = self.listing_argv(fmt)
        if not argv:
            raise QueueError("[postfix] mailq_command is empty")
        builder.source = "mailq" if fmt == "mailq" else "postqueue -p"
        text = (line.decode("utf-8", "replace") for line in self._lines(argv))
        for item in parse_mailq(text, now=builder.now):
            if isinstance(item, str):
                builder.skip(item)
                continue
            builder.add(item)
            if on_entry is not None:
                on_entry(item)
        return argv

    # ------------------------------------------------------------------ public API

    def summarize(
        self,
        *,
        shapes: bool = True,
        reasons: bool = True,
        now: float | None = None,
        early: EarlyListing | None = None,
    ) -> QueueSummary:
        """Counts, oldest ages, shape and reason groups; never raises for a missing or unreadable queue
        (the summary's ``error`` says why). Keeps no per-message objects.

        ``postqueue -j`` is started before anything else (the summary code is imported and the queue
        folder looked up while it runs). ``early``: a listing ``mailtop.mta.early`` started before the
        configuration was loaded; used only when its command is exactly this queue's listing command
        (then its start is the reference time), else killed."""
        listing: _Listing | None = None
        error = ""
        if self._format() == "json":
            try:
                argv = self.listing_argv("json")
                if early is not None and early.argv == argv:
                    now = early.started if now is None else now
                    listing = _Listing(argv, self.timeout, started=early)
                else:
                    if early is not None:
                        early.discard()
                    now = time.time() if now is None else now
                    listing = _Listing(argv, self.timeout)
            except QueueError as exc:
                error = str(exc)
        if early is not None:
            early.discard()  # not the command this configuration lists with (no-op when taken over)
        now = time.time() if now is None else now
        from mailtop.mta.summary import SummaryBuilder

        builder = SummaryBuilder(now, "postqueue -j", shapes=shapes, reasons=reasons)
        if error:
            return builder.result(error=error)
        try:
            retry = self._start_retry(keep_map=False)
            argv = self._read(builder, None, retry, listing)  # reads the listing to its end and reaps it
        except QueueError as exc:
            return builder.result(error=str(exc))
        finally:
            if listing is not None:
                listing.finish(check=False)  # only does something when the read stopped early
        retry.join()
        summary = builder.result(argv=tuple(argv))
        return _with_retry(summary, retry)

    def iter_entries(self) -> Iterator[QueueEntry]:
        """Every message as it arrives from the listing. Raises ``QueueError``."""
        from mailtop.mta.summary import SummaryBuilder

        out: list[QueueEntry] = []
        builder = SummaryBuilder(time.time(), "postqueue -j", shapes=False, reasons=False)
        retry = self._start_retry(keep_map=True)
        # A generator over a callback: collect per line, hand each over at once.
        fmt = self._format()
        if fmt != "json":
            self._read(builder, out.append, retry)
            yield from out
            return
        for line in self._lines(self.listing_argv("json")):
            if not line.strip():
                continue
            d = parse_json_record(line)
            if d is None:
                continue
            nr = None
            if d["queue_name"] == "deferred":
                retry.join()
                nr = retry.times.get(d["queue_id"])
            yield entry_from_record(d, nr)

    def snapshot(
        self,
        on_batch: Callable[[list[QueueEntry]], None] | None = None,
        *,
        batch_size: int = 500,
        now: float | None = None,
    ) -> Snapshot:
        """Every entry and the summary of the same read. ``on_batch`` gets the entries in lists of
        ``batch_size`` as they arrive (from the calling thread), so a panel can show the first rows of
        a large queue at once. Raises ``QueueError`` when the queue cannot be read."""
        from mailtop.mta.records import Snapshot
        from mailtop.mta.summary import SummaryBuilder

        builder = SummaryBuilder(time.time() if now is None else now, "postqueue -j")
        entries: list[QueueEntry] = []
        pending: list[QueueEntry] = []

        def take(entry: QueueEntry) -> None:
            entries.append(entry)
            if on_batch is not None:
                pending.append(entry)
                if len(pending) >= batch_size:
                    on_batch(pending.copy())
                    pending.clear()

        retry = self._start_retry(keep_map=True)
        argv = self._read(builder, take, retry)
        if on_batch is not None and pending:
            on_batch(pending.copy())
        retry.join()
        return Snapshot(entries=tuple(entries), summary=_with_retry(builder.result(argv=tuple(argv)), retry))

    async def stream(self, *, batch_size: int = 500) -> AsyncIterator[list[QueueEntry]]:
        """``async for batch in queue.stream(): ...`` - lists of entries as the listing arrives.

        Runs the blocking read in a thread, so the event loop never waits on ``postqueue``. Raises
        ``QueueError`` from the iteration when the queue cannot be read.
        """
        import asyncio

        loop = asyncio.get_running_loop()
        q: asyncio.Queue[list[QueueEntry] | BaseException | None] = asyncio.Queue()

        def deliver(batch: list[QueueEntry]) -> None:
            loop.call_soon_threadsafe(q.put_nowait, batch)

        def work() -> None:
            try:
                self.snapshot(deliver, batch_size=batch_size)
            except (QueueError, OSError) as exc:  # handed to the consumer, re-raised there
                loop.call_soon_threadsafe(q.put_nowait, exc)
            finally:
                # anything else surfaces from ``await fut`` below
                loop.call_soon_threadsafe(q.put_nowait, None)

        fut = loop.run_in_executor(None, work)
        while True:
            item = await q.get()
            if item is None:
                break
            if isinstance(item, BaseException):
                await fut
                raise item
            yield item
        await fut


def _with_retry(summary: QueueSummary, retry: _Retry) -> QueueSummary:
    import dataclasses

    warnings = summary.warnings + ((retry.error,) if retry.error else ())
    if retry.soonest is None and not retry.error:
        return summary
    queues = tuple(
        dataclasses.replace(q, next_retry=retry.soonest) if q.name == "deferred" and q.next_retry is None else q
        for q in summary.queues
    )
    return dataclasses.replace(summary, queues=queues, warnings=warnings)


def _explain(argv: list[str], rc: int, stderr: str) -> str:
    cmd = " ".join(argv)
    text = stderr or f"exit status {rc}"
    hint = ""
    low = stderr.lower()
    if "alternate_config_directories" in low or "not authorized" in low or "permission denied" in low:
        hint = " (run as root, or list the directory in alternate_config_directories of /etc/postfix/main.cf)"
    elif "no such file" in low and "main.cf" in low:
        hint = " (check [postfix] config_dir)"
    elif "mail system is down" in low or "connect to" in low and "showq" in low:
        hint = " (is Postfix running? postqueue needs the showq service)"
    return f"{cmd}: {text}{hint}"


def known_queue(name: str) -> bool:
    from mailtop.mta.records import QUEUE_NAMES

    return name in QUEUE_NAMES
