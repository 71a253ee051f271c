"""The queue records every MTA adapter produces, and the summary built from them.

All frozen dataclasses (``slots``), no I/O here. Times are Unix seconds (float); ages are computed
against the summary's ``time`` so that one snapshot is internally consistent.
"""

from __future__ import annotations

from dataclasses import dataclass, field

QUEUE_NAMES: tuple[str, ...] = ("maildrop", "incoming", "active", "deferred", "hold")
"""Postfix's queues, in the order a message goes through them (hold last: it is a side track)."""

SHAPE_EDGES_MINUTES: tuple[int, ...] = (5, 10, 20, 40, 80, 160, 320, 640, 1280)
"""Upper bounds of qshape's default age buckets (``-t 5 -b 10``); a last bucket is ``1280+``.

Bucket ``i`` (0-based) holds ages in ``[edge[i-1], edge[i])`` minutes (``[0, 5)`` for the first); the
last holds ``>= 1280`` minutes. Same edges and same rounding as qshape, so the two can be compared.
"""

SHAPE_HEADINGS: tuple[str, ...] = tuple(str(e) for e in SHAPE_EDGES_MINUTES) + ("1280+",)


@dataclass(frozen=True, slots=True)
class Recipient:
    address: str
    reason: str = ""
    """``delay_reason`` as the MTA wrote it (empty for a recipient never tried)."""

    @property
    def domain(self) -> str:
        return address_domain(self.address)


@dataclass(frozen=True, slots=True)
class QueueEntry:
    """One message in a queue."""

    queue: str
    """incoming, active, deferred, hold, maildrop (``QUEUE_NAMES``)."""
    queue_id: str
    arrival: float
    """Unix time the message entered the queue."""
    size: int
    """Bytes (``message_size``)."""
    sender: str
    """Envelope sender; ``MAILER-DAEMON`` for the null sender (bounces), as ``postqueue -j`` writes it."""
    recipients: tuple[Recipient, ...] = ()
    forced_expire: bool = False
    """``postsuper -e`` was used: the next delivery attempt bounces it."""
    next_retry: float | None = None
    """Unix time of the next delivery attempt (deferred messages, queue folder readable), else None."""

    def age(self, now: float) -> float:
        return max(0.0, now - self.arrival)

    @property
    def domains(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for r in self.recipients:
            seen.setdefault(r.domain, None)
        return tuple(seen)


def address_domain(address: str) -> str:
    """The destination domain of an address exactly as qshape derives it.

    Lower case; everything up to the last ``@`` removed; ``..`` collapsed; one leading and one
    trailing dot removed. An address without ``@`` is its own "domain" (qshape does the same). The
    null sender is ``MAILER-DAEMON``.
    """
    if address == "":
        return "MAILER-DAEMON"
    a = address.lower()
    at = a.rfind("@")
    if at >= 0:
        a = a[at + 1:]
    while ".." in a:
        a = a.replace("..", ".")
    if len(a) > 1:
        if a.startswith("."):
            a = a[1:]
        if a.endswith(".") and len(a) > 1:
            a = a[:-1]
    return a


def shape_bucket(age_seconds: float, tick_minutes: float = 5.0, buckets: int = 10) -> int:
    """0-based qshape bucket of an age (qshape's own formula: ``2 + int(log2(minutes / tick))``)."""
    m = age_seconds / (60.0 * tick_minutes)
    if m < 1:
        return 0
    # int(math.log2(m)) without floating-point surprises at exact powers of two
    b = 1 + int(m).bit_length() - 1
    return b if b < buckets - 1 else buckets - 1


@dataclass(frozen=True, slots=True)
class QueueStats:
    """Counts for one queue."""

    name: str
    messages: int = 0
    recipients: int = 0
    bytes: int = 0
    oldest_arrival: float | None = None
    oldest_id: str = ""
    next_retry: float | None = None
    """Soonest next delivery attempt in this queue (deferred only), when known."""


@dataclass(frozen=True, slots=True)
class DomainStats:
    """One destination domain across the queues (counts are recipients, like qshape)."""

    domain: str
    recipients: int
    messages: int
    oldest_arrival: float
    oldest_id: str
    queues: tuple[tuple[str, int], ...]
    """(queue, recipients) for each queue that holds mail for this domain."""
    queue_oldest: tuple[tuple[str, float], ...] = ()
    """(queue, oldest arrival) for each queue that holds mail for this domain, in the order of ``queues``."""

    def waiting(self, leave_out: tuple[str, ...] = ("hold",)) -> tuple[int, float | None]:
        """(recipients, oldest arrival) of this domain's mail outside the ``leave_out`` queues (by default the
        hold queue, where an admin put mail on purpose); (0, None) when it has none there."""
        recipients = sum(n for q, n in self.queues if q not in leave_out)
        if not recipients:
            return 0, None
        if not self.queue_oldest:  # built without per-queue ages: every queue it has mail in counts
            return recipients, self.oldest_arrival
        return recipients, min(a for q, a in self.queue_oldest if q not in leave_out)


@dataclass(frozen=True, slots=True)
class ReasonDomain:
    domain: str
    recipients: int
    oldest_arrival: float


@dataclass(frozen=True, slots=True)
class ReasonGroup:
    """Recipients whose delay reasons normalise to the same text (``mailtop.reasons``)."""

    reason: str
    """The normalised reason: the group's key."""
    example: str
    """One reason as the MTA wrote it."""
    recipients: int
    messages: int
    oldest_arrival: float
    domains: tuple[ReasonDomain, ...]
    """Per destination domain, most recipients first."""


@dataclass(frozen=True, slots=True)
class Shape:
    """Age buckets by destination domain for one queue, counted like qshape (one per recipient)."""

    queue: str
    total: tuple[int, ...]
    """``(T, b0, ..., b9)``: the total, then one count per bucket."""
    rows: tuple[tuple[str, tuple[int, ...]], ...]
    """(domain, counts) sorted like qshape: most recipients first, then shorter names."""
    headings: tuple[str, ...] = SHAPE_HEADINGS


@dataclass(frozen=True, slots=True)
class QueueSummary:
    """What ``summarize()`` returns: everything the panels and checks need, no per-message objects.

    ``error`` is set (and the counts are empty) when the queue could not be read at all; the text
    names what is missing (``postqueue not found in /usr/sbin``, ``permission denied``) so a check can
    report UNKNOWN with it.
    """

    time: float
    """The reference time of the snapshot (Unix seconds); ages are ``time - arrival``."""
    source: str
    """How it was read: ``postqueue -j``, ``postqueue -p`` (text), ``mailq`` (text)."""
    queues: tuple[QueueStats, ...] = ()
    domains: tuple[DomainStats, ...] = ()
    """Most recipients first."""
    reasons: tuple[ReasonGroup, ...] = ()
    """Most recipients first."""
    shapes: tuple[Shape, ...] = ()
    skipped: int = 0
    """Malformed records skipped (counted, never fatal)."""
    error: str = ""
    warnings: tuple[str, ...] = ()
    argv: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.error

    @property
    def total_messages(self) -> int:
        return sum(q.messages for q in self.queues)

    def queue(self, name: str) -> QueueStats:
        for q in self.queues:
            if q.name == name:
                return q
        return QueueStats(name=name)

    def count(self, name: str) -> int:
        return self.queue(name).messages

    def oldest_age(self, name: str | None = None) -> float | None:
        """Age in seconds of the oldest message in queue ``name`` (all queues when None)."""
        arrivals = [q.oldest_arrival for q in self.queues
                    if q.oldest_arrival is not None and (name is None or q.name == name)]
        return max(0.0, self.time - min(arrivals)) if arrivals else None

    def shape(self, name: str) -> Shape | None:
        for s in self.shapes:
            if s.queue == name:
                return s
        return None


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A full listing: every entry plus the summary of the same read."""

    entries: tuple[QueueEntry, ...]
    summary: QueueSummary = field(repr=False, default=None)  # type: ignore[assignment]
