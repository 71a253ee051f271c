"""Login step timings and probe round trips on the lab, against named peers measured in the same run.

    ip netns exec mt-NAME env MAILTOP_LAB_DIR=... .venv/bin/python tests/bench/bench_login_probe.py [N]

Peers:
- login: the bare standard library doing the same session (imaplib IMAP4/IMAP4_SSL: login, list,
  select, logout; poplib POP3/POP3_SSL: user, pass, stat, quit) without mailtop's step bookkeeping;
  the ratio is mailtop's total over the peer's.
- probe: the same probe with IMAP IDLE against polling every 1 s (``[probe] idle = false``);
  the ratio is poll over IDLE.
Prints medians; no pass/fail (timing goals live here, not in tests).
"""

from __future__ import annotations

import imaplib
import json
import os
import poplib
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from mailtop.config import load_config  # noqa: E402
from mailtop.health.access import LoginSpec, check_login, tls_context  # noqa: E402
from mailtop.health.probe import ProbeSettings, run_probe_sync  # noqa: E402


def peer_login(protocol: str, port: int, user: str, pw: str) -> float:
    ctx = tls_context(True)
    t0 = time.perf_counter()
    if protocol.startswith("imap"):
        m = (imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx, timeout=10) if protocol == "imaps"
             else imaplib.IMAP4("127.0.0.1", port, timeout=10))
        m.login(user, pw)
        m.list()
        m.select("INBOX", readonly=True)
        m.logout()
    else:
        p = (poplib.POP3_SSL("127.0.0.1", port, context=ctx, timeout=10) if protocol == "pop3s"
             else poplib.POP3("127.0.0.1", port, timeout=10))
        p.user(user)
        p.pass_(pw)
        p.stat()
        p.quit()
    return time.perf_counter() - t0


def main() -> int:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    state = Path(os.environ.get("MAILTOP_LAB_DIR", REPO / ".lab"))
    lab = json.loads((state / "lab.json").read_text())
    cfg = load_config(state / "mailtop.toml", environ={}, detect=False)
    user, pw = "bob", lab["users"]["bob"]["password"]
    print(f"login step medians over {n} sessions each (ms), user {user}")
    for protocol in ("imap", "imaps", "pop3", "pop3s"):
        port = lab["ports"][protocol]
        steps: dict[str, list[float]] = {}
        totals, peers = [], []
        for _ in range(n):
            r = check_login(LoginSpec(protocol, "127.0.0.1", port, user, insecure=True, timeout=10), pw)
            assert r.ok, [(s.name, str(s.verdict), s.detail) for s in r.steps]
            totals.append(r.seconds)
            for s in r.steps:
                steps.setdefault(s.name, []).append(s.seconds)
            peers.append(peer_login(protocol, port, user, pw))
        med = {k: statistics.median(v) * 1000 for k, v in steps.items()}
        mt, peer = statistics.median(totals) * 1000, statistics.median(peers) * 1000
        print(f"  {protocol:<6} " + "  ".join(f"{k} {v:.2f}" for k, v in med.items()))
        print(f"         total {mt:.2f} ms; peer (bare {'imaplib' if protocol.startswith('imap') else 'poplib'})"
              f" {peer:.2f} ms; ratio {mt / peer:.2f}")
    settings = replace(ProbeSettings.from_config(cfg, timeout=30), state_dir=None)
    pprobe = lab["users"]["probe"]["password"]
    rounds = max(3, n // 4)
    idle = [run_probe_sync(settings, pprobe, record=False) for _ in range(rounds)]
    poll = [run_probe_sync(replace(settings, idle=False, poll_interval=1.0), pprobe, record=False)
            for _ in range(rounds)]
    assert all(r.ok for r in idle + poll), [(r.status, r.detail) for r in idle + poll if not r.ok]
    i_rt = statistics.median(r.round_trip for r in idle)
    p_rt = statistics.median(r.round_trip for r in poll)
    i_sub = statistics.median(r.submit_seconds for r in idle)
    print(f"probe to {settings.target}, {rounds} rounds each: round trip median IDLE {i_rt * 1000:.0f} ms"
          f" (min {min(r.round_trip for r in idle) * 1000:.0f}, max {max(r.round_trip for r in idle) * 1000:.0f}),"
          f" submission {i_sub * 1000:.0f} ms; peer (poll 1 s) {p_rt * 1000:.0f} ms; ratio poll/IDLE {p_rt / i_rt:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
