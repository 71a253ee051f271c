"""The stable JSON of ``mailtop queue --json`` (schema ``mailtop.queue/1``, documented in docs/queue.md).

Rules that keep it stable: every key is always present (``null`` when not asked for or unknown);
all five queues always appear; times are Unix seconds (numbers) plus ages in seconds; new keys may
be added in a later version, existing ones never change meaning without a new schema name.
"""

from __future__ import annotations

import json
from typing import IO, Any

from mailtop.mta.records import QUEUE_NAMES, SHAPE_EDGES_MINUTES, SHAPE_HEADINGS, QueueEntry, QueueSummary

SCHEMA = "mailtop.queue/1"


def _age(now: float, t: float | None) -> float | None:
    return None if t is None else round(max(0.0, now - t), 3)


def summary_json(s: QueueSummary, *, shape: bool, reasons: bool, shape_queue: str | None = None) -> dict[str, Any]:
    now = s.time
    queues = {}
    for name in QUEUE_NAMES:
        q = s.queue(name)
        queues[name] = {
            "messages": q.messages,
            "recipients": q.recipients,
            "bytes": q.bytes,
            "oldest_id": q.oldest_id or None,
            "oldest_arrival": q.oldest_arrival,
            "oldest_age": _age(now, q.oldest_arrival),
            "next_retry": q.next_retry,
        }
    out: dict[str, Any] = {
        "schema": SCHEMA,
        "time": now,
        "source": s.source,
        "command": list(s.argv),
        "ok": s.ok,
        "error": s.error or None,
        "skipped": s.skipped,
        "warnings": list(s.warnings),
        "total": {
            "messages": s.total_messages,
            "recipients": sum(q.recipients for q in s.queues),
            "bytes": sum(q.bytes for q in s.queues),
            "oldest_age": s.oldest_age(),
        },
        "queues": queues,
        "domains": [
            {
                "domain": d.domain,
                "recipients": d.recipients,
                "messages": d.messages,
                "oldest_id": d.oldest_id,
                "oldest_arrival": d.oldest_arrival,
                "oldest_age": _age(now, d.oldest_arrival),
                "queues": dict(d.queues),
            }
            for d in s.domains
        ],
        "reasons": None,
        "shape": None,
    }
    if reasons:
        out["reasons"] = [
            {
                "reason": g.reason,
                "example": g.example,
                "recipients": g.recipients,
                "messages": g.messages,
                "oldest_arrival": g.oldest_arrival,
                "oldest_age": _age(now, g.oldest_arrival),
                "domains": [
                    {"domain": d.domain, "recipients": d.recipients, "oldest_age": _age(now, d.oldest_arrival)}
                    for d in g.domains
                ],
            }
            for g in s.reasons
        ]
    if shape:
        out["shape"] = {
            "unit": "recipients",
            "bucket_minutes": list(SHAPE_EDGES_MINUTES),
            "headings": ["T", *SHAPE_HEADINGS],
            "queues": {
                sh.queue: {
                    "total": list(sh.total),
                    "rows": [{"domain": dom, "counts": list(c)} for dom, c in sh.rows],
                }
                for sh in s.shapes
                if shape_queue is None or sh.queue == shape_queue
            },
        }
    return out


def entry_json(e: QueueEntry, now: float) -> dict[str, Any]:
    """One message of ``mailtop queue list --json`` (one object per line)."""
    return {
        "queue": e.queue,
        "queue_id": e.queue_id,
        "arrival": e.arrival,
        "age": _age(now, e.arrival),
        "size": e.size,
        "sender": e.sender,
        "forced_expire": e.forced_expire,
        "next_retry": e.next_retry,
        "recipients": [{"address": r.address, "domain": r.domain, "reason": r.reason} for r in e.recipients],
    }


def action_json(res: Any) -> dict[str, Any]:
    return {
        "schema": "mailtop.queue-action/1",
        "action": res.action,
        "argv": list(res.argv),
        "followup": [list(f) for f in res.followup],
        "result": res.result,
        "targets": list(res.targets),
        "done": list(res.done),
        "missing": list(res.missing),
        "new_ids": dict(res.new_ids),
        "message": res.message,
        "returncode": res.returncode,
    }


def write_json(obj: Any, out: IO[str]) -> None:
    json.dump(obj, out, ensure_ascii=False, indent=2)
    out.write("\n")
