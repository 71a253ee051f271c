"""The mail queue: read it (snapshot, summary, shape, grouped reasons) and act on it.

Read side (``mailtop.mta.postfix``; nothing here changes the queue)::

    from mailtop.mta import summarize
    s = summarize(cfg)                      # QueueSummary, never raises
    if s.error: ...                         # e.g. "postqueue not found in /usr/sbin or on PATH ..." -> UNKNOWN
    s.count("deferred"), s.oldest_age("deferred"), s.queue("deferred").next_retry
    s.domains[0].domain, .recipients, .oldest_arrival    # per destination, most recipients first
    s.reasons[0].reason, .recipients, .domains           # grouped delay reasons
    s.shape("deferred").rows                             # qshape's table (same bucket edges)

``summarize(cfg)`` is the cheap call for checks: one ``postqueue -j`` read as a stream into
aggregates (per queue, per domain, per reason, per shape cell); no per-message object is kept, so
memory does not grow with the queue. ``summarize(cfg, shapes=False, reasons=False)`` is cheaper still
(counts, bytes, oldest age per queue and domain only).

For the dashboard, every message, delivered in batches while the listing streams::

    q = PostfixQueue.from_config(cfg)
    snap = q.snapshot(on_batch=lambda entries: ..., batch_size=500)   # in a worker thread
    async for entries in q.stream(batch_size=500): ...                # or on an event loop
    snap.entries   # tuple[QueueEntry]: queue, queue_id, arrival, size, sender, recipients(reason), next_retry
    snap.summary   # the QueueSummary of the same read

Change side (``mailtop.mta.actions``): ``QueueActions(cfg)`` with ``hold``, ``release``,
``requeue``, ``delete`` (IDs on stdin to ``postsuper``), ``deliver`` (``postqueue -i``), ``flush``
(``-f``), ``flush_site`` (``-s``), ``select_ids(domain=, reason=, queue=)`` for a summary group,
``plan()`` and ``dry_run=True`` for the exact command, ``available(action)`` for why an action is
disabled. Each returns an ``ActionResult`` and appends to the audit log.

Other MTAs: an adapter produces the same records (``mailtop.mta.records``); ``PostfixQueue`` with
``queue_format = "mailq"`` and ``mailq_command`` already reads Sendmail's ``mailq`` listing.
"""

from __future__ import annotations

# Not ``typing`` (6 ms): ``mailtop queue`` imports this package (``mailtop.mta.early``) before it
# starts postqueue.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from mailtop.mta.records import QueueEntry, QueueSummary, Recipient, Snapshot

__all__ = ["QueueEntry", "QueueSummary", "Recipient", "Snapshot", "summarize", "snapshot"]

_RECORDS = frozenset(("QueueEntry", "QueueSummary", "Recipient", "Snapshot"))


def __getattr__(name: str) -> Any:
    # The records are imported on first use, not with the package: ``mailtop queue`` imports
    # ``mailtop.mta.command`` while the CLI builds its parser, long before it reads the queue, and
    # starts ``postqueue`` before it needs them (the dataclasses cost a few ms to create).
    if name in _RECORDS:
        from mailtop.mta import records

        return getattr(records, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def summarize(cfg: Any, *, shapes: bool = True, reasons: bool = True) -> QueueSummary:
    """The queue summary of ``cfg.postfix.config_dir`` (see the module docstring). Never raises for a
    missing program or an unreadable queue: ``QueueSummary.error`` says what is wrong."""
    from mailtop.mta.postfix import PostfixQueue

    return PostfixQueue.from_config(cfg).summarize(shapes=shapes, reasons=reasons)


def snapshot(cfg: Any, on_batch: Any = None, *, batch_size: int = 500) -> Snapshot:
    """Every entry plus the summary; ``on_batch(list[QueueEntry])`` while it streams. Raises
    ``mailtop.mta.postfix.QueueError`` when the queue cannot be read."""
    from mailtop.mta.postfix import PostfixQueue

    return PostfixQueue.from_config(cfg).snapshot(on_batch, batch_size=batch_size)
