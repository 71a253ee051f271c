"""The summary's fast path (``feed_json_blocks``: one regex per canonical ``postqueue -j`` line, no
json.loads, no dict per message) gives exactly what the reference path (``feed_json_lines``: json.loads
and ``parse_json_record`` per line) gives: on the recorded lab output (tests/data/queue/README.md),
on generated lines of every shape the JSON allows, and on randomly mutated lines."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from mailtop.mta.postfix import _split_lines, feed_json_blocks, feed_json_lines
from mailtop.mta.records import QueueSummary, shape_bucket
from mailtop.mta.summary import SummaryBuilder

DATA = Path(__file__).resolve().parent.parent / "data" / "queue"
NOW = float((DATA / "captured-at.txt").read_text().strip())
CAPTURE = (DATA / "postqueue-j.jsonl").read_bytes()


def reference(data: bytes, shapes: bool = True, reasons: bool = True) -> tuple[QueueSummary, int]:
    b = SummaryBuilder(NOW, "postqueue -j", shapes=shapes, reasons=reasons)
    n = feed_json_lines(b, _split_lines(data))
    return b.result(), n


def fast(blocks: list[bytes], shapes: bool = True, reasons: bool = True) -> tuple[QueueSummary, int]:
    b = SummaryBuilder(NOW, "postqueue -j", shapes=shapes, reasons=reasons)
    n = feed_json_blocks(b, blocks)
    return b.result(), n


def cut(data: bytes, rng: random.Random) -> list[bytes]:
    """``data`` in blocks cut after random line ends (as the pipe delivers it); the last block keeps
    whatever follows the last line end."""
    ends = [i + 1 for i, c in enumerate(data) if c == 0x0A]
    cuts = sorted(rng.sample(ends, min(len(ends), rng.randint(0, 5))))
    blocks, start = [], 0
    for c in cuts:
        blocks.append(data[start:c])
        start = c
    if start < len(data):
        blocks.append(data[start:])
    return [b for b in blocks if b]


def assert_same(data: bytes, seed: int = 0) -> QueueSummary:
    rng = random.Random(seed)
    for shapes, reasons in ((True, True), (True, False), (False, False)):
        want = reference(data, shapes, reasons)
        assert fast([data], shapes, reasons) == want
        assert fast(cut(data, rng), shapes, reasons) == want
        assert fast(list(_split_lines(data)), shapes, reasons) == want
    return want[0]


def line(**fields: object) -> bytes:
    """A record the way postqueue -j writes it (key order, ', ' and ': '), with these fields changed;
    a field set to ... is left out."""
    rec: dict[str, object] = {
        "queue_name": "deferred", "queue_id": "3C9A5A8266C", "arrival_time": int(NOW) - 4000,
        "message_size": 2349, "forced_expire": False, "sender": "bench@client.example",
        "recipients": [{"address": "user@bench5.example",
                        "delay_reason": "connect to 127.0.0.1[127.0.0.1]:2999: Connection refused"}],
    }
    rec.update(fields)
    rec = {k: v for k, v in rec.items() if v is not ...}
    return json.dumps(rec, ensure_ascii=False).encode() + b"\n"


def test_the_capture_is_read_alike_and_takes_the_fast_path() -> None:
    s = assert_same(CAPTURE)
    assert s.total_messages == 13 and s.skipped == 0
    # every recorded line has the canonical form (else this test would not test the fast path)
    from mailtop.mta.postfix import _fast_patterns

    assert all(m.group(8) is None for m in _fast_patterns()[0].finditer(CAPTURE.decode()))


def test_the_capture_without_its_last_line_end() -> None:
    assert_same(CAPTURE.rstrip(b"\n"))


RCPT = {"address": "a@b.example", "delay_reason": "4.4.1 host said: 451 try later"}
GENERATED = [
    line(),
    line(recipients=[RCPT, {"address": "c@B.Example.", "delay_reason": "other"}, {"address": "d@b.example"}]),
    line(recipients=[{"address": "x@y.example", "orig_address": "alias@y.example", "delay_reason": "r"}]),
    line(recipients=[{"address": "x@y.example", "orig_address": "alias@y.example"}]),
    line(recipients=[{"address": "x@y.example"}, {"address": "x@y.example", "delay_reason": ""}]),
    line(recipients=[]),
    line(recipients=...),
    line(message_size=...),
    line(message_size=0, arrival_time=0),
    line(queue_name="hold", queue_id="4fGh2Kz5RVzABCdE"),
    line(queue_name="", sender=""),
    line(recipients=[{"address": ""}, {"address": "nodomain"}, {"address": "x@"}, {"address": "a@b@c..example."}]),
    line(recipients=[{"address": "É@Ünïcödé.example", "delay_reason": "ünïcode ⚠ reason"}]),
    line(sender="quote\"in@sender", recipients=[{"address": "back\\slash@x.example"}]),
    line(recipients=[{"address": "tab\t@x.example", "delay_reason": "new\nline"}]),
    line(arrival_time=int(NOW) - 4000 + 0.5),
    line(arrival_time=10**17), line(arrival_time=10**18), line(arrival_time=-5), line(message_size=10**19),
    line(arrival_time=True), line(message_size=1.5), line(queue_id=""), line(queue_id=5),
    line(recipients=[{"address": 5}]), line(recipients=[{"address": "a@b", "delay_reason": None}]),
    line(recipients="a@b"), line(forced_expire=True), line(extra="field"),
    json.dumps({"queue_id": "A1B2C3D4E5", "queue_name": "deferred", "arrival_time": 1795629930,
                "recipients": [RCPT]}).encode() + b"\n",
    b'{"queue_name":"deferred","queue_id":"A1","arrival_time":1795629930,"message_size":1,"recipients":[]}\n',
    b'{"queue_name": "deferred", "queue_id": "A2", "arrival_time": 1795629930, "message_size": 1, '
    b'"forced_expire": false, "sender": "s", "recipients": []}  \n',
    b'  {"queue_name": "deferred", "queue_id": "A3", "arrival_time": 1795629930, "message_size": 1, '
    b'"forced_expire": false, "sender": "s", "recipients": []}\r\n',
    b'{"queue_name": "deferred", "queue_id": "A4", "arrival_time": 01795629930, "message_size": 1, '
    b'"forced_expire": false, "sender": "s", "recipients": []}\n',
    b'{"queue_name": "deferred", "queue_id": "A5", "arrival_time": 1795629930e0, "message_size": 1, '
    b'"forced_expire": false, "sender": "s", "recipients": []}\n',
    b'{"queue_name": "deferred", "queue_id": "A6", "arrival_time": NaN, "message_size": 1, '
    b'"forced_expire": false, "sender": "s", "recipients": []}\n',
    b'{"queue_name": "deferred", "queue_id": "A7", "arrival_time": Infinity, "message_size": 1, '
    b'"forced_expire": false, "sender": "s", "recipients": []}\n',
    b'{"queue_name": "deferred", "queue_id": "A8", "queue_id": "A9", "arrival_time": 1795629930, '
    b'"message_size": 1, "forced_expire": false, "sender": "s", "recipients": []}\n',
    b'{"queue_name": "deferred", "queue_id": "B1", "arrival_time": 1795629930, "message_size": 1, '
    b'"forced_expire": false, "sender": "s", "recipients": [{"address": "a@b"}{"address": "c@d"}]}\n',
    b'{"queue_name": "deferred", "queue_id": "B2", "arrival_time": 1795629930, "message_size": 1, '
    b'"forced_expire": false, "sender": "s", "recipients": [{"address": "a@b"},]}\n',
    b'{"queue_name": "deferred", "queue_id": "B3", "arrival_time": 1795629930, "message_size": 1, '
    b'"forced_expire": false, "sender": "s", "recipients": []}{"queue_name": "x"}\n',
    b'{"a": 1}, {"b": 2}\n', b"[1, 2]\n", b"{not json\n", b"\n", b"   \n", b"\xff\xfe garbage\n",
    b'{"queue_name": "deferred", "queue_id": "C1", "arrival_time": 1795629930, "message_size": 1, '
    b'"forced_expire": false, "sender": "\xc3", "recipients": []}\n',
    b'{"queue_name": "deferred", "queue_id": "C2", "arrival_time": 1795629930, "message_size": 1, '
    b'"forced_expire": false, "sender": "\xed\xa0\x80", "recipients": []}\n',
    b'\xef\xbb\xbf{"queue_name": "deferred", "queue_id": "C3", "arrival_time": 1795629930, "message_size": 1, '
    b'"forced_expire": false, "sender": "s", "recipients": []}\n',
    b'{"queue_name": "deferred", "queue_id": "C4", "arrival_time": 1795629930, "message_size": 1, '
    b'"forced_expire": false, "sender": "s\x01", "recipients": []}\n',
]


@pytest.mark.parametrize("i", range(len(GENERATED)))
def test_each_generated_line_alone_and_amid_the_capture(i: int) -> None:
    one = GENERATED[i]
    assert_same(one, seed=i)
    lines = list(_split_lines(CAPTURE))
    assert_same(b"".join([*lines[:5], one, *lines[5:]]), seed=i)


def test_all_generated_lines_together() -> None:
    s = assert_same(b"".join(GENERATED) + CAPTURE)
    assert s.skipped > 10 and s.warnings  # the malformed ones are counted, as before


def test_mutated_lines() -> None:
    rng = random.Random(20261125)
    lines = list(_split_lines(CAPTURE)) + GENERATED[:16]
    alphabet = b'{}[]",: \\\n\t0129aZ@.-\xc3\xa9\xff'
    for round_ in range(300):
        out = []
        for ln in lines:
            b = bytearray(ln)
            for _ in range(rng.choice((0, 0, 1, 2))):
                pos = rng.randrange(len(b) + 1)
                op = rng.random()
                if op < 0.4 and pos < len(b):
                    del b[pos]
                elif op < 0.7:
                    b[pos:pos] = bytes([rng.choice(alphabet)])
                elif pos < len(b):
                    b[pos] = rng.choice(alphabet)
            out.append(bytes(b))
        assert_same(b"".join(out), seed=round_)


def test_bucket_formula_inlined_in_the_builder_is_shape_bucket() -> None:
    ages = [0, 1, 299.999, 300, 300.001, 599, 600, 1199, 1200, 2400, 4800, 9600, 19200, 38400, 76799.9, 76800,
            153600, 10**7, -5, -0.0]
    ages += [random.Random(7).uniform(0, 200000) for _ in range(2000)]
    for age in ages:
        b = SummaryBuilder(1_000_000_000.0, "t", reasons=False)
        b.add_raw("deferred", "A1B2C3", 1_000_000_000.0 - age, 1, [("x@y.example", "")])
        total = b.result().shape("deferred").total  # type: ignore[union-attr]
        assert total[1 + shape_bucket(1_000_000_000.0 - (1_000_000_000.0 - age))] == 1, age


def test_a_non_finite_arrival_is_malformed_not_a_crash() -> None:
    """Before: ``"arrival_time": NaN`` passed the checks and int(nan) raised in the shape buckets."""
    s, n = reference(GENERATED[GENERATED.index(next(g for g in GENERATED if b"NaN" in g))])
    assert (n, s.skipped) == (0, 1)


# --------------------------------------------------------------------------- the block reader


def test_listing_blocks_are_whole_lines_and_lose_nothing() -> None:
    """A writer that writes one line per write(), pausing, like postqueue: every block ends at a line
    end except possibly the last, and the blocks add up to exactly the output."""
    from mailtop.mta.postfix import _Listing

    script = ("for i in $(seq 1 300); do printf '%s-line-%s\\n' abcdefghij $i; "
              "[ $((i % 100)) = 0 ] && sleep 0.01; done; printf 'tail-without-newline'")
    listing = _Listing(["sh", "-c", script], timeout=30)
    blocks = list(listing.blocks())
    listing.finish()
    data = b"".join(blocks)
    assert data == b"".join(b"abcdefghij-line-%d\n" % i for i in range(1, 301)) + b"tail-without-newline"
    assert all(b.endswith(b"\n") for b in blocks[:-1]) and blocks[-1] == b"tail-without-newline"
    assert len(blocks) < 300  # batched: not one block per write


def test_listing_failure_names_the_command_and_its_stderr() -> None:
    from mailtop.mta.postfix import QueueError, _Listing

    listing = _Listing(["sh", "-c", "echo 'postqueue: fatal: Queue report unavailable - mail system is down' >&2; "
                                    "exit 69"], timeout=30)
    assert list(listing.blocks()) == []
    with pytest.raises(QueueError, match="mail system is down.*is Postfix running"):
        listing.finish()
    listing.finish()  # a second finish does nothing


def test_listing_timeout_kills_the_command() -> None:
    from mailtop.mta.postfix import QueueError, _Listing

    listing = _Listing(["sleep", "30"], timeout=0.2)
    assert list(listing.blocks()) == []
    with pytest.raises(QueueError, match="timed out after 0.2 s"):
        listing.finish()
