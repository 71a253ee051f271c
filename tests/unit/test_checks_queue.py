"""The queue check (``mailtop.checks.queue_findings``) on the queue recorded from the lab (tests/data/queue):
``postqueue -j`` with deferred mail and one message an admin put on hold (``postsuper -h``)."""

from __future__ import annotations

import json
from pathlib import Path

from mailtop.checks import queue_findings
from mailtop.config import Config
from mailtop.model import Status
from mailtop.mta.postfix import summarize_json_lines

DATA = Path(__file__).resolve().parent.parent / "data" / "queue"
CAPTURED = float((DATA / "captured-at.txt").read_text().strip())
LINES = (DATA / "postqueue-j.jsonl").read_bytes().splitlines()
TWO_DAYS = 2 * 86400.0  # read the recording two days later: every message is past queue_oldest_crit (1 day)


def _held_domain() -> str:
    (held,) = [json.loads(x) for x in LINES if json.loads(x)["queue_name"] == "hold"]
    return held["recipients"][0]["address"].rpartition("@")[2]


def test_an_old_held_message_alone_does_not_make_its_destination_critical():
    domain = _held_domain()
    # the recording without the deferred mail for the held message's domain: that domain has only held mail
    lines = [x for x in LINES if json.loads(x)["queue_name"] == "hold"
             or not any(r["address"].endswith("@" + domain) for r in json.loads(x)["recipients"])]
    summary = summarize_json_lines(lines, CAPTURED + TWO_DAYS)
    by = {f.id: f for f in queue_findings(summary, Config())}
    assert by["queue.hold"].status is Status.OK and by["queue.hold"].data["messages"] == 1  # reported, not judged
    assert f"queue.domain.{domain}" not in by
    assert by["queue.domain.example.net"].status is Status.CRITICAL  # deferred mail still is judged
    assert by["queue.deferred"].status is Status.CRITICAL


def test_a_destination_with_held_and_deferred_mail_counts_only_the_deferred():
    domain = _held_domain()
    raw = [json.loads(x) for x in LINES]
    deferred = [r for r in raw if r["queue_name"] == "deferred"
                and any(a["address"].endswith("@" + domain) for a in r["recipients"])]
    assert deferred  # the recording has deferred mail for the held message's domain too
    summary = summarize_json_lines(LINES, CAPTURED + TWO_DAYS)
    (d,) = [d for d in summary.domains if d.domain == domain]
    assert dict(d.queues) == {"deferred": len(deferred), "hold": 1}
    assert dict(d.queue_oldest)["hold"] == min(r["arrival_time"] for r in raw if r["queue_name"] == "hold")
    f = {f.id: f for f in queue_findings(summary, Config())}[f"queue.domain.{domain}"]
    assert f.status is Status.CRITICAL
    assert f.data["recipients"] == len(deferred)
    assert f.data["oldest_age"] == CAPTURED + TWO_DAYS - min(r["arrival_time"] for r in deferred)
    assert f"deferred {len(deferred)}, hold 1" in f.details
