"""Probes through the lab: echo@lab.test answers, alice@lab.test never does, ghost@lab.test bounces.

Replies land in the lab's `probe` mailbox; each probe matches only its own token, so probes can run
side by side and the mailbox may hold old replies.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import pytest

from mailtop.health.probe import ProbeSettings, ProbeStatus, read_history, run_probe, run_probe_sync

pytestmark = pytest.mark.lab

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def settings(lab_config, tmp_path):
    return replace(ProbeSettings.from_config(lab_config, timeout=20), state_dir=tmp_path / "state")


@pytest.fixture
def password(lab):
    return lab["users"]["probe"]["password"]


def test_probe_to_the_echo_responder_comes_back(settings, password):
    phases = []
    threads = set()

    def progress(ev):
        phases.append(ev.phase)
        threads.add(threading.get_ident())

    r = run_probe_sync(settings, password, progress)
    assert r.status is ProbeStatus.REPLIED, r.detail
    assert r.ok and r.round_trip is not None and 0 < r.round_trip < settings.timeout
    assert r.token in r.reply_subject and r.sender == f"probe+{r.token}@lab.test"
    assert r.submitted_via.endswith("submission STARTTLS AUTH") and r.queue_id
    assert r.wait_mode == "idle"
    assert r.probe_path and r.probe_path[0].protocol == "ESMTPSA" and r.probe_path[0].queue_id == r.queue_id
    assert [h.protocol for h in r.reply_path] == ["LMTP", "ESMTP"]
    assert phases[:3] == ["mailbox", "submit", "sent"] and phases[-2:] == ["reply", "done"]
    assert threads == {threading.get_ident()}  # progress runs on the probe's own thread
    (entry,) = read_history(settings.state_dir)
    assert entry.token == r.token and entry.status == "replied" and entry.round_trip == round(r.round_trip, 4)
    assert password not in json.dumps(r.to_dict())


def test_probe_by_port_25_without_authentication(settings, password, lab):
    s = replace(settings, submit_mode="smtp", submit_port=lab["ports"]["smtp"])
    r = run_probe_sync(s, password)
    assert r.status is ProbeStatus.REPLIED, r.detail
    assert "AUTH" not in r.submitted_via and r.probe_path[0].protocol in ("ESMTPS", "ESMTP")


def test_polling_when_idle_is_off(settings, password):
    r = run_probe_sync(replace(settings, idle=False, poll_interval=0.2), password)
    assert r.status is ProbeStatus.REPLIED and r.wait_mode == "poll"


def test_probe_to_an_address_that_never_answers_times_out(settings, password):
    t0 = time.monotonic()
    r = run_probe_sync(replace(settings, target="alice@lab.test", timeout=2.5), password)
    elapsed = time.monotonic() - t0
    assert r.status is ProbeStatus.TIMEOUT and not r.ok
    assert r.round_trip is None and r.queue_id  # it was sent, nothing came back
    assert "no reply from alice@lab.test within 2.5 s" in r.detail
    assert elapsed < 2.5 + 2  # the timeout is honoured (a generous margin)
    assert read_history(settings.state_dir)[-1].status == "timeout"


def test_probe_to_an_unknown_mailbox_bounces(settings, password):
    r = run_probe_sync(replace(settings, target="ghost@lab.test"), password)
    assert r.status is ProbeStatus.BOUNCED and not r.ok
    assert "5.1.1" in r.detail and "User doesn't exist" in r.detail
    assert r.round_trip is not None


def test_submission_refused(settings, password, lab):
    r = run_probe_sync(replace(settings, submit_port=lab["ports"]["dead_relay"]), password)
    assert r.status is ProbeStatus.SEND_FAILED and "refused" in r.detail


def test_two_probes_at_once_each_get_their_own_reply(settings, password):
    async def both():
        return await asyncio.gather(run_probe(settings, password), run_probe(settings, password))

    a, b = asyncio.run(both())
    assert a.ok and b.ok and a.token != b.token
    assert a.token in a.reply_subject and b.token in b.reply_subject


def _cli(lab, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("MAILTOP_")}
    env["MAILTOP_GENERAL__STATE_DIR"] = str(Path(lab["state_dir"]) / "mailtop-state-tests")
    return subprocess.run(
        [sys.executable, "-m", "mailtop", "--config", str(Path(lab["state_dir"]) / "mailtop.toml"), "probe", *args],
        capture_output=True, text=True, timeout=60, env=env, cwd=REPO, stdin=subprocess.DEVNULL,
    )


def test_cli_probe_json(lab):
    p = _cli(lab, "--json", "--timeout", "20")
    assert p.returncode == 0, p.stdout + p.stderr
    data = json.loads(p.stdout)
    assert data["status"] == "replied" and data["round_trip"] > 0 and data["target"] == "echo@lab.test"
    assert "sent: accepted as" in p.stderr  # progress lines
    assert lab["users"]["probe"]["password"] not in p.stdout + p.stderr


def test_cli_probe_no_reply_exits_1_in_time(lab):
    t0 = time.monotonic()
    p = _cli(lab, "alice@lab.test", "--timeout", "2", "--quiet")
    assert p.returncode == 1
    assert "status       timeout: no reply from alice@lab.test within 2 s" in p.stdout
    assert p.stderr == ""
    assert time.monotonic() - t0 < 2 + 6  # the 2 s timeout is honoured (plus interpreter start-up, generously)


def test_cli_history(lab):
    _cli(lab, "--quiet")
    p = _cli(lab, "--history", "3", "--json")
    assert p.returncode == 0
    entries = json.loads(p.stdout)
    # --history 3 after at least one probe: between one and three entries, newest last
    assert len(entries) in (1, 2, 3), entries
    assert entries[-1]["target"] == "echo@lab.test"


def test_probe_findings_for_the_check_registry(lab_config, tmp_path):
    from mailtop.health.probe import probe_findings
    from mailtop.model import Status

    (f,) = asyncio.run(probe_findings(replace(lab_config, general=replace(lab_config.general,
                                                                          state_dir=tmp_path))))
    assert f.id == "probe.echo@lab.test" and f.status is Status.OK, (f.summary, f.details)
    assert f.metrics[0].label == "round_trip" and 0 < f.metrics[0].value < lab_config.probe.timeout


def test_cancelling_a_probe_in_flight_stops_its_mailbox_thread(settings, password):
    async def cancel_after_one_second():
        t0 = time.monotonic()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(run_probe(replace(settings, target="alice@lab.test", timeout=20), password), 1.0)
        cancelled_in = time.monotonic() - t0
        # the mailbox thread notices within one IDLE chunk (2 s) and logs out (2 s at most); the executor then
        # shuts down: wait_for raises TimeoutError if the thread outlives that (plus a generous margin)
        await asyncio.wait_for(asyncio.get_running_loop().shutdown_default_executor(), 2.0 + 2.0 + 2.0)
        return cancelled_in

    cancelled_in = asyncio.run(cancel_after_one_second())
    assert cancelled_in < 1.0 + 2  # the cancellation at 1 s is honoured (a generous margin)
