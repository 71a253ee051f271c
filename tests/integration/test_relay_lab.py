"""Open-relay check against the lab's two Postfix instances, a tarpit and a closed port."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import subprocess
import time
from pathlib import Path

import pytest

from mailtop.config import Config
from mailtop.health import relay as r
from mailtop.model import Status

pytestmark = pytest.mark.lab


def with_relay(cfg: Config, **keys) -> Config:
    return dataclasses.replace(cfg, relay=dataclasses.replace(cfg.relay, **keys))


def by_id(findings):
    return {f.id: f for f in findings}


def queued(config_dir: str) -> int:
    out = subprocess.run(["postqueue", "-c", config_dir, "-j"], capture_output=True, text=True, timeout=10, check=True)
    return len([json.loads(line) for line in out.stdout.splitlines() if line.strip()])


async def test_lab_safe_ok_open_critical(lab, lab_config):
    ports = lab["ports"]
    open_dir = lab["postfix"]["open_config_dir"]
    before = queued(open_dir)
    found = by_id(await r.relay_findings(lab_config))
    assert found["relay.config.postfix"].status is Status.OK
    assert found["relay.config.postfix-open"].status is Status.CRITICAL
    safe = found[f"relay.probe.127.0.0.1:{ports['smtp']}"]
    assert safe.status is Status.OK, safe.summary
    assert "refused all 8" in safe.summary and "Relay access denied" in safe.details
    open_ = found[f"relay.probe.127.0.0.1:{ports['open_relay']}"]
    assert open_.status is Status.CRITICAL, open_.summary
    assert "OPEN RELAY" in open_.summary and "from 127.0.0.2" in open_.summary
    assert "0.0.0.0/0, wider than relay.trusted_networks" in open_.details
    # never DATA: the open relay accepted every RCPT, yet nothing was queued; the session ended RSET, QUIT
    assert ">>> DATA" not in open_.details
    assert open_.details.rstrip().endswith("<<< 221 2.0.0 Bye")
    assert ">>> RSET" in open_.details
    assert queued(open_dir) == before


async def test_source_inside_mynetworks_proves_nothing(lab, lab_config):
    cfg = with_relay(lab_config, source_address="127.0.0.1", targets=[f"127.0.0.1:{lab['ports']['smtp']}"])
    found = by_id(await r.relay_findings(cfg))
    f = found[f"relay.probe.127.0.0.1:{lab['ports']['smtp']}"]
    assert f.status is Status.UNKNOWN and "proves nothing" in f.summary
    assert "inside postfix's mynetworks (127.0.0.1/32)" in f.details


@pytest.fixture
async def tarpit():
    """A loopback port that accepts connections and never says a word."""
    conns: list[asyncio.StreamWriter] = []

    async def hold(reader, writer):
        conns.append(writer)
        await reader.read()  # until the client gives up

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1], conns
    for w in conns:
        w.close()
    server.close()
    await server.wait_closed()


async def test_tarpit_returns_within_timeout(lab_config, tarpit):
    port, conns = tarpit
    cfg = with_relay(lab_config, targets=[f"127.0.0.1:{port}"], timeout=1.0)
    start = time.monotonic()
    f = await r.probe_relay(f"127.0.0.1:{port}", cfg)
    elapsed = time.monotonic() - start
    assert conns, "the probe never connected to the tarpit"
    assert elapsed < 1.0 + 2.5, elapsed  # the timeout plus at most the bounded clean-up
    assert f.status is Status.UNKNOWN
    assert "failed at greeting" in f.summary and "connected, but no greeting within 1s" in f.summary


async def test_refused_connection_is_unknown(lab_config):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    f = await r.probe_relay(f"127.0.0.1:{port}", with_relay(lab_config, timeout=2.0))
    assert f.status is Status.UNKNOWN and "failed at connect" in f.summary
    assert "Connection refused" in f.summary


async def test_source_address_that_is_not_local(lab, lab_config):
    cfg = with_relay(lab_config, source_address="192.0.2.55", timeout=2.0)
    f = await r.probe_relay(f"127.0.0.1:{lab['ports']['smtp']}", cfg)
    assert f.status is Status.UNKNOWN and "failed at connect" in f.summary
    assert "Cannot assign requested address" in f.summary and "from 192.0.2.55" in f.summary


async def test_missing_config_dir_is_unknown(lab_config, tmp_path):
    cfg = dataclasses.replace(lab_config, postfix=dataclasses.replace(
        lab_config.postfix, config_dir=tmp_path / "no-such-postfix", instances=[]))
    found = by_id(await r.relay_findings(with_relay(cfg, targets=[])))
    f = found["relay.config.no-such-postfix"]
    assert f.status is Status.UNKNOWN and "main.cf" in f.details


async def test_read_instance_of_the_lab(lab):
    inst = await r.read_instance(Path(lab["postfix"]["config_dir"]), Path("/usr/sbin"))
    assert not inst.error
    assert inst.effective["mynetworks"] == "127.0.0.1/32"
    assert inst.service_for("127.0.0.1", lab["ports"]["smtp"]) is not None
