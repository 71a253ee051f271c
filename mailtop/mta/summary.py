"""Build a ``QueueSummary`` from queue records one at a time, keeping only aggregates.

``SummaryBuilder.add_many(messages)`` is the hot path: the Postfix adapter calls it once per block of
``postqueue -j`` lines with the fields of each message (``add_raw``'s arguments as a tuple), without
building a ``QueueEntry``. ``add_raw`` adds one message, ``add`` one ``QueueEntry``. Memory is bounded
by the number of distinct (queue, domain) and (reason, domain) pairs, never by the number of messages.
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
)
from mailtop.reasons import normalize_reason

_BUCKETS = 10
_INF = float("inf")


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
        self.add_many(((queue, queue_id, arrival, size, recipients, next_retry),))

    def add_many(self, messages: Iterable[tuple[str, str, float, int, Iterable[tuple[str, str]], float | None]]) -> None:
        """Add messages in order, each a tuple of ``add_raw``'s arguments
        ``(queue, queue_id, arrival, size, recipients, next_retry)``. The hot path: one call per block
        of a listing, the builder's tables bound to locals once."""
        queues = self._queues
        domains = self._domains
        groups = self._reasons
        shapes = self._shape if self.want_shapes else None
        want_reasons = self.want_reasons
        now = self.now
        domain_of = _domain
        reason_key = group_reason
        inf = _INF
        last_name: str | None = None
        q: _Queue | None = None
        shape: dict[str, list[int]] | None = None
        total: list[int] = []
        for queue, queue_id, arrival, size, recipients, next_retry in messages:
            if queue != last_name or q is None:
                last_name = queue
                q = queues.get(queue)
                if q is None:
                    q = queues[queue] = _Queue()
                if shapes is not None:
                    shape = shapes.get(queue)
                    if shape is None:
                        shape = shapes[queue] = {"TOTAL": [0] * (_BUCKETS + 1)}
                    total = shape["TOTAL"]
            q.messages += 1
            q.bytes += size
            if q.oldest is None or arrival < q.oldest:
                q.oldest = arrival
                q.oldest_id = queue_id
            if next_retry is not None and (q.next_retry is None or next_retry < q.next_retry):
                q.next_retry = next_retry
            if shape is not None:
                # shape_bucket(now - arrival) + 1, inlined: qshape's 2 + int(log2(minutes / 5)), capped
                m = (now - arrival) / 300.0
                bucket = 1 if m < 1 else min(int(m).bit_length() + 1, _BUCKETS)
            domains_seen: set[str] | str | None = None
            reasons_seen: set[str] | str | None = None
            n = 0
            for address, reason in recipients:
                n += 1
                dom = domain_of(address)
                d = domains.get(dom)
                if d is None:
                    d = domains[dom] = _Domain()
                d.recipients += 1
                dq = d.queues
                dq[queue] = dq.get(queue, 0) + 1
                # first recipient of this message in this domain? (a set only from the second domain on)
                if domains_seen is None:
                    domains_seen = dom
                    first = True
                elif isinstance(domains_seen, str):
                    first = dom != domains_seen
                    if first:
                        domains_seen = {domains_seen, dom}
                else:
                    first = dom not in domains_seen
                    if first:
                        domains_seen.add(dom)
                if first:
                    d.messages += 1
                    if arrival < d.oldest:
                        d.oldest = arrival
                        d.oldest_id = queue_id
                    if arrival < d.queue_oldest.get(queue, inf):
                        d.queue_oldest[queue] = arrival
                if shape is not None:
                    row = shape.get(dom)
                    if row is None:
                        row = shape[dom] = [0] * (_BUCKETS + 1)
                    row[0] += 1
                    row[bucket] += 1
                    total[0] += 1
                    total[bucket] += 1
                if reason and want_reasons:
                    key = reason_key(reason)
                    g = groups.get(key)
                    if g is None:
                        g = groups[key] = _Reason(reason)
                    g.recipients += 1
                    if reasons_seen is None:
                        reasons_seen = key
                        first = True
                    elif isinstance(reasons_seen, str):
                        first = key != reasons_seen
                        if first:
                            reasons_seen = {reasons_seen, key}
                    else:
                        first = key not in reasons_seen
                        if first:
                            reasons_seen.add(key)
                    if first:
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
