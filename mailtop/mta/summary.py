"""Build a ``QueueSummary`` from queue records one at a time, keeping only aggregates.

``SummaryBuilder.add_raw(queue, queue_id, arrival, size, sender, recipients)`` is the hot path: the
Postfix adapter calls it with the fields of each ``postqueue -j`` line without building a
``QueueEntry``. Memory is bounded by the number of distinct (queue, domain) and (reason, domain)
pairs, never by the number of messages.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from mailtop.mta.records import (
    QUEUE_NAMES,
    DomainStats,
    QueueEntry,
    QueueStats,
    QueueSummary,
    ReasonDomain,
    ReasonGroup,
    Shape,
    address_domain,
    shape_bucket,
)
from mailtop.reasons import normalize_reason

_BUCKETS = 10


@functools.lru_cache(maxsize=8192)
def group_reason(raw: str) -> str:
    """The key a queue groups a delay reason by: ``normalize_reason`` with the
    ``delivery temporarily suspended:`` prefix merged into the failure it repeats.

    Postfix writes that prefix for the other messages of a destination it has just found dead; the
    cause (and the action an administrator takes on it) is the same as the first failure's, so they
    form one group. The log statistics keep the prefix (``mailtop.reasons``).
    """
    text = normalize_reason(raw)
    prefix = "delivery temporarily suspended: "
    if text.startswith(prefix):
        text = text[len(prefix):]
    return text


_domain = functools.lru_cache(maxsize=65536)(address_domain)


class _Queue:
    __slots__ = ("messages", "recipients", "bytes", "oldest", "oldest_id", "next_retry")

    def __init__(self) -> None:
        self.messages = 0
        self.recipients = 0
        self.bytes = 0
        self.oldest: float | None = None
        self.oldest_id = ""
        self.next_retry: float | None = None


class _Domain:
    __slots__ = ("recipients", "messages", "oldest", "oldest_id", "queues", "queue_oldest")

    def __init__(self) -> None:
        self.recipients = 0
        self.messages = 0
        self.oldest = float("inf")
        self.oldest_id = ""
        self.queues: dict[str, int] = {}
        self.queue_oldest: dict[str, float] = {}


class _Reason:
    __slots__ = ("example", "recipients", "messages", "oldest", "domains")

    def __init__(self, example: str) -> None:
        self.example = example
        self.recipients = 0
        self.messages = 0
        self.oldest = float("inf")
        self.domains: dict[str, list[float]] = {}  # domain -> [recipients, oldest]


class SummaryBuilder:
    """Accumulates records; ``result()`` freezes them into a ``QueueSummary``."""

    def __init__(self, now: float, source: str, *, shapes: bool = True, reasons: bool = True) -> None:
        self.now = now
        self.source = source
        self.want_shapes = shapes
        self.want_reasons = reasons
        self.skipped = 0
        self.warnings: list[str] = []
        self._queues: dict[str, _Queue] = {}
        self._domains: dict[str, _Domain] = {}
        self._reasons: dict[str, _Reason] = {}
        self._shape: dict[str, dict[str, list[int]]] = {}

    @property
    def empty(self) -> bool:
        """No record added yet."""
        return not self._queues

    # ------------------------------------------------------------------ input

    def add_raw(
        self,
        queue: str,
        queue_id: str,
        arrival: float,
        size: int,
        recipients: Iterable[tuple[str, str]],
        next_retry: float | None = None,
    ) -> None:
        """Add one message: ``recipients`` are ``(address, delay_reason)`` pairs."""
        q = self._queues.get(queue)
        if q is None:
            q = self._queues[queue] = _Queue()
        q.messages += 1
        q.bytes += size
        if q.oldest is None or arrival < q.oldest:
            q.oldest = arrival
            q.oldest_id = queue_id
        if next_retry is not None and (q.next_retry is None or next_retry < q.next_retry):
            q.next_retry = next_retry
        age = self.now - arrival
        bucket = shape_bucket(age) + 1
        shape = None
        if self.want_shapes:
            shape = self._shape.get(queue)
            if shape is None:
                shape = self._shape[queue] = {"TOTAL": [0] * (_BUCKETS + 1)}
            total = shape["TOTAL"]
        domains_seen: set[str] = set()
        reasons_seen: set[str] = set()
        n = 0
        for address, reason in recipients:
            n += 1
            dom = _domain(address)
            d = self._domains.get(dom)
            if d is None:
                d = self._domains[dom] = _Domain()
            d.recipients += 1
            d.queues[queue] = d.queues.get(queue, 0) + 1
            if dom not in domains_seen:
                domains_seen.add(dom)
                d.messages += 1
                if arrival < d.oldest:
                    d.oldest = arrival
                    d.oldest_id = queue_id
                if arrival < d.queue_oldest.get(queue, float("inf")):
                    d.queue_oldest[queue] = arrival
            if shape is not None:
                row = shape.get(dom)
                if row is None:
                    row = shape[dom] = [0] * (_BUCKETS + 1)
                row[0] += 1
                row[bucket] += 1
                total[0] += 1
                total[bucket] += 1
            if reason and self.want_reasons:
                key = group_reason(reason)
                g = self._reasons.get(key)
                if g is None:
                    g = self._reasons[key] = _Reason(reason)
                g.recipients += 1
                if key not in reasons_seen:
                    reasons_seen.add(key)
                    g.messages += 1
                    if arrival < g.oldest:
                        g.oldest = arrival
                rd = g.domains.get(dom)
                if rd is None:
                    g.domains[dom] = [1, arrival]
                else:
                    rd[0] += 1
                    if arrival < rd[1]:
                        rd[1] = arrival
        q.recipients += n

    def add(self, entry: QueueEntry) -> None:
        self.add_raw(
            entry.queue, entry.queue_id, entry.arrival, entry.size,
            ((r.address, r.reason) for r in entry.recipients), entry.next_retry,
        )

    def skip(self, why: str = "") -> None:
        self.skipped += 1
        if why and len(self.warnings) < 10:
            self.warnings.append(why)

    # ------------------------------------------------------------------ output

    def result(self, argv: tuple[str, ...] = (), error: str = "") -> QueueSummary:
        order = {name: i for i, name in enumerate(QUEUE_NAMES)}
        queues = tuple(
            QueueStats(name=name, messages=q.messages, recipients=q.recipients, bytes=q.bytes,
                       oldest_arrival=q.oldest, oldest_id=q.oldest_id, next_retry=q.next_retry)
            for name, q in sorted(self._queues.items(), key=lambda kv: (order.get(kv[0], 99), kv[0]))
        )
        domains = tuple(
            DomainStats(domain=name, recipients=d.recipients, messages=d.messages, oldest_arrival=d.oldest,
                        oldest_id=d.oldest_id,
                        queues=tuple(sorted(d.queues.items(), key=lambda kv: order.get(kv[0], 99))),
                        queue_oldest=tuple(sorted(d.queue_oldest.items(), key=lambda kv: order.get(kv[0], 99))))
            for name, d in sorted(self._domains.items(), key=lambda kv: (-kv[1].recipients, kv[1].oldest, kv[0]))
        )
        reasons = tuple(
            ReasonGroup(
                reason=key, example=g.example, recipients=g.recipients, messages=g.messages, oldest_arrival=g.oldest,
                domains=tuple(
                    ReasonDomain(domain=dom, recipients=int(v[0]), oldest_arrival=v[1])
                    for dom, v in sorted(g.domains.items(), key=lambda kv: (-kv[1][0], kv[1][1], kv[0]))
                ),
            )
            for key, g in sorted(self._reasons.items(), key=lambda kv: (-kv[1].recipients, kv[1].oldest, kv[0]))
        )
        shapes = []
        for qname in sorted(self._shape, key=lambda n: (order.get(n, 99), n)):
            table = self._shape[qname]
            total = tuple(table["TOTAL"])
            rows = tuple(
                (dom, tuple(counts))
                for dom, counts in sorted(
                    ((k, v) for k, v in table.items() if k != "TOTAL"), key=lambda kv: (-kv[1][0], len(kv[0]), kv[0])
                )
            )
            shapes.append(Shape(queue=qname, total=total, rows=rows))
        return QueueSummary(
            time=self.now, source=self.source, queues=queues, domains=domains, reasons=reasons,
            shapes=tuple(shapes), skipped=self.skipped, error=error, warnings=tuple(self.warnings), argv=argv,
        )
