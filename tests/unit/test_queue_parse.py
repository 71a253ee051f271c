"""Queue parsing and summary on output recorded from the lab (tests/data/queue/README.md says how)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mailtop.mta.mailq_text import parse_mailq
from mailtop.mta.postfix import entry_from_record, feed_json_lines, parse_json_record, summarize_json_lines
from mailtop.mta.records import QueueEntry, address_domain, shape_bucket
from mailtop.mta.summary import SummaryBuilder, group_reason

DATA = Path(__file__).resolve().parent.parent / "data" / "queue"
NOW = float((DATA / "captured-at.txt").read_text().strip())
LINES = (DATA / "postqueue-j.jsonl").read_bytes().splitlines()


def records() -> list[dict]:
    return [json.loads(x) for x in LINES]


def parse_qshape(path: Path) -> dict[str, list[int]]:
    """qshape's table -> {domain: [T, b0..b9]} (TOTAL included)."""
    rows = {}
    for line in path.read_text().splitlines()[1:]:
        parts = line.split()
        rows[parts[0]] = [int(x) for x in parts[1:]]
    return rows


def test_every_recorded_line_parses() -> None:
    assert len(LINES) == 13
    for line in LINES:
        d = parse_json_record(line)
        assert d is not None
        e = entry_from_record(d)
        assert e.queue in ("deferred", "hold")
        assert e.recipients


def test_summary_counts_match_the_raw_json() -> None:
    s = summarize_json_lines(LINES, NOW)
    raw = records()
    for name in ("deferred", "hold"):
        mine = [r for r in raw if r["queue_name"] == name]
        q = s.queue(name)
        assert q.messages == len(mine)
        assert q.bytes == sum(r["message_size"] for r in mine)
        assert q.recipients == sum(len(r["recipients"]) for r in mine)
        assert q.oldest_arrival == min(r["arrival_time"] for r in mine)
    assert s.total_messages == len(raw)
    assert s.skipped == 0
    # the null sender's message is there, and one destination is counted once per recipient
    dom = {d.domain: d for d in s.domains}
    assert dom["example.org"].recipients == 6 and dom["example.org"].messages == 2
    assert dom["upper.example"].recipients == 2  # X@Upper.Example and y@upper.example: one domain


@pytest.mark.parametrize("queue", ["deferred", "hold"])
def test_shape_equals_qshape_on_the_same_queue(queue: str) -> None:
    s = summarize_json_lines(LINES, NOW)
    shape = s.shape(queue)
    assert shape is not None
    mine = {"TOTAL": list(shape.total), **{d: list(c) for d, c in shape.rows}}
    assert mine == parse_qshape(DATA / f"qshape-{queue}.txt")


def test_malformed_lines_are_skipped_and_counted() -> None:
    bad = [b"{not json", b"[1, 2]", b'{"queue_id": 5}', b'{"queue_name": "deferred", "queue_id": "A1B2C3D4E5",'
           b' "arrival_time": "yesterday", "message_size": 1, "recipients": []}', b"\xff\xfe garbage"]
    s = summarize_json_lines([*LINES[:4], *bad, *LINES[4:]], NOW)
    assert s.skipped == len(bad)
    assert s.total_messages == len(LINES)
    assert s.warnings and "malformed" in s.warnings[0]


def test_records_without_the_optional_size_or_recipients_are_counted_not_a_keyerror() -> None:
    """parse_json_record accepts a record without message_size or recipients (optional, as entry_from_record
    reads them); the summary's fast path read d["message_size"] and d["recipients"] and raised KeyError."""
    raw = records()
    no_size = {k: v for k, v in raw[0].items() if k != "message_size"}
    no_rcpts = {k: v for k, v in raw[1].items() if k != "recipients"}
    lines = [json.dumps(no_size).encode(), json.dumps(no_rcpts).encode(), *LINES[2:]]
    s = summarize_json_lines(lines, NOW)
    assert s.skipped == 0 and s.total_messages == len(LINES)
    full = summarize_json_lines(LINES, NOW)
    assert sum(q.bytes for q in s.queues) == sum(q.bytes for q in full.queues) - raw[0]["message_size"]
    assert sum(q.recipients for q in s.queues) == sum(q.recipients for q in full.queues) - len(raw[1]["recipients"])
    # the path that also builds entries (mailtop queue list) reads them the same way
    builder, entries = SummaryBuilder(NOW, "postqueue -j"), []
    feed_json_lines(builder, lines, on_entry=entries.append)
    assert builder.result().queues == s.queues
    assert entries[0].size == 0 and entries[1].recipients == ()


def test_a_recipient_whose_delay_reason_is_not_text_is_malformed() -> None:
    rec = records()[0]
    rec["recipients"][0]["delay_reason"] = 5  # before: TypeError out of the reason grouping
    s = summarize_json_lines([json.dumps(rec).encode(), *LINES[1:]], NOW)
    assert s.skipped == 1 and s.total_messages == len(LINES) - 1


def test_summary_only_keeps_no_messages() -> None:
    b = SummaryBuilder(NOW, "test")
    for line in LINES:
        d = parse_json_record(line)
        assert d is not None
        b.add_raw(d["queue_name"], d["queue_id"], d["arrival_time"], d["message_size"],
                  [(r["address"], r.get("delay_reason", "")) for r in d["recipients"]])
    # what the builder holds is aggregates keyed by queue, domain and reason, nothing per message
    assert set(vars(b)) >= {"_queues", "_domains", "_reasons", "_shape"}
    assert len(b._queues) == 2 and len(b._reasons) == 1
    assert not any(isinstance(v, QueueEntry) for v in vars(b).values())


def test_reasons_grouped_with_suspended_merged() -> None:
    s = summarize_json_lines(LINES, NOW)
    assert [g.reason for g in s.reasons] == ["connect to *: Connection refused"]
    g = s.reasons[0]
    assert g.recipients == sum(len(r["recipients"]) for r in records())
    raw_reasons = {rc["delay_reason"] for r in records() for rc in r["recipients"]}
    assert any(x.startswith("delivery temporarily suspended") for x in raw_reasons)
    assert group_reason("delivery temporarily suspended: connect to 127.0.0.1[127.0.0.1]:2999: Connection refused") \
        == "connect to *: Connection refused"
    assert {d.domain for d in g.domains} == {address_domain(rc["address"]) for r in records() for rc in r["recipients"]}


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch):
    """mailq prints local time; the capture was made in UTC."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_text_listing_matches_json_listing(utc: None) -> None:
    text = (DATA / "postqueue-p.txt").read_text().splitlines()
    items = list(parse_mailq(text, now=NOW))
    assert not [i for i in items if isinstance(i, str)]
    by_id = {e.queue_id: e for e in items if isinstance(e, QueueEntry)}
    for r in records():
        e = by_id[r["queue_id"]]
        assert e.size == r["message_size"]
        assert e.arrival == r["arrival_time"]
        assert e.sender == r["sender"]
        assert sorted(x.address for x in e.recipients) == sorted(x["address"] for x in r["recipients"])
        assert (e.queue == "hold") == (r["queue_name"] == "hold")
        assert {x.reason for x in e.recipients} == {x.get("delay_reason", "") for x in r["recipients"]}


def test_sendmail_mailq_samples() -> None:
    now = 1_700_000_000.0  # Nov 2023: the samples' dates fall in the past year
    one = [e for e in parse_mailq((DATA / "sendmail-mailq-1.txt").read_text().splitlines(), now=now)]
    assert len(one) == 1 and isinstance(one[0], QueueEntry)
    e = one[0]
    assert (e.queue_id, e.size, e.sender, e.queue) == ("xAIK3D9S000453", 36, "emma@lab1.campus", "deferred")
    assert [r.address for r in e.recipients] == ["dave@lab2.campus"]
    assert e.recipients[0].reason == "Deferred: Connection refused by lab2.campus."
    two = list(parse_mailq((DATA / "sendmail-mailq-2.txt").read_text().splitlines(), now=now))
    assert [x.queue_id for x in two if isinstance(x, QueueEntry)] == ["r3U4eRSH223276", "r3U0S9Mt115878"]
    assert [x.queue for x in two if isinstance(x, QueueEntry)] == ["deferred", "active"]
    assert two[0].sender == "MAILER-DAEMON"  # the null sender, written as postqueue -j writes it
    three = [x for x in parse_mailq((DATA / "sendmail-mailq-3.txt").read_text().splitlines(), now=now)]
    assert len(three) == 1 and isinstance(three[0], QueueEntry)
    assert [r.address for r in three[0].recipients] == ["vosamo007@163.com", "buptlsl@163.com"]
    assert three[0].recipients[0].reason == "host map: lookup (163.com): deferred"


def test_text_parser_counts_garbage_and_never_raises() -> None:
    items = list(parse_mailq(["garbage before any entry", "\x00\x01", "ABCDEF1234  12 Xyz Foo 99 99:99:99  a@b"],
                             now=NOW))
    assert all(isinstance(i, str) for i in items) and len(items) == 3


def test_buckets_equal_qshapes_own_formula() -> None:
    """qshape's bucket sub, run by perl itself, against ours for ages around every edge."""
    ages = sorted({max(0, e * 60 + d) for e in (0, 5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 9000)
                   for d in (-1, 0, 1)} | {0, 1, 299, 300, 301, 86400 * 30})
    perl = ("my $tick=5; my $bnum=10; for my $age (@ARGV) { my $m = $age / (60 * $tick); "
            "my $b = $m < 1 ? 1 : 2 + int(log($m) / log(2)); $b = $bnum if $b > $bnum; print \"$b\\n\"; }")
    out = subprocess.run(["perl", "-e", perl, *map(str, ages)], capture_output=True, text=True, check=True).stdout
    theirs = [int(x) - 1 for x in out.split()]
    assert [shape_bucket(a) for a in ages] == theirs


def test_address_domain_like_qshape() -> None:
    assert address_domain("X@Upper.Example") == "upper.example"
    assert address_domain("a@b@c.example.") == "c.example"
    assert address_domain("a@x..example") == "x.example"
    assert address_domain("localuser") == "localuser"
    assert address_domain("") == "MAILER-DAEMON"


def test_queue_command_without_postqueue_is_unknown_not_a_traceback(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path), "HOME": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-m", "mailtop", "--set", f"postfix.bin_dir={tmp_path}", "--set",
         f"general.audit_log={tmp_path}/audit.log", "queue", "--json"],
        capture_output=True, text=True, env={**env, "PYTHONPATH": os.getcwd()}, timeout=30,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 3, proc.stderr
    out = json.loads(proc.stdout)
    assert out["ok"] is False and "postqueue not found" in out["error"]
    assert "Traceback" not in proc.stderr
