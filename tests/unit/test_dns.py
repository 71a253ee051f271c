"""DNS checks on records captured from the lab's NSD (tests/data/dns/lab.dig, see its README).

The capture is replayed by a resolver that answers only what was captured: a question the checks
ask that is not in the file fails the test instead of passing silently.
"""

from __future__ import annotations

import base64
import dataclasses
import re
from pathlib import Path

import dns.rdata
import dns.rdataclass
import dns.rdatatype
import pytest

from mailtop.config import Config, DnsConfig
from mailtop.health import dns as d
from mailtop.health.x509 import read_element
from mailtop.model import Status

DATA = Path(__file__).resolve().parents[1] / "data" / "dns"

_STATUS = {"NOERROR": None, "NXDOMAIN": d.Outcome.NXDOMAIN, "SERVFAIL": d.Outcome.SERVFAIL,
           "REFUSED": d.Outcome.REFUSED}


def parse_dig(text: str) -> dict[tuple[str, str], d.Lookup]:
    """dig's full output (several queries in a row) -> the Lookup each question gives."""
    out: dict[tuple[str, str], d.Lookup] = {}
    for block in re.split(r"(?m)^; <<>> DiG .*$", text)[1:]:
        status = re.search(r"status: (\w+)", block).group(1)
        qname, qtype = re.search(r"(?m)^;;? ?QUESTION SECTION:\n;(\S+)\s+IN\s+(\S+)", block).groups()
        answer = re.search(r"(?ms)^;; ANSWER SECTION:\n(.*?)(?:\n\n|\Z)", block)
        rrs = []
        for line in (answer.group(1).splitlines() if answer else []):
            owner, _ttl, _cls, rtype, rdata = line.split(None, 4)
            rd = dns.rdata.from_text(dns.rdataclass.IN, dns.rdatatype.from_text(rtype), rdata)
            rrs.append((owner.lower(), rtype, rd))
        name = qname.lower()
        seen = {name}
        while True:  # follow the CNAME chain the way a resolver does
            nxt = [rd.target.to_text().lower() for o, t, rd in rrs if o == name and t == "CNAME"]
            if not nxt or nxt[0] in seen:
                break
            name = nxt[0]
            seen.add(name)
        records = tuple(d.rdata_text(rd) for o, t, rd in rrs if o == name and t == qtype)
        outcome = _STATUS[status] or (d.Outcome.ANSWER if records else d.Outcome.NODATA)
        canonical = name.rstrip(".") if name != qname.lower() else ""
        key = (qname.lower(), qtype)
        out[key] = d.Lookup(qname.rstrip(".").lower(), qtype, outcome, records, canonical)
    return out


class Replay:
    """Answers from the capture; an uncaptured question is a test failure."""

    def __init__(self, lookups: dict[tuple[str, str], d.Lookup]) -> None:
        self.lookups = lookups
        self.asked: list[tuple[str, str]] = []
        self.nameservers = ["capture"]

    async def query(self, name: str, rdtype: str) -> d.Lookup:
        key = (d._fqdn(name), rdtype)
        self.asked.append(key)
        if key not in self.lookups:
            pytest.fail(f"the checks asked {key}, which tests/data/dns/lab.dig does not hold: re-capture")
        return self.lookups[key]


@pytest.fixture(scope="module")
def captured() -> dict[tuple[str, str], d.Lookup]:
    return parse_dig((DATA / "lab.dig").read_text())


@pytest.fixture
def replay(captured) -> Replay:
    return Replay(captured)


def cfg_for(**dns_keys) -> Config:
    return Config(dns=DnsConfig(**dns_keys))


LAB = dict(domains=["lab.test"], dkim_selectors=["lab2026"], dnsbl=["dnsbl.test"], server_addresses=["127.0.0.1"],
           tlsrpt=True, mta_sts=True, nameservers=["127.0.0.1:5353"])


def by_id(findings):
    return {f.id: f for f in findings}


# --------------------------------------------------------------------------- the capture itself


def test_capture_parses_every_outcome(captured):
    assert captured[("lab.test.", "MX")].records == ("10 mail.lab.test.", "20 mx2.lab.test.")
    assert captured[("missing.faulty.test.", "MX")].outcome is d.Outcome.NXDOMAIN
    assert captured[("nomx.faulty.test.", "MX")].outcome is d.Outcome.NODATA
    assert captured[("example.com.", "MX")].outcome is d.Outcome.REFUSED
    cname = captured[("mail.faulty.test.", "A")]
    assert cname.canonical == "mailhost.faulty.test" and cname.records == ("127.0.0.10",)
    dkim = captured[("lab2026._domainkey.lab.test.", "TXT")]
    assert len(dkim.records) == 1 and dkim.records[0].count("p=") == 1  # split strings joined


# --------------------------------------------------------------------------- whole-domain runs


async def test_lab_domain_is_all_ok(replay):
    cfg = cfg_for(**LAB)
    found = by_id(await d.domain_findings(replay, "lab.test", cfg))
    assert set(found) == {"dns.mx.lab.test", "dns.spf.lab.test", "dns.dkim.lab2026.lab.test", "dns.dmarc.lab.test",
                          "dns.tlsrpt.lab.test", "dns.mtasts.lab.test"}
    assert {i: f.status for i, f in found.items()} == dict.fromkeys(found, Status.OK)
    assert "backup at 20" in found["dns.mx.lab.test"].summary
    assert found["dns.dkim.lab2026.lab.test"].metrics[0].value == 2048
    assert "quarantine" in found["dns.dmarc.lab.test"].summary


async def test_faulty_domain_each_fault_has_its_status(replay):
    cfg = cfg_for(domains=["faulty.test"], dkim_selectors=["short", "revoked", "broken", "lab2026"],
                  server_addresses=["127.0.0.1"], tlsrpt=True, mta_sts=True)
    found = by_id(await d.domain_findings(replay, "faulty.test", cfg))
    mx = found["dns.mx.faulty.test"]
    assert mx.status is Status.WARNING and "CNAME" in mx.summary and "mailhost.faulty.test" in mx.summary
    spf = found["dns.spf.faulty.test"]
    assert spf.status is Status.CRITICAL and "2 SPF records" in spf.summary
    assert found["dns.dmarc.faulty.test"].status is Status.WARNING
    assert "no DMARC" in found["dns.dmarc.faulty.test"].summary
    assert found["dns.dkim.short.faulty.test"].status is Status.WARNING
    assert "1024 bits" in found["dns.dkim.short.faulty.test"].summary
    assert found["dns.dkim.revoked.faulty.test"].status is Status.CRITICAL
    assert found["dns.dkim.broken.faulty.test"].status is Status.CRITICAL
    assert found["dns.dkim.lab2026.faulty.test"].status is Status.CRITICAL  # no such key there
    assert found["dns.tlsrpt.faulty.test"].status is Status.WARNING
    assert found["dns.mtasts.faulty.test"].status is Status.WARNING


async def test_spf_lookup_limit_counted_through_includes(replay):
    node, _ = await d.collect_spf(replay, "deep.faulty.test")
    assert node.record.own_lookups == 4  # the top record alone is within the limit
    assert node.lookups() == 12
    f = d.analyse_spf("deep.faulty.test", node, ["127.0.0.1"], [])
    assert f.status is Status.CRITICAL and "12 DNS-querying terms" in f.summary
    assert f.metrics[0].value == 12 and f.metrics[0].crit == 10


async def test_spf_syntax_error_is_critical(replay):
    node, _ = await d.collect_spf(replay, "syntax.faulty.test")
    f = d.analyse_spf("syntax.faulty.test", node, ["127.0.0.1"], [])
    assert f.status is Status.CRITICAL
    assert "unknown mechanism 'foo'" in f.summary and "'include' needs ':domain'" in f.summary


async def test_lab_spf_authorises_mx_and_server(replay):
    node, _ = await d.collect_spf(replay, "lab.test")
    assert d.spf_result(node, "127.0.0.1") == "pass"
    assert d.spf_result(node, "127.0.0.3") == "pass"  # via 'mx' (mx2.lab.test)
    assert d.spf_result(node, "127.0.0.9") == "fail"
    f = d.analyse_spf("lab.test", node, ["127.0.0.1", "127.0.0.3"], ["127.0.0.9"])
    assert f.status is Status.CRITICAL and "127.0.0.9 is not authorised (fail)" in f.summary


async def test_mx_ip_literal_and_missing_mx(replay):
    lit = d.analyse_mx(await d.collect_mx(replay, "literal.faulty.test"))
    assert lit.status is Status.CRITICAL and "IP literal" in lit.summary
    nomx = d.analyse_mx(await d.collect_mx(replay, "nomx.faulty.test"))
    assert nomx.status is Status.CRITICAL and "no MX record" in nomx.summary
    gone = d.analyse_mx(await d.collect_mx(replay, "missing.faulty.test"))
    assert gone.status is Status.CRITICAL and "NXDOMAIN" in gone.summary


async def test_single_mx_is_warning_only_when_backup_required(replay):
    info = await d.collect_mx(replay, "deep.faulty.test")
    assert d.analyse_mx(info).status is Status.OK
    assert d.analyse_mx(info, require_backup=True).status is Status.WARNING


async def test_ptr_match_and_mismatch(replay):
    found = by_id(await d.ptr_findings(replay, ["127.0.0.1", "127.0.0.10", "127.0.0.11"], ["127.0.0.1", "127.0.0.11"]))
    assert found["dns.ptr.127.0.0.1"].status is Status.OK
    mismatch = found["dns.ptr.127.0.0.10"]
    assert mismatch.status is Status.WARNING  # receive-only MX address
    assert "does not resolve back" in mismatch.summary and "mail.lab.test" in mismatch.summary
    missing = found["dns.ptr.127.0.0.11"]
    assert missing.status is Status.CRITICAL and "no PTR" in missing.summary  # a sending address


async def test_dnsbl_listed_refused_and_clean(replay):
    found = by_id(await d.dnsbl_findings(replay, ["127.0.0.1", "127.0.0.2", "127.0.0.4"], ["dnsbl.test"]))
    assert found["dns.dnsbl.dnsbl.test.127.0.0.1"].status is Status.OK
    listed = found["dns.dnsbl.dnsbl.test.127.0.0.2"]
    assert listed.status is Status.CRITICAL and "LISTED" in listed.summary
    assert "Listed by dnsbl.test" in listed.details  # the list's TXT reason
    refused = found["dns.dnsbl.dnsbl.test.127.0.0.4"]
    assert refused.status is Status.UNKNOWN and "refused" in refused.summary and "LISTED" not in refused.summary


async def test_whole_run_on_capture(replay):
    cfg = cfg_for(**LAB)
    found = by_id(await d.dns_findings(cfg, replay))
    assert "dns.nameserver" not in found  # reported by the framework's dns.resolver check when all is well
    assert ("lab.test.", "SOA") in replay.asked  # but asked first, so a dead server costs one timeout
    assert {"dns.ptr.127.0.0.1", "dns.ptr.127.0.0.3", "dns.dnsbl.dnsbl.test.127.0.0.1"} <= set(found)
    assert all(f.status is Status.OK for f in found.values()), {i: f.summary for i, f in found.items()
                                                                 if f.status is not Status.OK}
    assert set(found) == set(d.planned_ids(cfg, ["127.0.0.1", "127.0.0.3"]))


# --------------------------------------------------------------------------- failures are not answers


def _lk(name, rdtype, outcome, *records, error=""):
    return d.Lookup(name, rdtype, outcome, tuple(records), error=error)


@pytest.mark.parametrize("outcome", [d.Outcome.TIMEOUT, d.Outcome.SERVFAIL, d.Outcome.REFUSED])
def test_failed_lookups_are_unknown_not_ok(outcome):
    assert d.analyse_dnsbl("127.0.0.1", "dnsbl.test", _lk("x", "A", outcome)).status is Status.UNKNOWN
    assert d.analyse_dmarc("lab.test", _lk("_dmarc.lab.test", "TXT", outcome)).status is Status.UNKNOWN
    assert d.analyse_dkim("lab.test", "s", _lk("s._domainkey.lab.test", "TXT", outcome)).status is Status.UNKNOWN
    mx = d.analyse_mx(d.MxInfo("lab.test", _lk("lab.test", "MX", outcome, error="why")))
    assert mx.status is Status.UNKNOWN and outcome.value in mx.summary


def test_nxdomain_is_a_definitive_answer():
    assert d.Outcome.NXDOMAIN.definitive and not d.Outcome.SERVFAIL.definitive and not d.Outcome.TIMEOUT.definitive
    assert d.analyse_dnsbl("127.0.0.1", "z", _lk("x", "A", d.Outcome.NXDOMAIN)).status is Status.OK


def test_dnsbl_answer_outside_loopback_is_not_a_listing():
    f = d.analyse_dnsbl("127.0.0.1", "dead.example", _lk("x", "A", d.Outcome.ANSWER, "192.0.2.7"))
    assert f.status is Status.UNKNOWN and "unexpected" in f.summary


def test_mx_host_lookup_failure_is_unknown_not_critical():
    info = d.MxInfo("x.test", _lk("x.test", "MX", d.Outcome.ANSWER, "10 mx.x.test."),
                    (d.HostAddresses("mx.x.test", _lk("mx.x.test", "A", d.Outcome.TIMEOUT),
                                     _lk("mx.x.test", "AAAA", d.Outcome.TIMEOUT)),))
    assert d.analyse_mx(info).status is Status.UNKNOWN


def test_dnsbl_name_v4_and_v6():
    assert d.dnsbl_name("192.0.2.99", "zen.example") == "99.2.0.192.zen.example"
    assert d.dnsbl_name("2001:db8::1", "z.example").startswith("1.0.0.0.")
    assert d.dnsbl_name("2001:db8::1", "z.example").endswith(".8.b.d.0.1.0.0.2.z.example")


# --------------------------------------------------------------------------- SPF parsing


@pytest.mark.parametrize("text, problem", [
    ("v=spf1 ip4:300.1.1.1 -all", "bad ip4"),
    ("v=spf1 ip4:::1 -all", "bad ip4"),
    ("v=spf1 ip6:2001:db8::/129 -all", "bad ip6"),
    ("v=spf1 a/33 -all", "out of range"),
    ("v=spf1 all:foo", "takes no argument"),
    ("v=spf1 redirect=a.test redirect=b.test", "twice"),
    ("v=spf1 include:%{z}.test -all", "bad macro"),
    ("v=spf1 frobnicate -all", "unknown mechanism"),
    ("spf1 -all", "does not start"),
])
def test_spf_syntax_errors(text, problem):
    rec = d.parse_spf(text)
    assert rec.errors and any(problem in e for e in rec.errors), rec.errors


def test_spf_valid_record_parses():
    rec = d.parse_spf("v=spf1 a mx:lab.test/24 ip4:192.0.2.0/24 ip6:2001:db8::/32 include:_spf.x.test "
                      "exists:%{i}.bl.test ~all exp=explain.x.test unknown=ignored")
    assert not rec.errors
    assert [t.mechanism for t in rec.terms] == ["a", "mx", "ip4", "ip6", "include", "exists", "all"]
    assert rec.terms[1].cidr4 == 24 and rec.own_lookups == 4 and rec.all_term.qualifier == "~"
    assert any("unknown modifier" in n for n in rec.notes)


def test_spf_redirect_counts_only_without_all():
    assert d.parse_spf("v=spf1 redirect=_spf.x.test").own_lookups == 1
    assert d.parse_spf("v=spf1 -all redirect=_spf.x.test").own_lookups == 0


def test_is_spf():
    assert d.is_spf("v=spf1 -all") and d.is_spf("V=SPF1") and not d.is_spf("v=spf10 -all")


# --------------------------------------------------------------------------- DKIM keys

KEY_1024 = ("MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDS0O+s+FlohD7LzwuQ1rKUBgs/LSBt6WwPHM/iMCqNIfuGpTArlc+E5qVfuHksIA"
            "JRSPL7dIRNki3CYOgOyLq+yOT2ForlwXQQ5p5xpoexEjp6U6nzdri95vN+8yErSx6i+DVG+GG6JmD8W/q9OSOuDgQA1XFeB4+6TIOs"
            "8QH5iQIDAQAB")


def test_rsa_bits_from_the_lab_key(captured):
    key = d.parse_dkim(captured[("lab2026._domainkey.lab.test.", "TXT")].records[0])
    assert key.key_type == "rsa" and key.bits == 2048 and not key.problems


def test_rsa_bits_spki_and_pkcs1():
    der = base64.b64decode(KEY_1024)
    assert d.rsa_modulus_bits(der) == 1024
    # the same key as a bare PKCS#1 RSAPublicKey (the BIT STRING's content)
    _, body, _ = read_element(der, 0)
    _, _, pos = read_element(body, 0)
    _, bits, _ = read_element(body, pos)
    assert d.rsa_modulus_bits(bits[1:]) == 1024


@pytest.mark.parametrize("der", [b"", b"\x30\x03\x02\x01", b"\x04\x02ab", b"\x30\x05\x06\x03\x2b\x65\x70"])
def test_rsa_bits_rejects_garbage(der):
    with pytest.raises(d.DerError):
        d.rsa_modulus_bits(der)


def test_dkim_ed25519_and_bad_base64():
    ok = d.parse_dkim("v=DKIM1; k=ed25519; p=" + base64.b64encode(bytes(32)).decode())
    assert ok.bits == 256 and not ok.problems
    bad = d.parse_dkim("v=DKIM1; p=!!notbase64")
    assert bad.problems and "base64" in bad.problems[0]


def test_dkim_under_1024_is_critical():
    # a 512-bit modulus: SEQUENCE { INTEGER(65 bytes), INTEGER 65537 }
    modulus = b"\x00" + b"\xc1" + bytes(63)
    inner = b"\x02\x41" + modulus + b"\x02\x03\x01\x00\x01"
    pkcs1 = b"\x30" + bytes([len(inner)]) + inner
    txt = _lk("s._domainkey.x.test", "TXT", d.Outcome.ANSWER, "v=DKIM1; p=" + base64.b64encode(pkcs1).decode())
    f = d.analyse_dkim("x.test", "s", txt)
    assert f.status is Status.CRITICAL and "512 bits" in f.summary


# --------------------------------------------------------------------------- DMARC, TLS-RPT, MTA-STS


@pytest.mark.parametrize("records, status, text", [
    (("v=DMARC1; p=reject",), Status.OK, "reject"),
    (("v=DMARC1; p=none; rua=mailto:x@x.test",), Status.WARNING, "none"),
    (("v=DMARC1; rua=mailto:x@x.test",), Status.CRITICAL, "no p= tag"),
    (("v=DMARC1; p=reject", "v=DMARC1; p=none"), Status.CRITICAL, "2 DMARC records"),
    (("p=reject; v=DMARC1",), Status.CRITICAL, "first tag"),
    (("some other txt",), Status.WARNING, "no DMARC"),
])
def test_dmarc(records, status, text):
    f = d.analyse_dmarc("x.test", _lk("_dmarc.x.test", "TXT", d.Outcome.ANSWER, *records))
    assert f.status is status and text in f.summary


def test_tlsrpt_and_mtasts_syntax():
    ok = d.analyse_tlsrpt("x.test", _lk("t", "TXT", d.Outcome.ANSWER, "v=TLSRPTv1; rua=mailto:t@x.test"))
    bad = d.analyse_tlsrpt("x.test", _lk("t", "TXT", d.Outcome.ANSWER, "v=TLSRPTv1; rua=ftp://x"))
    assert ok.status is Status.OK and bad.status is Status.WARNING
    assert d.analyse_mtasts("x.test", _lk("m", "TXT", d.Outcome.ANSWER, "v=STSv1; id=2026a")).status is Status.OK
    assert d.analyse_mtasts("x.test", _lk("m", "TXT", d.Outcome.ANSWER, "v=STSv1; id=a-b")).status is Status.WARNING


def test_nameserver_down_marks_everything_unknown_without_asking_more():
    class Silent:
        nameservers = ["127.0.0.1:9"]
        asked = 0

        async def query(self, name, rdtype):
            self.asked += 1
            return _lk(name, rdtype, d.Outcome.TIMEOUT, error="no answer within 2s")

    import asyncio

    cfg = cfg_for(**LAB)
    client = Silent()
    found = asyncio.run(d.dns_findings(cfg, client))
    assert client.asked == 1
    assert found[0].id == "dns.nameserver" and found[0].status is Status.UNKNOWN
    assert len(found) > 5 and all(f.status is Status.UNKNOWN for f in found)
    assert all("not checked" in f.summary for f in found[1:])


def test_config_keys_exist():
    keys = {f.name for f in dataclasses.fields(DnsConfig)}
    assert {"nameservers", "domains", "dkim_selectors", "dnsbl", "server_addresses", "require_backup_mx",
            "timeout"} <= keys
