"""The queue against the running lab: fill, list, compare with postqueue -j and qshape, act.

Every test sends its own mail to its own domain (``q<random>.example``, deferred by the lab's dead
relay) and removes it at the end, so the tests do not depend on what else is in the queue.
"""

from __future__ import annotations

import json
import os
import smtplib
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mailtop.config import Config
from mailtop.mta.actions import QueueActions
from mailtop.mta.postfix import PostfixQueue
from mailtop.mta.records import QueueEntry

pytestmark = pytest.mark.lab
REPO = Path(__file__).resolve().parents[2]


def raw_listing(cfg: Config) -> list[dict]:
    out = subprocess.run(["postqueue", "-c", str(cfg.postfix.config_dir), "-j"], capture_output=True, text=True,
                         check=True, timeout=60).stdout
    return [json.loads(x) for x in out.splitlines() if x.strip()]


def ids_for(cfg: Config, domain: str, queue: str | None = None) -> list[str]:
    return [r["queue_id"] for r in raw_listing(cfg)
            if (queue is None or r["queue_name"] == queue)
            and any(x["address"].lower().endswith("@" + domain) for x in r["recipients"])]


def wait_for(pred: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            pytest.fail("the lab did not get there in time")
        time.sleep(0.2)


@pytest.fixture
def filled(lab: dict, lab_config: Config) -> Iterator[tuple[str, list[str]]]:
    """Five deferred messages (two with two recipients) for a fresh domain; removed afterwards."""
    domain = f"q{uuid.uuid4().hex[:10]}.example"
    with smtplib.SMTP("127.0.0.1", lab["ports"]["smtp"], local_hostname="client.example", timeout=10) as s:
        for i in range(5):
            rcpts = [f"user{i}@{domain}"] + ([f"other{i}@{domain}"] if i % 2 == 0 and i < 4 else [])
            s.sendmail(f"sender{i}@client.example", rcpts, f"Subject: queue test {i}\r\n\r\nbody {i}\r\n".encode())
    wait_for(lambda: len(ids_for(lab_config, domain, "deferred")) == 5)
    yield domain, ids_for(lab_config, domain)
    left = ids_for(lab_config, domain)
    if left:
        subprocess.run(["postsuper", "-c", str(lab_config.postfix.config_dir), "-d", "-"],
                       input="".join(i + "\n" for i in left), capture_output=True, text=True, timeout=60, check=False)


def test_summary_matches_postqueue_json(lab_config: Config, filled: tuple[str, list[str]]) -> None:
    domain, ids = filled
    s = PostfixQueue.from_config(lab_config).summarize()
    assert s.ok, s.error
    raw = raw_listing(lab_config)
    for name in ("deferred", "hold", "active", "incoming"):
        mine = [r for r in raw if r["queue_name"] == name]
        assert s.count(name) == len(mine)
        assert s.queue(name).bytes == sum(r["message_size"] for r in mine)
    d = {x.domain: x for x in s.domains}[domain]
    assert (d.messages, d.recipients) == (5, 7)
    assert d.queues == (("deferred", 7),)
    assert s.queue("deferred").next_retry is not None
    group = next(g for g in s.reasons if any(x.domain == domain for x in g.domains))
    assert group.reason == "connect to *: Connection refused"


def test_snapshot_streams_and_next_retry_is_the_file_mtime(lab_config: Config, filled: tuple[str, list[str]]) -> None:
    domain, ids = filled
    batches: list[int] = []
    q = PostfixQueue.from_config(lab_config)
    snap = q.snapshot(lambda b: batches.append(len(b)), batch_size=2)
    assert sum(batches) == len(snap.entries) and len(batches) >= 3
    assert max(batches) <= 2
    mine = [e for e in snap.entries if e.queue_id in ids]
    assert len(mine) == 5
    qdir = q.queue_directory()
    assert qdir is not None
    for e in mine:
        path = next((qdir / "deferred").rglob(e.queue_id))
        assert e.next_retry == path.stat().st_mtime
        assert e.next_retry > e.arrival  # qmgr set it to the next attempt (minimal_backoff_time later)
    assert snap.summary.total_messages == len(snap.entries)


async def test_async_stream_gives_batches(lab_config: Config, filled: tuple[str, list[str]]) -> None:
    domain, ids = filled
    seen: list[QueueEntry] = []
    async for batch in PostfixQueue.from_config(lab_config).stream(batch_size=3):
        assert 0 < len(batch) <= 3
        seen.extend(batch)
    assert set(ids) <= {e.queue_id for e in seen}


def test_shape_equals_qshape(lab_config: Config, filled: tuple[str, list[str]]) -> None:
    s = PostfixQueue.from_config(lab_config).summarize()
    out = subprocess.run(["qshape", "-c", str(lab_config.postfix.config_dir), "deferred"], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    theirs = {p[0]: [int(x) for x in p[1:]] for p in (ln.split() for ln in out.splitlines()[1:])}
    shape = s.shape("deferred")
    assert shape is not None
    mine = {"TOTAL": list(shape.total), **{d: list(c) for d, c in shape.rows}}
    assert mine == theirs
    assert theirs[filled[0]][0] == 7


def test_hold_then_release_a_group(lab_config: Config, filled: tuple[str, list[str]]) -> None:
    domain, ids = filled
    acts = QueueActions(lab_config)
    group = acts.select_ids(domain=domain, reason="connect to *: Connection refused")
    assert sorted(group) == sorted(ids)
    res = acts.hold(group)
    assert res.result == "ok", res.message
    assert sorted(res.done) == sorted(ids)
    assert sorted(ids_for(lab_config, domain, "hold")) == sorted(ids)
    res = acts.release(group)
    assert res.result == "ok" and sorted(res.done) == sorted(ids)
    assert not ids_for(lab_config, domain, "hold")
    from mailtop.ops.audit import read_audit

    last = read_audit(Path(lab_config.general.audit_log))[-2:]
    assert [r.action for r in last] == ["hold", "release"]
    assert sorted(last[0].targets) == sorted(ids) and last[0].argv[-2:] == ("-h", "-")


def test_requeue_gives_new_ids(lab_config: Config, filled: tuple[str, list[str]]) -> None:
    domain, ids = filled
    acts = QueueActions(lab_config)
    res = acts.requeue(ids[:2])
    assert res.result == "ok", res.message
    assert res.followup and res.followup[0][-3:] == ("public", "pickup", "W")
    wait_for(lambda: not set(ids[:2]) & set(ids_for(lab_config, domain)))
    now = ids_for(lab_config, domain)
    assert len(now) == 5
    new = set(now) - set(ids)
    assert len(new) == 2
    assert set(res.new_ids) == set(ids[:2]) and set(res.new_ids.values()) == new


def test_delete_group_reports_the_gone_per_id(lab_config: Config, filled: tuple[str, list[str]]) -> None:
    domain, ids = filled
    acts = QueueActions(lab_config)
    gone = "A1B2C3D4E5F"  # valid form, not in the queue: left between listing and action
    res = acts.delete([*ids, gone])
    assert res.result == "partial"
    assert sorted(res.done) == sorted(ids)
    assert res.missing == (gone,)
    assert not ids_for(lab_config, domain)


def test_deliver_one_and_flush(lab_config: Config, filled: tuple[str, list[str]]) -> None:
    domain, ids = filled
    acts = QueueActions(lab_config)
    res = acts.deliver(ids[0])
    assert res.result == "ok" and res.done == (ids[0],)
    assert acts.deliver("A1B2C3D4E5F").missing == ("A1B2C3D4E5F",)
    assert acts.flush().result == "ok"
    # the dead relay defers them again: still all there
    wait_for(lambda: len(ids_for(lab_config, domain, "deferred")) == 5)


def _mailtop(lab: dict, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailtop", "--config", str(Path(lab["state_dir"]) / "mailtop.toml"), "queue", *args],
        capture_output=True, text=True, timeout=120, cwd=REPO, input=stdin,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def test_cli_json_and_group_action(lab: dict, lab_config: Config, filled: tuple[str, list[str]]) -> None:
    domain, ids = filled
    p = _mailtop(lab, "--json", "--shape", "--reasons")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["schema"] == "mailtop.queue/1" and out["ok"] is True
    assert set(out["queues"]) == {"maildrop", "incoming", "active", "deferred", "hold"}
    assert out["queues"]["deferred"]["messages"] >= 5
    assert any(d["domain"] == domain and d["recipients"] == 7 for d in out["domains"])
    assert out["shape"]["headings"][0] == "T" and "deferred" in out["shape"]["queues"]
    assert out["reasons"][0]["reason"]
    # a group action: dry run first (exact command, IDs), then refused without --yes off a terminal
    p = _mailtop(lab, "hold", "--domain", domain, "--dry-run")
    assert p.returncode == 0, p.stderr
    assert "postsuper -c" in p.stdout and "-h -" in p.stdout
    assert sorted(set(p.stdout.split()) & set(ids)) == sorted(ids)
    p = _mailtop(lab, "delete", "--domain", domain)
    assert p.returncode == 2 and "refusing without --yes" in p.stderr
    assert len(ids_for(lab_config, domain)) == 5
    p = _mailtop(lab, "delete", "--domain", domain, "--yes", "--json")
    assert p.returncode == 0, p.stderr
    assert sorted(json.loads(p.stdout)["done"]) == sorted(ids)
    assert not ids_for(lab_config, domain)


def test_ctrl_d_at_the_action_prompt_is_no(lab: dict, lab_config: Config, filled: tuple[str, list[str]],
                                          on_terminal) -> None:
    """On a terminal, `mailtop queue hold ID` asks; Ctrl-D (end of input) is "no": nothing held, exit 2, no
    EOFError traceback (before, input() raised it out of the command)."""
    domain, ids = filled
    p = on_terminal(["--config", str(Path(lab["state_dir"]) / "mailtop.toml"), "queue", "hold", ids[0]], b"\x04")
    assert "Traceback" not in p.stderr and "EOFError" not in p.stderr, p.stderr
    assert p.returncode == 2
    assert "proceed? [y/N]" in p.stdout and "-h -" in p.stdout
    assert "nothing done" in p.stderr
    assert ids_for(lab_config, domain, "hold") == []
    assert sorted(ids_for(lab_config, domain, "deferred")) == sorted(ids)


# --------------------------------------------------------------------------- the early start


def _children_named(name: str) -> list[int]:
    """PIDs of this process's children (any thread's) whose command is ``name``, zombies included."""
    pids = []
    for task in os.listdir("/proc/self/task"):
        with open(f"/proc/self/task/{task}/children") as fh:
            for pid in fh.read().split():
                try:
                    comm = Path(f"/proc/{pid}/comm").read_text().strip()
                except FileNotFoundError:
                    continue
                if comm == name:
                    pids.append(int(pid))
    return pids


def _domain_row(summary, domain: str) -> tuple[int, int]:
    (d,) = [d for d in summary.domains if d.domain == domain]
    return d.recipients, d.messages


def test_early_listing_is_taken_over(lab: dict, lab_config: Config, filled: tuple[str, list[str]]) -> None:
    """`mailtop queue --json --shape` starts postqueue before the config is loaded; the summary takes
    that very process over (no second postqueue) and gives what the normal path gives."""
    from mailtop.cli import _early_listing

    domain, _ = filled
    queue = PostfixQueue.from_config(lab_config)
    listing = _early_listing(["--config", str(Path(lab["state_dir"]) / "mailtop.toml"), "queue", "--json", "--shape"])
    assert listing is not None and listing.argv == queue.listing_argv("json")
    s = queue.summarize(early=listing)
    assert listing.adopted and listing.returncode == 0
    assert s.error == "" and s.time == listing.started and s.argv == tuple(listing.argv)
    assert _domain_row(s, domain) == (7, 5) == _domain_row(queue.summarize(), domain)
    assert _children_named("postqueue") == []


def test_a_wrong_early_guess_is_killed_and_the_listing_run_again(lab_config: Config,
                                                                filled: tuple[str, list[str]]) -> None:
    from mailtop.mta import early

    domain, _ = filled
    decoy = early.start([sys.executable, "-c", "import time; time.sleep(60)"])
    assert decoy is not None
    s = PostfixQueue.from_config(lab_config).summarize(early=decoy)
    assert decoy.returncode == -9  # killed and reaped
    assert s.error == "" and _domain_row(s, domain) == (7, 5)
    assert s.argv == tuple(PostfixQueue.from_config(lab_config).listing_argv("json"))


def test_early_listing_is_reaped_when_the_command_line_or_config_is_refused(lab: dict, tmp_path: Path,
                                                                           capsys) -> None:
    from mailtop.cli import _early_listing, main

    bad = tmp_path / "mailtop.toml"
    bad.write_text(f'[postfix]\nconfig_dir = "{lab["postfix"]["config_dir"]}"\n[smtp]\nprot = 25\n')
    argv = ["--config", str(bad), "queue", "--json"]
    started = _early_listing(argv)
    assert started is not None  # the guess does start postqueue for this command line ...
    started.discard()
    assert main(argv) == 2  # ... and the config error (did you mean) still comes out, the child reaped
    assert "unknown key 'smtp.prot' (did you mean 'port'?)" in capsys.readouterr().err
    assert _children_named("postqueue") == []
    with pytest.raises(SystemExit) as exc:
        main(["--config", str(Path(lab["state_dir"]) / "mailtop.toml"), "queue", "--top", "many"])
    assert exc.value.code == 2 and "invalid int value" in capsys.readouterr().err
    assert _children_named("postqueue") == []


def test_cli_hands_its_early_listing_to_the_summary(lab: dict, filled: tuple[str, list[str]], monkeypatch,
                                                    capsys) -> None:
    """`mailtop queue --json` through main(): the summary reads the postqueue started before the config
    was loaded (taken over by _Listing), and no second listing is started."""
    from mailtop.cli import main
    from mailtop.mta import postfix

    domain, _ = filled
    taken: list[bool] = []
    real_init = postfix._Listing.__init__

    def spy(self, argv, timeout, started=None):  # records, then does the real work
        taken.append(started is not None)
        real_init(self, argv, timeout, started)

    monkeypatch.setattr(postfix._Listing, "__init__", spy)
    assert main(["--config", str(Path(lab["state_dir"]) / "mailtop.toml"), "queue", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert taken == [True]
    assert any(d["domain"] == domain and d["recipients"] == 7 for d in out["domains"])
    assert _children_named("postqueue") == []
