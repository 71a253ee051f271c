"""What the Queue panel shows, computed without the UI: filter, sort and the first rows of a big queue.

The collector worker (:mod:`mailtop.tui.worker`) keeps the last queue snapshot in a :class:`QueueModel`
and answers a :class:`QueueViewParams` (sort column, direction, filter text, how many rows, the
selected IDs) with a :class:`QueueView`: the summary, the counts, and at most ``limit`` rows of
display-safe strings. The UI process never touches the 100,000 entries of a big queue; it draws the
rows it is sent. Without a worker (tests with fixed data) the panel runs the same model in-process.

No Textual and no Rich here.
"""

from __future__ import annotations

import re
import threading
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from mailtop.mta.summary import group_reason
from mailtop.tui.plain import age_text, clean, human_bytes

MAX_ROWS = 1000
"""Rows drawn in the messages table; the rest are counted (filter or sort to reach them)."""

QUEUE_ABBR = {"active": "act", "deferred": "def", "hold": "HOLD", "incoming": "inc", "maildrop": "drop"}
SORTS = ("age", "queue_id", "queue", "size", "sender", "recipient", "reason")
_AGE = re.compile(r"age([<>])(\d+(?:\.\d+)?)([smhd]?)$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class QueueFilter:
    words: tuple[str, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()
    min_age: float | None = None
    max_age: float | None = None

    @classmethod
    def parse(cls, text: str) -> QueueFilter:
        words, fields = [], []
        min_age = max_age = None
        for tok in text.lower().split():
            m = _AGE.match(tok)
            if m:
                seconds = float(m.group(2)) * _UNIT[m.group(3)]
                if m.group(1) == ">":
                    min_age = seconds
                else:
                    max_age = seconds
                continue
            key, colon, value = tok.partition(":")
            if colon and key in ("from", "to", "domain", "reason", "queue", "id") and value:
                fields.append((key, value))
            else:
                words.append(tok)
        return cls(tuple(words), tuple(fields), min_age, max_age)

    def match(self, e: Any, now: float) -> bool:
        age = now - e.arrival
        if self.min_age is not None and age < self.min_age:
            return False
        if self.max_age is not None and age > self.max_age:
            return False
        for key, value in self.fields:
            if key == "from" and value not in e.sender.lower():
                return False
            if key == "to" and not any(value in r.address.lower() for r in e.recipients):
                return False
            if key == "domain" and not any(value in r.domain for r in e.recipients):
                return False
            if key == "reason" and not any(value in r.reason.lower() for r in e.recipients):
                return False
            if key == "queue" and not e.queue.startswith(value):
                return False
            if key == "id" and value not in e.queue_id.lower():
                return False
        return True


@dataclass(frozen=True)
class PreparedQueue:
    """A queue snapshot plus its order by age, computed once per snapshot off the UI thread. The
    lower-case search text of each message (``hay``) is built on first use (only a filter needs it)."""

    snapshot: Any
    by_age: Sequence[int]
    """Indexes into ``entries``, oldest first (an ``array``: no int object per message kept alive)."""
    _hay: list[tuple[str, ...]] = field(default_factory=list, repr=False, compare=False)

    @property
    def entries(self) -> Sequence[Any]:
        return self.snapshot.entries

    @property
    def summary(self) -> Any:
        return self.snapshot.summary

    @property
    def hay(self) -> tuple[str, ...]:
        if not self._hay:
            self._hay.append(tuple(hay_text(e) for e in self.entries))
        return self._hay[0]

    def reuse_hay(self, previous: PreparedQueue) -> None:
        """Build ``hay`` taking the search text of each message that is unchanged since ``previous`` (same
        queue ID, queue, sender and recipients) from it instead of building it again.

        Why: the queue worker re-reads the queue every poll; building 100,000 new search strings per poll
        (while the previous ones are still alive) left the interpreter's small-object arenas fragmented -
        the worker's RSS rose ~0.4 MiB per poll with an unchanged queue (140 -> 156 MiB in ten minutes of
        the benchmark) although the live Python objects did not grow (tracemalloc)."""
        if self._hay or not previous._hay:
            return
        old_entries, old_hay = previous.entries, previous._hay[0]
        by_id: dict[str, int] | None = None
        out = []
        for i, e in enumerate(self.entries):
            j = i
            if j >= len(old_entries) or old_entries[j].queue_id != e.queue_id:
                if by_id is None:  # the listing's order changed (messages came or went): look up by ID
                    by_id = {o.queue_id: k for k, o in enumerate(old_entries)}
                j = by_id.get(e.queue_id, -1)
            o = old_entries[j] if j >= 0 else None
            if o is not None and (o is e or (o.queue == e.queue and o.sender == e.sender
                                             and o.recipients == e.recipients)):
                out.append(old_hay[j])
            else:
                out.append(hay_text(e))
        self._hay.append(tuple(out))


def hay_text(e: Any) -> str:
    """The lower-case text a filter word is looked up in."""
    return " ".join([e.queue_id, e.queue, e.sender, *(f"{r.address} {r.reason}" for r in e.recipients)]).lower()


def prepare(snapshot: Any, search: bool = False, previous: PreparedQueue | None = None) -> PreparedQueue:
    """The snapshot with its order by age; ``search`` builds the search text now too (call it in the
    collector's thread or process, not on the UI thread), reusing ``previous``'s text for unchanged messages."""
    if isinstance(snapshot, PreparedQueue):
        if search:
            _ = snapshot.hay
        return snapshot
    entries = snapshot.entries
    arrival = [e.arrival for e in entries]
    prepared = PreparedQueue(snapshot, array("l", sorted(range(len(entries)), key=arrival.__getitem__)))
    if search:
        if previous is not None:
            prepared.reuse_hay(previous)
        _ = prepared.hay
    return prepared


def sort_key(column: str) -> Callable[[Any], Any]:
    if column == "age":
        return lambda e: e.arrival
    if column == "recipient":
        return lambda e: e.recipients[0].address.lower() if e.recipients else ""
    if column == "reason":
        return lambda e: e.recipients[0].reason if e.recipients else ""
    if column == "sender":
        return lambda e: e.sender.lower()
    return lambda e: getattr(e, column)


@dataclass(frozen=True)
class QueueViewParams:
    """What the Queue panel wants to see."""

    sort: str = "age"
    reverse: bool = False
    filter: str = ""
    limit: int = MAX_ROWS
    """Rows wanted; 0 while the panel is hidden (the summary is still sent, for the Overview)."""
    selected: frozenset[str] = frozenset()
    """Selected queue IDs: the answer says which of them are still in the queue."""


Row = tuple[str, str, str, str, str, str, str]
"""queue ID, queue name, age, size, sender, first recipient (+N), reason: display-safe strings."""


@dataclass(frozen=True)
class QueueView:
    """The answer to :class:`QueueViewParams` for one snapshot."""

    summary: Any
    params: QueueViewParams
    total: int = 0
    matched: int = 0
    rows: tuple[Row, ...] = ()
    present: frozenset[str] = frozenset()
    """The selected IDs that are still queued."""
    snapshot_id: int = 0
    """Changes with every new snapshot (the UI redraws rows only when this or the params change)."""
    compute_seconds: float = 0.0


def entry_row(e: Any, now: float) -> Row:
    first = e.recipients[0] if e.recipients else None
    rcpt = clean(first.address) if first else ""
    if len(e.recipients) > 1:
        rcpt += f" +{len(e.recipients) - 1}"
    # The reason column shows the grouped form ("connect to *: Connection refused"): a raw reason starts
    # with the host and port and the cause is cut off in a narrow column. Filters still see the raw text.
    return (e.queue_id, e.queue, age_text(now - e.arrival), human_bytes(e.size), clean(e.sender or "<>"), rcpt,
            clean(group_reason(first.reason)) if first and first.reason else "")


@dataclass
class QueueModel:
    """The last prepared snapshot and its sort orders; answers views. Thread-safe (the worker loads a
    new snapshot in one thread while it answers a view in another)."""

    prepared: PreparedQueue | None = None
    snapshot_id: int = 0
    _orders: dict[str, Sequence[int]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def load(self, snapshot: Any) -> None:
        # search text built before the swap: a filter typed meanwhile uses the previous snapshot, never waits
        prepared = prepare(snapshot, search=True, previous=self.prepared)
        with self._lock:
            self.prepared = prepared
            self.snapshot_id += 1
            self._orders = {"age": prepared.by_age}

    def _order(self, prepared: PreparedQueue, snapshot_id: int, column: str) -> Sequence[int]:
        with self._lock:
            if snapshot_id == self.snapshot_id and column in self._orders:
                return self._orders[column]
        entries = prepared.entries
        k = sort_key(column)
        keys = [k(e) for e in entries]
        order = array("l", sorted(range(len(entries)), key=keys.__getitem__))
        del keys
        with self._lock:
            if snapshot_id == self.snapshot_id:
                self._orders[column] = order
        return order

    def view(self, params: QueueViewParams, with_summary: bool = True) -> QueueView:
        """The rows and counts for ``params``; ``with_summary=False`` leaves the summary out (the
        answer to a re-sort: the panel has the summary of the same snapshot from the poll)."""
        import time

        t0 = time.perf_counter()
        with self._lock:
            prepared, snapshot_id = self.prepared, self.snapshot_id
        if prepared is None:
            raise LookupError("no queue snapshot yet")
        summary = prepared.summary
        entries = prepared.entries
        now = summary.time
        present = frozenset(params.selected & {e.queue_id for e in entries}) if params.selected else frozenset()
        if params.limit <= 0:
            return QueueView(summary if with_summary else None, params, len(entries), 0, (), present, snapshot_id,
                             time.perf_counter() - t0)
        order: Sequence[int] = self._order(prepared, snapshot_id, params.sort if params.sort in SORTS else "age")
        if params.reverse:
            order = order[::-1]
        if params.filter:
            flt = QueueFilter.parse(params.filter)
            mask: list[bool] | None = None
            for w in flt.words:  # one pass over the search text per word (a list comprehension: fast)
                m = [w in h for h in prepared.hay]
                mask = m if mask is None else [a and b for a, b in zip(mask, m, strict=True)]
            idx: Sequence[int] = order if mask is None else [i for i in order if mask[i]]
            if flt.fields or flt.min_age is not None or flt.max_age is not None:
                idx = [i for i in idx if flt.match(entries[i], now)]
        else:
            idx = order
        rows = tuple(entry_row(entries[i], now) for i in idx[:params.limit])
        if not with_summary:
            summary = None
        return QueueView(summary, params, len(entries), len(idx), rows, present, snapshot_id,
                         time.perf_counter() - t0)

    def group_ids(self, reason: str) -> tuple[str, ...]:
        """Queue IDs of the messages with a recipient delayed for the (grouped) ``reason``."""
        from mailtop.mta.summary import group_reason

        prepared = self.prepared
        if prepared is None:
            return ()
        return tuple(e.queue_id for e in prepared.entries if any(group_reason(r.reason) == reason
                                                                 for r in e.recipients))
