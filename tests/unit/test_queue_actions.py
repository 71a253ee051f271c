"""Queue action planning and validation (no queue is changed here; the lab tests run the actions)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mailtop.config import load_config
from mailtop.mta.actions import InvalidQueueId, QueueActions, is_queue_id, validate_queue_ids, validate_site
from mailtop.ops.audit import read_audit

DATA = Path(__file__).resolve().parent.parent / "data" / "queue"


def test_real_short_ids_are_valid() -> None:
    ids = [json.loads(x)["queue_id"] for x in (DATA / "postqueue-j.jsonl").read_text().splitlines()]
    assert ids and all(is_queue_id(i) for i in ids)


@pytest.mark.parametrize("qid", ["3Pc4Bn6kJnzJxnn", "4Tbmvq0QrJzJvBL", "4YQ3Xz5ZbBz1n2"])
def test_long_ids_are_valid(qid: str) -> None:
    # long IDs as Postfix documents them (enable_long_queue_ids): 10 base-52 characters, "z", inode
    assert is_queue_id(qid)


@pytest.mark.parametrize("bad", ["", "ALL", "-d", "../../etc/passwd", "556c55148e3", "ABC", "556C55148E3 x",
                                 "556C55148E3\nALL", "3Pc4Bn6kJnaJxnn"])
def test_bad_ids_are_refused(bad: str) -> None:
    assert not is_queue_id(bad)
    with pytest.raises(InvalidQueueId) as exc:
        validate_queue_ids(["556C55148E3", bad])
    assert repr(bad) in str(exc.value)


def test_mailq_marks_stripped_and_duplicates_dropped() -> None:
    assert validate_queue_ids(["556C55148E3!", "556C55148E3", " 56FC5514907* "]) == ["556C55148E3", "56FC5514907"]


def test_sites() -> None:
    assert validate_site("example.com") == "example.com"
    assert validate_site("[192.0.2.1]") == "[192.0.2.1]"
    for bad in ("-x", "a b", "", "exa$mple.com"):
        with pytest.raises(ValueError):
            validate_site(bad)


def _cfg(tmp_path: Path, read_only: bool = False):
    toml = tmp_path / "m.toml"
    toml.write_text(
        f'[general]\naudit_log = "{tmp_path}/audit.log"\nread_only = {str(read_only).lower()}\n'
        f'[postfix]\nconfig_dir = "{tmp_path}/postfix"\nnext_retry = false\n'
    )
    return load_config(toml, environ={}, detect=False)


def test_dry_run_shows_the_exact_command_and_is_audited(tmp_path: Path) -> None:
    acts = QueueActions(_cfg(tmp_path))
    res = acts.hold(["556C55148E3", "56FC5514907"], dry_run=True)
    assert res.result == "dry-run" and res.ok
    assert res.argv[1:] == ("-c", f"{tmp_path}/postfix", "-h", "-")
    assert res.argv[0].endswith("postsuper")
    assert res.stdin == "556C55148E3\n56FC5514907\n"
    assert "< 2 queue IDs on stdin" in res.command
    rq = acts.requeue(["556C55148E3"], dry_run=True)
    assert rq.followup and rq.followup[0][-3:] == ("public", "pickup", "W")
    (rec_hold, rec_rq) = read_audit(tmp_path / "audit.log")
    assert rec_hold.action == "hold" and rec_hold.result == "dry-run"
    assert rec_hold.targets == ("556C55148E3", "56FC5514907") and rec_hold.argv == res.argv
    assert rec_rq.action == "requeue"


def test_read_only_refuses_with_the_reason_and_audits(tmp_path: Path) -> None:
    acts = QueueActions(_cfg(tmp_path, read_only=True))
    ok, why = acts.available("delete")
    assert not ok and "read-only" in why
    res = acts.delete(["556C55148E3"])
    assert res.result == "refused" and not res.ok and "read-only" in res.message
    assert read_audit(tmp_path / "audit.log")[-1].result == "refused"


def test_invalid_ids_run_nothing(tmp_path: Path) -> None:
    acts = QueueActions(_cfg(tmp_path))
    with pytest.raises(InvalidQueueId):
        acts.delete(["ALL"])
    assert not (tmp_path / "audit.log").exists()


def test_deliver_takes_exactly_one(tmp_path: Path) -> None:
    acts = QueueActions(_cfg(tmp_path))
    with pytest.raises(ValueError):
        acts.plan("deliver", ["556C55148E3", "56FC5514907"])
    assert acts.plan("deliver", ["556C55148E3"]).argv[-2:] == ("-i", "556C55148E3")
    assert acts.plan("flush_site", site="example.com").argv[-2:] == ("-s", "example.com")
