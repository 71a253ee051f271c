"""DNS checks against the lab's NSD: lab.test is healthy, faulty.test (services/zones/) is not.

Two fault servers run on loopback inside the tests: a UDP socket that never answers (a timeout)
and a minimal DNS responder that answers SERVFAIL to everything (NSD only does that for a zone
that failed to load, which the shared lab must not have).
"""

from __future__ import annotations

import asyncio
import dataclasses
import socket
import time

import dns.flags
import dns.message
import dns.rcode
import pytest

from mailtop.config import Config
from mailtop.health import dns as d
from mailtop.model import Status

pytestmark = pytest.mark.lab

FAULTY = ["faulty.test", "deep.faulty.test", "literal.faulty.test", "nomx.faulty.test", "syntax.faulty.test"]


def with_dns(cfg: Config, **keys) -> Config:
    return dataclasses.replace(cfg, dns=dataclasses.replace(cfg.dns, **keys))


def by_id(findings):
    return {f.id: f for f in findings}


async def test_lab_dns_all_ok(lab_config):
    found = by_id(await d.dns_findings(lab_config))
    bad = {i: (f.status.name, f.summary) for i, f in found.items() if f.status is not Status.OK}
    assert not bad
    assert set(found) == set(d.planned_ids(lab_config, ["127.0.0.1", "127.0.0.3"]))
    ns = await d.nameserver_finding(d.make_client(lab_config), lab_config)
    assert ns.status is Status.OK and ns.metrics[0].label == "dns_response"
    assert {"dns.mx.lab.test", "dns.spf.lab.test", "dns.dkim.lab2026.lab.test", "dns.dmarc.lab.test",
            "dns.tlsrpt.lab.test", "dns.mtasts.lab.test", "dns.ptr.127.0.0.1", "dns.ptr.127.0.0.3",
            "dns.dnsbl.dnsbl.test.127.0.0.1"} <= set(found)


async def test_faulty_zone_statuses(lab_config):
    cfg = with_dns(lab_config, domains=FAULTY, dkim_selectors=["short", "revoked", "broken"], dnsbl=[])
    found = by_id(await d.dns_findings(cfg))
    expect = {
        "dns.mx.faulty.test": (Status.WARNING, "is a CNAME"),
        "dns.spf.faulty.test": (Status.CRITICAL, "2 SPF records"),
        "dns.dmarc.faulty.test": (Status.WARNING, "no DMARC record"),
        "dns.ptr.127.0.0.10": (Status.WARNING, "does not resolve back"),  # an MX address; the server is 127.0.0.1
        "dns.spf.deep.faulty.test": (Status.CRITICAL, "12 DNS-querying terms"),
        "dns.dmarc.deep.faulty.test": (Status.WARNING, "'none'"),
        "dns.mx.literal.faulty.test": (Status.CRITICAL, "IP literal"),
        "dns.mx.nomx.faulty.test": (Status.CRITICAL, "no MX record"),
        "dns.spf.syntax.faulty.test": (Status.CRITICAL, "unknown mechanism"),
        "dns.dmarc.syntax.faulty.test": (Status.CRITICAL, "bad policy"),
        "dns.dkim.short.faulty.test": (Status.WARNING, "1024 bits"),
        "dns.dkim.revoked.faulty.test": (Status.CRITICAL, "revoked"),
        "dns.dkim.broken.faulty.test": (Status.CRITICAL, "invalid"),
        "dns.ptr.127.0.0.1": (Status.OK, "forward-confirmed"),
    }
    got = {i: (found[i].status, found[i].summary) for i in expect}
    for fid, (status, text) in expect.items():
        assert got[fid][0] is status and text in got[fid][1], (fid, got[fid])


async def test_ptr_mismatch_is_critical_for_a_sending_address(lab_config):
    cfg = with_dns(lab_config, domains=["faulty.test"], dkim_selectors=[], dnsbl=[], server_addresses=[])
    found = by_id(await d.dns_findings(cfg))
    assert found["dns.ptr.127.0.0.10"].status is Status.CRITICAL  # MX addresses send when none are configured


async def test_block_list_listed_refused_clean(lab, lab_config):
    bl = lab["dnsbl"]
    cfg = with_dns(lab_config, server_addresses=["127.0.0.1", bl["listed"], bl["refused"]])
    found = by_id(await d.dns_findings(cfg))
    zone = bl["zone"]
    assert found[f"dns.dnsbl.{zone}.127.0.0.1"].status is Status.OK
    listed = found[f"dns.dnsbl.{zone}.{bl['listed']}"]
    assert listed.status is Status.CRITICAL and "LISTED" in listed.summary and "reason:" in listed.details
    refused = found[f"dns.dnsbl.{zone}.{bl['refused']}"]
    assert refused.status is Status.UNKNOWN and "refused the query" in refused.summary


async def test_outcomes_from_nsd(lab_config):
    client = d.make_client(lab_config)
    nx, refused, nodata, ans = await asyncio.gather(
        client.query("missing.faulty.test", "MX"), client.query("example.com", "MX"),
        client.query("nomx.faulty.test", "MX"), client.query("lab.test", "MX"))
    assert nx.outcome is d.Outcome.NXDOMAIN
    assert refused.outcome is d.Outcome.REFUSED and "REFUSED" in refused.error
    assert nodata.outcome is d.Outcome.NODATA
    assert ans.outcome is d.Outcome.ANSWER and ans.records == ("10 mail.lab.test.", "20 mx2.lab.test.")


async def test_block_list_zone_that_refuses_is_unknown(lab_config):
    cfg = with_dns(lab_config, dnsbl=["bl.example.org"])  # NSD serves no such zone: REFUSED
    found = by_id(await d.dns_findings(cfg))
    f = found["dns.dnsbl.bl.example.org.127.0.0.1"]
    assert f.status is Status.UNKNOWN and "REFUSED" in f.summary


# --------------------------------------------------------------------------- fault servers


class _Servfail(asyncio.DatagramProtocol):
    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        query = dns.message.from_wire(data)
        reply = dns.message.make_response(query)
        reply.set_rcode(dns.rcode.SERVFAIL)
        self.transport.sendto(reply.to_wire(), addr)


@pytest.fixture
async def servfail_server():
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(_Servfail, local_addr=("127.0.0.1", 0))
    yield f"127.0.0.1:{transport.get_extra_info('sockname')[1]}"
    transport.close()


@pytest.fixture
def silent_server():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


async def test_servfail_is_distinct(lab_config, servfail_server):
    cfg = with_dns(lab_config, nameservers=[servfail_server], timeout=1.0)
    lk = await d.make_client(cfg).query("lab.test", "MX")
    assert lk.outcome is d.Outcome.SERVFAIL and "SERVFAIL" in lk.error
    found = by_id(await d.dns_findings(cfg))
    # the nameserver answers (SERVFAIL), so the checks run and each says so
    assert found["dns.mx.lab.test"].status is Status.UNKNOWN and "SERVFAIL" in found["dns.mx.lab.test"].summary
    assert found["dns.spf.lab.test"].status is Status.UNKNOWN


async def test_timeout_is_distinct_and_bounded(lab_config, silent_server):
    cfg = with_dns(lab_config, nameservers=[silent_server], timeout=0.5)
    start = time.monotonic()
    lk = await d.make_client(cfg).query("lab.test", "MX")
    assert time.monotonic() - start < 0.5 + 2  # the timeout is honoured (a generous margin)
    assert lk.outcome is d.Outcome.TIMEOUT and "0.5s" in lk.error


async def test_silent_nameserver_marks_all_unknown_quickly(lab_config, silent_server):
    cfg = with_dns(lab_config, nameservers=[silent_server], timeout=2.0)
    start = time.monotonic()
    found = await d.dns_findings(cfg)
    elapsed = time.monotonic() - start
    assert elapsed < 2 * 2.0, elapsed  # one 2 s timeout (a 2 s margin), not one per check
    assert found[0].id == "dns.nameserver" and found[0].status is Status.UNKNOWN
    assert "no DNS answer" in found[0].summary
    assert all(f.status is Status.UNKNOWN for f in found) and len(found) >= 7


def test_lab_response_has_no_recursion(lab_config):
    """Sanity: the lab NSD is authoritative (aa flag), so the answers are the zone files'."""
    import dns.query

    host, port = lab_config.dns.nameservers[0].split(":")
    q = dns.message.make_query("lab.test", "MX")
    r = dns.query.udp(q, host, port=int(port), timeout=2)
    assert r.flags & dns.flags.AA
