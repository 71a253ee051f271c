"""A message's life, joined by queue ID: client, message-id, sender, size, each recipient's delivery.

``FlowTracker.feed(event)`` takes parsed events (``mailtop.logs.parse``) in log order and keeps one
flow per live queue ID. A flow ends with ``removed`` (or ``expired`` followed by ``removed``); it then
leaves the live table and joins a short ring of recently finished flows. Memory stays bounded:

* at most ``max_flows`` live flows; beyond that the oldest (first seen) is evicted;
* a flow not seen for ``stale_after`` seconds of log time is evicted (a message whose ``removed``
  line was never written, or that arrived before the log started and left without a trace).

Flows are keyed by the Postfix instance (the first part of ``syslog_name``: ``postfix-lab`` for both
``postfix-lab/smtpd`` and ``postfix-lab/submission/smtpd``) and the queue ID, so two instances that
happen to reuse a short queue ID never mix.

``snapshot()`` turns a live flow into a frozen ``MessageFlow`` for display.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import NamedTuple

from mailtop.logs import parse as P

__all__ = ["Delivery", "MessageFlow", "FlowTracker", "flow_key"]


class Delivery(NamedTuple):
    """One delivery attempt for one recipient (a ``to=<...>, relay=..., status=...`` line)."""

    ts: float
    recipient: str
    orig_to: str
    relay: str
    delay: float | None
    delays: str          # raw "a/b/c/d" (before qmgr / in qmgr / connection set-up / transmission)
    dsn: str
    status: str          # sent, deferred, bounced, ...
    reason: str
    service: str         # smtp, lmtp, local, virtual, pipe, error, ...

    @property
    def final(self) -> bool:
        return self.status in P.FINAL_STATUSES

    def split_delays(self) -> P.Delays | None:
        return P._delays(self.delays)


@dataclass(frozen=True, slots=True)
class MessageFlow:
    """A message as the log tells it (frozen snapshot)."""

    queue_id: str
    instance: str
    first_seen: float
    last_seen: float
    origin: str               # smtpd, pickup, bounce (a notification), local (forwarded), "" unknown
    client: str
    sasl_user: str
    message_id: str
    sender: str | None        # None: the queue manager line was not seen
    size: int | None
    deliveries: tuple[Delivery, ...]
    expired: bool
    removed: bool
    notifications: tuple[str, ...]   # queue IDs of bounce/delay notifications this message caused

    @property
    def finished(self) -> bool:
        return self.removed

    @property
    def recipients(self) -> tuple[str, ...]:
        seen: dict[str, None] = {}
        for d in self.deliveries:
            seen.setdefault(d.recipient, None)
        return tuple(seen)

    def final_status(self, recipient: str) -> str:
        """The last status of ``recipient`` (``sent``, ``bounced``, ``deferred``, ...), or ``""``."""
        status = ""
        for d in self.deliveries:
            if d.recipient == recipient:
                status = d.status
        return status


class _Flow:
    __slots__ = ("queue_id", "instance", "first_seen", "last_seen", "origin", "client", "sasl_user",
                 "message_id", "sender", "size", "deliveries", "expired", "removed", "notifications",
                 "received", "counted", "deferred")

    def __init__(self, queue_id: str, instance: str, ts: float) -> None:
        self.queue_id = queue_id
        self.instance = instance
        self.first_seen = ts
        self.last_seen = ts
        self.origin = ""
        self.client = ""
        self.sasl_user = ""
        self.message_id = ""
        self.sender: str | None = None
        self.size: int | None = None
        self.deliveries: list[Delivery] = []
        self.expired = False
        self.removed = False
        self.notifications: list[str] = []
        # bookkeeping for the pflogsumm-compatible totals (see stats.py)
        self.received = ""        # where it came from ("pickup" or the client's domain) until counted
        self.counted = False      # sender and size counted once
        self.deferred = False     # counted once among deferred messages

    def freeze(self) -> MessageFlow:
        return MessageFlow(
            self.queue_id, self.instance, self.first_seen, self.last_seen, self.origin, self.client,
            self.sasl_user, self.message_id, self.sender, self.size, tuple(self.deliveries), self.expired,
            self.removed, tuple(self.notifications),
        )


def flow_key(instance: str, queue_id: str) -> str:
    """The live-table key: the Postfix instance's base syslog_name and the queue ID."""
    base = instance.split("/", 1)[0]
    return f"{base} {queue_id}"


class FlowTracker:
    """Joins events into flows. Not thread-safe: feed it from one thread (see ``mailtop.logs``)."""

    def __init__(self, max_flows: int = 100_000, stale_after: float = 6 * 86400.0, keep_finished: int = 500,
                 keep_deliveries: int = 200) -> None:
        self.max_flows = max_flows
        self.stale_after = stale_after
        self.keep_deliveries = keep_deliveries
        self._live: dict[str, _Flow] = {}
        self.finished: deque[MessageFlow] = deque(maxlen=keep_finished)
        self.evicted = 0
        self._last_ts = 0.0
        self._next_sweep = 0.0
        self._bases: dict[str, str] = {}

    def _key(self, instance: str, queue_id: str) -> str:
        base = self._bases.get(instance)
        if base is None:
            if len(self._bases) > 1000:
                self._bases.clear()
            base = self._bases[instance] = instance.split("/", 1)[0] + " "
        return base + queue_id

    def __len__(self) -> int:
        return len(self._live)

    def get(self, instance: str, queue_id: str) -> _Flow | None:
        return self._live.get(self._key(instance, queue_id))

    def find(self, queue_id: str) -> MessageFlow | None:
        """A live or recently finished flow by queue ID (any instance)."""
        for key, flow in self._live.items():
            if key.endswith(" " + queue_id):
                return flow.freeze()
        for flow in reversed(self.finished):
            if flow.queue_id == queue_id:
                return flow
        return None

    def live(self) -> Iterator[MessageFlow]:
        for flow in self._live.values():
            yield flow.freeze()

    def flow_for(self, ev: P.LogEvent) -> _Flow:
        """The live flow of ``ev`` (created when new). ``ev.queue_id`` must be set."""
        key = self._key(ev.instance, ev.queue_id)
        flow = self._live.get(key)
        if flow is None:
            flow = _Flow(ev.queue_id, ev.instance.split("/", 1)[0], ev.ts)
            self._live[key] = flow
            if len(self._live) > self.max_flows:
                del self._live[next(iter(self._live))]
                self.evicted += 1
        return flow

    def feed(self, ev: P.LogEvent) -> _Flow | None:
        """Apply one event. Returns the flow it touched (None for events without a queue ID).

        The flow returned by a ``removed`` event has already left the live table.
        """
        if not ev.queue_id:
            return None
        ts = ev.ts
        if ts > self._last_ts:
            self._last_ts = ts
            if ts >= self._next_sweep:
                self._sweep(ts)
        kind = ev.kind
        if kind == P.REMOVED:
            flow = self._live.pop(self._key(ev.instance, ev.queue_id), None)
            if flow is not None:
                flow.removed = True
                flow.last_seen = ts
                self.finished.append(flow.freeze())
            return flow
        flow = self.flow_for(ev)
        flow.last_seen = ts
        if kind == P.DELIVERY:
            if len(flow.deliveries) < self.keep_deliveries:
                flow.deliveries.append(Delivery(ts, ev.address, ev.orig_to, ev.relay, ev.delay, ev.delays, ev.dsn,
                                                ev.status, ev.reason, ev.service))
        elif kind == P.QUEUED:
            if flow.sender is None:
                flow.sender = ev.address
            if not flow.size:
                flow.size = ev.size
        elif kind == P.CLIENT:
            flow.client = ev.client
            flow.sasl_user = ev.user
            flow.origin = "smtpd"
        elif kind == P.MESSAGE_ID:
            flow.message_id = ev.message_id
        elif kind == P.PICKUP:
            flow.origin = "pickup"
            if flow.sender is None and ev.address:
                flow.sender = ev.address
        elif kind == P.EXPIRED:
            flow.expired = True
        elif kind == P.NOTIFY:
            flow.notifications.append(ev.linked_queue_id)
        return flow

    def _sweep(self, now: float) -> None:
        self._next_sweep = now + max(60.0, self.stale_after / 100)
        limit = now - self.stale_after
        stale = [k for k, f in self._live.items() if f.last_seen < limit]
        for k in stale:
            del self._live[k]
        self.evicted += len(stale)
