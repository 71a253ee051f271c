"""DNS and MX health: MX, PTR, SPF, DKIM, DMARC, TLS-RPT, MTA-STS and DNS block lists.

Interface for ``mailtop.checks`` (all async, every query bounded by ``cfg.dns.timeout``):

``async def dns_findings(cfg: Config) -> list[Finding]``
    Everything below for every domain in ``cfg.dns.domains`` plus the block-list look-ups, run
    concurrently. First one reachability query: when no nameserver answers, the result is a
    ``dns.nameserver`` UNKNOWN finding and every other finding UNKNOWN at once ("not checked: ...")
    instead of each one waiting for its own timeout. (When it answers there is no
    ``dns.nameserver`` finding: ``mailtop.checks`` reports the resolver as ``dns.resolver``.)
    Returns ``[]`` when no domain and no block list is configured.
``async def domain_findings(client: DnsClient, domain: str, cfg: Config) -> list[Finding]``
    MX, SPF, DKIM (one per ``cfg.dns.dkim_selectors``), DMARC, TLS-RPT / MTA-STS (when
    ``cfg.dns.tlsrpt`` / ``cfg.dns.mta_sts``) for one domain.
``async def ptr_findings(client, addresses, senders) -> list[Finding]``
``async def dnsbl_findings(client, addresses, zones) -> list[Finding]``
``def make_client(cfg: Config) -> DnsClient``
    A dnspython async resolver (``configure=False``, nameservers ``host:port`` from
    ``cfg.dns.nameservers``; the system resolver when that list is empty). ``DnsClient.query``
    never raises for DNS failures: it returns a :class:`Lookup` whose ``outcome`` tells an answer,
    NODATA, NXDOMAIN, SERVFAIL, REFUSED and a timeout apart.

Finding ids (stable) and what decides their status:

- ``dns.nameserver``: only when no nameserver answered (UNKNOWN); :func:`nameserver_finding` gives
  the OK form with the response time for callers that want it.
- ``dns.mx.<domain>``: no MX / null MX / NXDOMAIN is CRITICAL; an MX host that is a CNAME, an IP
  literal or does not resolve is WARNING while another MX host is usable, CRITICAL when none is; a
  single MX (no backup) is noted, a WARNING only with ``dns.require_backup_mx``.
- ``dns.ptr.<addr>`` for each MX address and each ``dns.server_addresses`` entry: a missing PTR or
  one that is not forward-confirmed (the PTR name does not resolve back to the address) is
  CRITICAL for a sending address (``server_addresses``, or the MX addresses when that list is
  empty), WARNING for a receive-only MX address.
- ``dns.spf.<domain>``: none is WARNING; two or more records, a syntax error, more than 10
  DNS-querying terms (counted recursively through include and redirect), a broken include and
  ``+all`` are CRITICAL (receivers get a permerror or everyone is authorised); no closing
  ``-all``/``~all`` is WARNING; an MX address the record does not authorise is WARNING, a sending
  server address it fails is CRITICAL.
- ``dns.dkim.<selector>.<domain>``: missing, revoked (empty ``p=``), undecodable or several keys
  are CRITICAL, an RSA key under 2048 bits is WARNING (under 1024 CRITICAL: RFC 8301).
- ``dns.dmarc.<domain>``: missing is WARNING, several records or a bad/missing ``p=`` CRITICAL,
  ``p=none`` WARNING (monitoring only).
- ``dns.tlsrpt.<domain>``, ``dns.mtasts.<domain>`` (when configured): missing or malformed is
  WARNING. The MTA-STS policy file (HTTPS) is not fetched.
- ``dns.dnsbl.<zone>.<addr>``: NXDOMAIN is OK (not listed); an answer in 127.0.0.0/8 is CRITICAL
  (listed, with the list's TXT reason); ``127.255.255.x`` means the list refused the query
  (UNKNOWN, not listed); a timeout, SERVFAIL or any other answer is UNKNOWN.

Any look-up that times out or fails (SERVFAIL, REFUSED) makes the finding that needed it UNKNOWN
unless something already proven is worse. Nothing here imports Textual; dnspython is imported
when a client is made, so importing this module stays cheap.
"""

from __future__ import annotations

import asyncio
import base64
import enum
import ipaddress
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from mailtop.config import Config, parse_hostport
from mailtop.health.x509 import BIT_STRING, INTEGER, OID, OID_RSA, SEQUENCE, DerError, oid_text, read_element
from mailtop.model import Finding, Metric, Status, worst

SPF_LOOKUP_LIMIT = 10
"""RFC 7208 4.6.4: at most 10 terms that cause DNS queries (include, a, mx, ptr, exists, redirect)."""

DKIM_MIN_BITS = 2048
DKIM_MIN_BITS_HARD = 1024

# --------------------------------------------------------------------------- look-ups


class Outcome(enum.Enum):
    """How one DNS question ended. Only ANSWER, NODATA and NXDOMAIN are definitive."""

    ANSWER = "answer"
    NODATA = "no data"
    NXDOMAIN = "NXDOMAIN"
    SERVFAIL = "SERVFAIL"
    REFUSED = "REFUSED"
    TIMEOUT = "timeout"
    ERROR = "error"

    @property
    def definitive(self) -> bool:
        return self in (Outcome.ANSWER, Outcome.NODATA, Outcome.NXDOMAIN)


@dataclass(frozen=True, slots=True)
class Lookup:
    """One DNS question and how it ended.

    ``records`` are text: addresses for A/AAAA, ``"10 mail.lab.test."`` for MX, the target name
    for PTR/CNAME, and for TXT the record's strings joined (no quotes), as SPF/DKIM/DMARC read it.
    ``canonical`` is the name the answer was found at when the question was answered through a
    CNAME (empty otherwise).
    """

    name: str
    rdtype: str
    outcome: Outcome
    records: tuple[str, ...] = ()
    canonical: str = ""
    error: str = ""
    elapsed: float = 0.0

    @property
    def definitive(self) -> bool:
        return self.outcome.definitive

    def describe(self) -> str:
        """``"mail.lab.test A: SERVFAIL from 127.0.0.1:5353"`` — for details lines."""
        text = f"{self.name} {self.rdtype}: {self.outcome.value}"
        return f"{text} ({self.error})" if self.error else text


class Resolver(Protocol):
    async def query(self, name: str, rdtype: str) -> Lookup: ...


def rdata_text(rdata: Any) -> str:
    """The text form of one dnspython rdata as kept in :attr:`Lookup.records`."""
    rdtype = rdata.rdtype.name if hasattr(rdata.rdtype, "name") else str(rdata.rdtype)
    if rdtype == "TXT":
        return b"".join(rdata.strings).decode("utf-8", "replace")
    if rdtype == "MX":
        return f"{rdata.preference} {rdata.exchange.to_text().lower()}"
    if rdtype in ("PTR", "CNAME", "NS"):
        return rdata.target.to_text().lower()
    return rdata.to_text()


def _fqdn(name: str) -> str:
    name = name.strip().lower()
    return name if name.endswith(".") else name + "."


def _bare(name: str) -> str:
    return name.rstrip(".").lower()


class DnsClient:
    """A dnspython async resolver with timeouts, a per-run cache and failures as values."""

    def __init__(self, nameservers: Sequence[str], timeout: float) -> None:
        import dns.asyncresolver
        import dns.nameserver
        import dns.resolver

        if nameservers:
            resolver = dns.asyncresolver.Resolver(configure=False)
            servers = []
            for text in nameservers:
                host, port = parse_hostport(text, 53)
                servers.append(dns.nameserver.Do53Nameserver(host, port))
            resolver.nameservers = servers
        else:
            resolver = dns.asyncresolver.Resolver()
        resolver.timeout = max(0.1, timeout / 2)  # per attempt: one retry fits in the lifetime
        resolver.lifetime = timeout
        resolver.retry_servfail = False
        self.nameservers = list(nameservers) or [str(n) for n in resolver.nameservers]
        self.timeout = timeout
        self._resolver = resolver
        self._cache: dict[tuple[str, str], asyncio.Task[Lookup]] = {}
        self.queries = 0

    async def query(self, name: str, rdtype: str) -> Lookup:
        """Ask once per run per (name, type); concurrent askers share the same query."""
        key = (_fqdn(name), rdtype.upper())
        task = self._cache.get(key)
        if task is None:
            task = asyncio.ensure_future(self._query(*key))
            self._cache[key] = task
        return await asyncio.shield(task)

    async def _query(self, name: str, rdtype: str) -> Lookup:
        import dns.exception
        import dns.name
        import dns.resolver

        self.queries += 1
        start = time.monotonic()
        shown = _bare(name)

        def done(outcome: Outcome, records: tuple[str, ...] = (), canonical: str = "", error: str = "") -> Lookup:
            return Lookup(shown, rdtype, outcome, records, canonical, error, time.monotonic() - start)

        try:
            qname = dns.name.from_text(name)
        except dns.exception.DNSException as exc:
            return done(Outcome.ERROR, error=f"not a valid DNS name: {exc}")
        try:
            answer = await self._resolver.resolve(qname, rdtype, search=False, raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return done(Outcome.NXDOMAIN)
        except dns.resolver.LifetimeTimeout:
            return done(Outcome.TIMEOUT, error=f"no answer from {', '.join(self.nameservers)} within {self.timeout:g}s")
        except dns.resolver.NoNameservers as exc:
            return done(*_classify_no_nameservers(exc))
        except dns.resolver.YXDOMAIN:
            return done(Outcome.ERROR, error="YXDOMAIN (name too long after DNAME substitution)")
        except dns.exception.Timeout:
            return done(Outcome.TIMEOUT, error=f"no answer within {self.timeout:g}s")
        except dns.exception.DNSException as exc:
            return done(Outcome.ERROR, error=str(exc))
        canonical = _bare(answer.canonical_name.to_text())
        canonical = canonical if canonical != shown else ""
        if answer.rrset is None:
            return done(Outcome.NODATA, canonical=canonical)
        return done(Outcome.ANSWER, tuple(rdata_text(r) for r in answer.rrset), canonical)


def _classify_no_nameservers(exc: Exception) -> tuple[Outcome, tuple[str, ...], str, str]:
    """dnspython's "all nameservers failed": pick out SERVFAIL and REFUSED from the per-server errors."""
    errors = getattr(exc, "kwargs", {}).get("errors", []) or []
    texts = []
    outcome = Outcome.ERROR
    for err in errors:
        server, port, problem = err[0], err[2], err[3]
        texts.append(f"{problem} from {server}:{port}")
        if str(problem) == "SERVFAIL":
            outcome = Outcome.SERVFAIL
        elif str(problem) == "REFUSED" and outcome is not Outcome.SERVFAIL:
            outcome = Outcome.REFUSED
        elif isinstance(problem, OSError) and outcome is Outcome.ERROR:
            texts[-1] = f"{problem.strerror or problem} from {server}:{port}"
    return outcome, (), "", "; ".join(texts) or str(exc)


def make_client(cfg: Config) -> DnsClient:
    return DnsClient(cfg.dns.nameservers, cfg.dns.timeout)


# --------------------------------------------------------------------------- helpers


def _finding(fid: str, status: Status, summary: str, details: Iterable[str] = (), hint: str = "",
             metrics: Iterable[Metric] = (), **data: Any) -> Finding:
    return Finding(fid, status, summary, "\n".join(details), hint, tuple(metrics), dict(data))


def _failed(lookups: Iterable[Lookup]) -> list[Lookup]:
    return [lk for lk in lookups if not lk.definitive]


def is_ip_literal(name: str) -> bool:
    text = _bare(name).strip("[]")
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def parse_mx(records: Iterable[str]) -> list[tuple[int, str]]:
    out = []
    for rec in records:
        pref, _, host = rec.partition(" ")
        out.append((int(pref), host.strip().lower()))
    return sorted(out)


@dataclass(frozen=True, slots=True)
class HostAddresses:
    """A host name's A and AAAA look-ups."""

    host: str
    a: Lookup
    aaaa: Lookup

    @property
    def addresses(self) -> tuple[str, ...]:
        return self.a.records + self.aaaa.records

    @property
    def cname(self) -> str:
        return self.a.canonical or self.aaaa.canonical

    @property
    def failed(self) -> list[Lookup]:
        return _failed((self.a, self.aaaa))


async def resolve_host(client: Resolver, host: str) -> HostAddresses:
    a, aaaa = await asyncio.gather(client.query(host, "A"), client.query(host, "AAAA"))
    return HostAddresses(_bare(host), a, aaaa)


# --------------------------------------------------------------------------- MX


@dataclass(frozen=True, slots=True)
class MxInfo:
    """The MX look-up of a domain and the addresses of each MX host."""

    domain: str
    mx: Lookup
    hosts: tuple[HostAddresses, ...] = ()

    @property
    def entries(self) -> list[tuple[int, str]]:
        return parse_mx(self.mx.records) if self.mx.outcome is Outcome.ANSWER else []

    @property
    def addresses(self) -> list[str]:
        seen: dict[str, None] = {}
        for h in self.hosts:
            for addr in h.addresses:
                seen.setdefault(addr, None)
        return list(seen)


async def collect_mx(client: Resolver, domain: str) -> MxInfo:
    mx = await client.query(domain, "MX")
    info = MxInfo(_bare(domain), mx)
    names = sorted({host for _, host in info.entries if host != "." and not is_ip_literal(host)})
    hosts = await asyncio.gather(*(resolve_host(client, h) for h in names))
    return MxInfo(info.domain, mx, tuple(hosts))


def analyse_mx(info: MxInfo, require_backup: bool = False) -> Finding:
    fid = f"dns.mx.{info.domain}"
    mx = info.mx
    if not mx.definitive:
        return _finding(fid, Status.UNKNOWN, f"MX look-up for {info.domain} failed: {mx.outcome.value}",
                        [mx.describe()], "Check that the domain's nameservers answer (dig MX).")
    if mx.outcome is Outcome.NXDOMAIN:
        return _finding(fid, Status.CRITICAL, f"{info.domain} does not exist (NXDOMAIN)", [mx.describe()],
                        "Publish the zone, or remove the domain from dns.domains.")
    entries = info.entries
    if not entries:
        return _finding(fid, Status.CRITICAL, f"{info.domain} has no MX record", [mx.describe()],
                        f"Add e.g. '{info.domain}. IN MX 10 mail.{info.domain}.' (senders would otherwise "
                        "fall back to the domain's A record).", metrics=[Metric("mx_hosts", 0, min=0)])
    if entries == [(0, ".")]:
        return _finding(fid, Status.CRITICAL, f"{info.domain} has a null MX: it accepts no mail (RFC 7505)",
                        ["MX 0 ."], "Remove the null MX if this domain should receive mail.")
    by_host = {h.host: h for h in info.hosts}
    lines: list[str] = []
    problems: list[str] = []
    usable = 0
    for pref, host in entries:
        name = _bare(host)
        if is_ip_literal(host):
            problems.append(f"MX {pref} {name} is an IP literal, not a host name")
            lines.append(f"MX {pref} {name}: IP literal (RFC 5321 5.1: an MX names a host)")
            continue
        h = by_host.get(name)
        if h is None:  # pragma: no cover - collect_mx resolves every named host
            continue
        addrs = ", ".join(h.addresses) or "no address"
        if h.cname:
            problems.append(f"MX {pref} {name} is a CNAME (for {h.cname})")
            lines.append(f"MX {pref} {name}: CNAME -> {h.cname} -> {addrs} (RFC 2181 10.3: must be canonical)")
            continue
        if not h.addresses:
            failed = h.failed
            if failed:
                problems.append(f"MX {pref} {name}: address look-up failed ({failed[0].outcome.value})")
                lines.append(f"MX {pref} {name}: " + "; ".join(f.describe() for f in failed))
            else:
                problems.append(f"MX {pref} {name} has no A/AAAA record")
                lines.append(f"MX {pref} {name}: no A or AAAA ({h.a.outcome.value})")
            continue
        usable += 1
        lines.append(f"MX {pref} {name}: {addrs}")
    prefs = sorted({p for p, _ in entries})
    note = ""
    backup_problem = False
    if len(entries) == 1:
        note = "no backup MX"
        backup_problem = require_backup
    elif len(prefs) == 1:
        note = f"all {len(entries)} MX hosts share preference {prefs[0]} (load sharing, no backup)"
        backup_problem = require_backup
    else:
        note = f"primary preference {prefs[0]}, backup at {', '.join(map(str, prefs[1:]))}"
    lines.append(note)
    metrics = [Metric("mx_hosts", len(entries), min=0), Metric("mx_usable", usable, min=0)]
    if usable == 0:
        # only look-up failures and nothing proven wrong: we cannot tell
        status = Status.UNKNOWN if all("look-up failed" in p for p in problems) else Status.CRITICAL
        return _finding(fid, status, f"{info.domain}: no usable MX host ({problems[0]})", lines,
                        "Point the MX at a canonical host name with an A/AAAA record.", metrics)
    if problems:
        return _finding(fid, Status.WARNING, f"{info.domain}: {'; '.join(problems)}", lines,
                        "Point every MX at the canonical host name (its A/AAAA record), not an alias or "
                        "an address.", metrics)
    if backup_problem:
        return _finding(fid, Status.WARNING, f"{info.domain}: {note}", lines,
                        "Add a backup MX at a higher preference number on another host.", metrics)
    summary = f"{info.domain}: {len(entries)} MX host{'s' if len(entries) > 1 else ''}, {note}"
    return _finding(fid, Status.OK, summary, lines, metrics=metrics)


# --------------------------------------------------------------------------- PTR


def reverse_name(address: str) -> str:
    return ipaddress.ip_address(address).reverse_pointer


@dataclass(frozen=True, slots=True)
class PtrInfo:
    address: str
    ptr: Lookup
    forward: tuple[HostAddresses, ...] = ()


async def collect_ptr(client: Resolver, address: str) -> PtrInfo:
    ptr = await client.query(reverse_name(address), "PTR")
    names = ptr.records if ptr.outcome is Outcome.ANSWER else ()
    forward = await asyncio.gather(*(resolve_host(client, n) for n in names))
    return PtrInfo(address, ptr, tuple(forward))


def analyse_ptr(info: PtrInfo, sender: bool) -> Finding:
    fid = f"dns.ptr.{info.address}"
    role = "sending address" if sender else "MX address"
    bad = Status.CRITICAL if sender else Status.WARNING
    hint = ("Ask whoever holds the address block (your provider) to set the PTR to the server's host "
            "name, and give that name an A/AAAA record with this address.")
    ptr = info.ptr
    if not ptr.definitive:
        return _finding(fid, Status.UNKNOWN, f"PTR look-up for {info.address} failed: {ptr.outcome.value}",
                        [ptr.describe()])
    if ptr.outcome is not Outcome.ANSWER:
        return _finding(fid, bad, f"{info.address} ({role}) has no PTR record ({ptr.outcome.value})",
                        [ptr.describe()], hint)
    lines = []
    confirmed = []
    unknown = []
    for h in info.forward:
        if info.address in {str(ipaddress.ip_address(a)) for a in h.addresses}:
            confirmed.append(h.host)
            lines.append(f"PTR {h.host} -> {', '.join(h.addresses)}: forward-confirmed")
        elif h.failed and not h.addresses:
            unknown.append(h.host)
            lines.append(f"PTR {h.host}: " + "; ".join(f.describe() for f in h.failed))
        else:
            lines.append(f"PTR {h.host} -> {', '.join(h.addresses) or 'no address'}: does not match {info.address}")
    names = ", ".join(_bare(n) for n in ptr.records)
    if len(ptr.records) > 1:
        lines.append(f"{len(ptr.records)} PTR records: many receivers only look at one")
    if confirmed:
        return _finding(fid, Status.OK, f"{info.address} -> {confirmed[0]} (forward-confirmed)", lines)
    if unknown:
        return _finding(fid, Status.UNKNOWN, f"{info.address} -> {names}: forward look-up failed", lines)
    return _finding(fid, bad, f"{info.address} ({role}) -> {names}, which does not resolve back to it",
                    lines, hint)


async def ptr_findings(client: Resolver, addresses: Sequence[str], senders: Iterable[str]) -> list[Finding]:
    send = set(senders)
    infos = await asyncio.gather(*(collect_ptr(client, a) for a in addresses))
    return [analyse_ptr(i, i.address in send) for i in infos]


# --------------------------------------------------------------------------- SPF

_MECHANISMS = {"all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists"}
_LOOKUP_MECHANISMS = {"include", "a", "mx", "ptr", "exists"}
_QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
_MODIFIER_RE = re.compile(r"^([A-Za-z][A-Za-z0-9_.-]*)=(.*)$")
_MECH_RE = re.compile(r"^([+\-~?]?)([A-Za-z][A-Za-z0-9_.-]*)(?::([^/]*))?((?:/\d*)?(?://\d*)?)$")
_MACRO_RE = re.compile(r"%(?:\{[slodipvhcrtSLODIPVHCRT]\d*[rR]?[.\-+,/_=]*\}|%|_|-)")


def is_spf(text: str) -> bool:
    low = text.lower()
    return low == "v=spf1" or low.startswith("v=spf1 ")


@dataclass(frozen=True, slots=True)
class SpfTerm:
    qualifier: str
    """``+ - ~ ?``"""
    mechanism: str
    value: str = ""
    """domain-spec for include/a/mx/ptr/exists, the network for ip4/ip6."""
    cidr4: int | None = None
    cidr6: int | None = None

    @property
    def result(self) -> str:
        return _QUALIFIERS[self.qualifier]

    def __str__(self) -> str:
        q = "" if self.qualifier == "+" else self.qualifier
        v = f":{self.value}" if self.value else ""
        c = (f"/{self.cidr4}" if self.cidr4 is not None else "") + (f"//{self.cidr6}" if self.cidr6 is not None else "")
        return f"{q}{self.mechanism}{v}{c}"


@dataclass(frozen=True, slots=True)
class SpfRecord:
    text: str
    terms: tuple[SpfTerm, ...] = ()
    redirect: str | None = None
    exp: str | None = None
    errors: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def all_term(self) -> SpfTerm | None:
        for t in self.terms:
            if t.mechanism == "all":
                return t
        return None

    @property
    def uses_redirect(self) -> bool:
        """RFC 7208 6.1: redirect is ignored when the record has an ``all`` mechanism."""
        return self.redirect is not None and self.all_term is None

    @property
    def own_lookups(self) -> int:
        return sum(t.mechanism in _LOOKUP_MECHANISMS for t in self.terms) + int(self.uses_redirect)


def _check_domain_spec(spec: str, where: str) -> str | None:
    if not spec:
        return f"{where}: empty domain"
    if "%" in spec and _MACRO_RE.sub("", spec).count("%"):
        return f"{where}: bad macro in {spec!r}"
    plain = _MACRO_RE.sub("x", spec)
    if any(c.isspace() for c in plain) or ".." in plain.strip("."):
        return f"{where}: bad domain {spec!r}"
    return None


def parse_spf(text: str) -> SpfRecord:
    """Parse one SPF record (RFC 7208 section 12 grammar, without evaluating macros)."""
    tokens = text.split()
    if not tokens or tokens[0].lower() != "v=spf1":
        return SpfRecord(text, errors=("does not start with 'v=spf1'",))
    terms: list[SpfTerm] = []
    errors: list[str] = []
    notes: list[str] = []
    redirect = exp = None
    seen_all = False
    for tok in tokens[1:]:
        mod = _MODIFIER_RE.match(tok)
        if mod and ":" not in mod.group(1):
            name, value = mod.group(1).lower(), mod.group(2)
            if name in ("redirect", "exp"):
                if (redirect if name == "redirect" else exp) is not None:
                    errors.append(f"'{name}=' appears twice")
                problem = _check_domain_spec(value, f"{name}=")
                if problem:
                    errors.append(problem)
                if name == "redirect":
                    redirect = value
                else:
                    exp = value
            else:
                notes.append(f"unknown modifier '{name}=' ignored")
            continue
        m = _MECH_RE.match(tok)
        if not m:
            errors.append(f"cannot parse term {tok!r}")
            continue
        qual, mech, value, cidr = m.group(1) or "+", m.group(2).lower(), m.group(3), m.group(4)
        if mech not in _MECHANISMS:
            errors.append(f"unknown mechanism {mech!r} in {tok!r}")
            continue
        if seen_all:
            notes.append(f"{tok!r} after 'all' is never reached")
        cidr4 = cidr6 = None
        if cidr:
            c4, _, c6 = cidr.partition("//")
            try:
                cidr4 = int(c4[1:]) if c4 else None
                cidr6 = int(c6) if c6 else None
            except ValueError:
                errors.append(f"bad prefix length in {tok!r}")
                continue
            if cidr.startswith("/") and not cidr.startswith("//") and c4 == "/":
                errors.append(f"bad prefix length in {tok!r}")
                continue
        if mech == "all":
            if value is not None or cidr:
                errors.append(f"'all' takes no argument: {tok!r}")
                continue
            seen_all = True
            terms.append(SpfTerm(qual, mech))
        elif mech in ("include", "exists"):
            if value is None or cidr:
                errors.append(f"'{mech}' needs ':domain' (no prefix length): {tok!r}")
                continue
            problem = _check_domain_spec(value, mech)
            if problem:
                errors.append(problem)
                continue
            terms.append(SpfTerm(qual, mech, value))
        elif mech in ("a", "mx", "ptr"):
            if value is not None:
                problem = _check_domain_spec(value, mech)
                if problem:
                    errors.append(problem)
                    continue
            if mech == "ptr" and cidr:
                errors.append(f"'ptr' takes no prefix length: {tok!r}")
                continue
            if (cidr4 is not None and not 0 <= cidr4 <= 32) or (cidr6 is not None and not 0 <= cidr6 <= 128):
                errors.append(f"prefix length out of range in {tok!r}")
                continue
            if mech == "ptr":
                notes.append("'ptr' is deprecated (RFC 7208 5.5): slow and unreliable")
            terms.append(SpfTerm(qual, mech, value or "", cidr4, cidr6))
        else:  # ip4 / ip6
            if value is None:
                errors.append(f"'{mech}' needs an address: {tok!r}")
                continue
            if "//" in cidr or (mech == "ip4" and cidr6 is not None):
                errors.append(f"bad prefix length in {tok!r}")
                continue
            plen = cidr4
            try:
                addr = ipaddress.ip_address(value)
                if (mech == "ip4") != (addr.version == 4):
                    raise ValueError(value)
                if plen is not None:
                    ipaddress.ip_network(f"{value}/{plen}", strict=False)
            except ValueError:
                errors.append(f"bad {mech} network in {tok!r}")
                continue
            if mech == "ip4":
                terms.append(SpfTerm(qual, mech, value, cidr4=plen))
            else:
                terms.append(SpfTerm(qual, mech, value, cidr6=plen))
    return SpfRecord(text, tuple(terms), redirect, exp, tuple(errors), tuple(notes))


@dataclass(frozen=True)
class SpfNode:
    """An SPF record with everything it refers to resolved: includes, redirect, a/mx addresses."""

    domain: str
    txt: Lookup
    records: tuple[str, ...]
    record: SpfRecord | None
    problems: tuple[str, ...] = ()
    """Why evaluating this node gives a permerror (none, several records, loops, depth)."""
    failures: tuple[str, ...] = ()
    """Look-ups that failed (timeout, SERVFAIL): the result cannot be told."""
    children: dict[int, SpfNode] = field(default_factory=dict)
    """term index (or -1 for redirect) -> the included/redirected record."""
    networks: dict[int, tuple[str, ...]] = field(default_factory=dict)
    """term index -> networks an a/mx term stands for."""

    def lookups(self) -> int:
        """DNS-querying terms in this record and, recursively, in every include and redirect."""
        if self.record is None:
            return 0
        return self.record.own_lookups + sum(c.lookups() for c in self.children.values())

    def walk(self) -> Iterable[SpfNode]:
        yield self
        for c in self.children.values():
            yield from c.walk()


def _networks(addresses: Iterable[str], term: SpfTerm) -> list[str]:
    out = []
    for a in addresses:
        ip = ipaddress.ip_address(a)
        plen = (term.cidr4 if term.cidr4 is not None else 32) if ip.version == 4 else (
            term.cidr6 if term.cidr6 is not None else 128)
        out.append(str(ipaddress.ip_network(f"{a}/{plen}", strict=False)))
    return out


async def expand_spf(client: Resolver, domain: str, depth: int = 0, chain: tuple[str, ...] = ()) -> SpfNode:
    domain = _bare(domain)
    txt = await client.query(domain, "TXT")
    if not txt.definitive:
        return SpfNode(domain, txt, (), None, failures=(txt.describe(),))
    records = tuple(r for r in txt.records if is_spf(r))
    if not records:
        return SpfNode(domain, txt, records, None, problems=(f"{domain} has no SPF record ({txt.outcome.value})",))
    if len(records) > 1:
        return SpfNode(domain, txt, records, None, problems=(f"{domain} has {len(records)} SPF records",))
    record = parse_spf(records[0])
    if record.errors:
        return SpfNode(domain, txt, records, record, problems=tuple(f"{domain}: {e}" for e in record.errors))
    problems: list[str] = []
    failures: list[str] = []
    children: dict[int, SpfNode] = {}
    networks: dict[int, tuple[str, ...]] = {}
    jobs: list[tuple[str, int, Any]] = []
    targets = [(i, t) for i, t in enumerate(record.terms)]
    if record.uses_redirect:
        targets.append((-1, SpfTerm("+", "redirect", record.redirect or "")))
    for i, term in targets:
        target = term.value or domain
        if term.mechanism in ("include", "redirect"):
            if "%" in target:
                continue
            if _bare(target) in chain + (domain,):
                problems.append(f"{domain}: {term} loops back to {_bare(target)}")
            elif depth >= SPF_LOOKUP_LIMIT:
                problems.append(f"{domain}: includes nested more than {SPF_LOOKUP_LIMIT} deep")
            else:
                jobs.append(("child", i, expand_spf(client, target, depth + 1, chain + (domain,))))
        elif term.mechanism == "a" and "%" not in target:
            jobs.append(("a", i, resolve_host(client, target)))
        elif term.mechanism == "mx" and "%" not in target:
            jobs.append(("mx", i, collect_mx(client, target)))
    results = await asyncio.gather(*(j[2] for j in jobs))
    for (kind, i, _), res in zip(jobs, results, strict=True):
        term = record.terms[i] if i >= 0 else SpfTerm("+", "redirect", record.redirect or "")
        if kind == "child":
            children[i] = res
        elif kind == "a":
            failures.extend(f.describe() for f in res.failed)
            networks[i] = tuple(_networks(res.addresses, term))
        else:
            if not res.mx.definitive:
                failures.append(res.mx.describe())
            hosts = res.hosts[:10]
            for h in hosts:
                failures.extend(f.describe() for f in h.failed)
            networks[i] = tuple(n for h in hosts for n in _networks(h.addresses, term))
    return SpfNode(domain, txt, records, record, tuple(problems), tuple(failures), children, networks)


def spf_result(node: SpfNode, address: str) -> str:
    """check_host() for one address over an expanded tree: pass, fail, softfail, neutral, none,
    permerror, temperror, or ``unknown`` when a ptr/exists/macro term decides and cannot be
    evaluated statically."""
    if node.failures and node.record is None:
        return "temperror"
    if node.problems or node.record is None:
        return "none" if not node.records else "permerror"
    ip = ipaddress.ip_address(address)
    for i, term in enumerate(node.record.terms):
        mech = term.mechanism
        if mech == "all":
            return term.result
        if mech in ("ip4", "ip6"):
            plen = term.cidr4 if mech == "ip4" else term.cidr6
            net = ipaddress.ip_network(f"{term.value}/{plen}" if plen is not None else term.value, strict=False)
            if ip.version == net.version and ip in net:
                return term.result
        elif mech in ("a", "mx"):
            if i not in node.networks:
                return "unknown"
            if any(ip.version == n.version and ip in n for n in map(ipaddress.ip_network, node.networks[i])):
                return term.result
        elif mech == "include":
            child = node.children.get(i)
            if child is None:
                return "unknown"
            sub = spf_result(child, address)
            if sub == "pass":
                return term.result
            if sub in ("none", "permerror"):
                return "permerror"
            if sub in ("temperror", "unknown"):
                return sub
        else:  # ptr, exists
            return "unknown"
    if node.record.uses_redirect:
        child = node.children.get(-1)
        if child is None:
            return "unknown"
        sub = spf_result(child, address)
        return "permerror" if sub == "none" else sub
    return "neutral"


def _final_all(node: SpfNode) -> SpfTerm | None:
    """The ``all`` that ends evaluation, following redirect."""
    if node.record is None:
        return None
    if node.record.all_term is not None:
        return node.record.all_term
    if node.record.uses_redirect and -1 in node.children:
        return _final_all(node.children[-1])
    return None


def analyse_spf(domain: str, node: SpfNode, mx_addresses: Sequence[str], server_addresses: Sequence[str],
                extra: Sequence[SpfNode] = ()) -> Finding:
    """``extra``: the expanded trees of each record when the domain publishes several (for details)."""
    fid = f"dns.spf.{domain}"
    txt = node.txt
    if not txt.definitive:
        return _finding(fid, Status.UNKNOWN, f"SPF look-up for {domain} failed: {txt.outcome.value}",
                        [txt.describe()])
    if txt.outcome is Outcome.NXDOMAIN:
        return _finding(fid, Status.CRITICAL, f"{domain} does not exist (NXDOMAIN): no SPF", [txt.describe()])
    if not node.records:
        return _finding(fid, Status.WARNING, f"{domain} has no SPF record",
                        ["TXT records: " + (" | ".join(txt.records) or "none")],
                        f"Publish one TXT record at {domain}, e.g. \"v=spf1 mx -all\".")
    if len(node.records) > 1:
        lines = [f"record {n}: {r}" for n, r in enumerate(node.records, 1)]
        for n, sub in enumerate(extra, 1):
            lines.append(f"record {n}: {sub.lookups()} DNS-querying terms")
        return _finding(fid, Status.CRITICAL,
                        f"{domain} has {len(node.records)} SPF records: receivers return permerror",
                        lines, "Merge them into exactly one 'v=spf1' TXT record (RFC 7208 3.2).")
    record = node.record
    assert record is not None
    lines = [f"record: {record.text}"]
    crit: list[str] = []
    warn: list[str] = []
    unknown: list[str] = []
    if record.errors:
        crit.extend(f"syntax: {e}" for e in record.errors)
    lookups = node.lookups()
    per = [f"{n.domain}: {n.record.own_lookups}" for n in node.walk() if n.record is not None]
    lines.append(f"DNS-querying terms: {lookups} (limit {SPF_LOOKUP_LIMIT}; " + ", ".join(per) + ")")
    if lookups > SPF_LOOKUP_LIMIT:
        crit.append(f"{lookups} DNS-querying terms (limit {SPF_LOOKUP_LIMIT}): receivers return permerror")
    for sub in node.walk():
        if sub is not node:
            lines.append(f"include {sub.domain}: {sub.records[0] if len(sub.records) == 1 else sub.records or 'none'}")
        crit.extend(sub.problems if sub is not node or not record.errors else ())
        unknown.extend(sub.failures)
        if sub.record is not None:
            lines.extend(f"note ({sub.domain}): {n}" for n in sub.record.notes)
    final = _final_all(node)
    if final is None:
        if not record.errors:
            warn.append("no closing '-all' or '~all': unlisted senders get 'neutral'")
    elif final.qualifier == "+":
        crit.append("'+all' authorises every host on the Internet")
    elif final.qualifier == "?":
        warn.append("'?all' (neutral) does not reject unlisted senders")
    lines.append(f"default: {final or 'none (neutral)'}")
    senders = list(server_addresses) or list(mx_addresses)
    for addr in dict.fromkeys(list(mx_addresses) + list(server_addresses)):
        res = spf_result(node, addr)
        lines.append(f"{addr}: {res}")
        is_sender = addr in senders and bool(server_addresses)
        if res == "pass":
            continue
        if res in ("unknown", "temperror"):
            unknown.append(f"{addr}: cannot tell ({res})")
        elif res == "permerror":
            pass  # already a critical problem above
        elif is_sender and res == "fail":
            crit.append(f"sending address {addr} is not authorised ({res})")
        else:
            warn.append(f"{'sending' if is_sender else 'MX'} address {addr} is not authorised ({res})")
    metrics = [Metric("spf_lookups", lookups, warn=None, crit=SPF_LOOKUP_LIMIT, min=0)]
    hint = ""
    if crit:
        status, problems = Status.CRITICAL, crit
        hint = ("Keep one 'v=spf1' record; replace includes by ip4:/ip6: networks to stay within 10 "
                "look-ups; end it with '-all' or '~all'.")
    elif unknown:
        status, problems = Status.UNKNOWN, unknown
    elif warn:
        status, problems = Status.WARNING, warn
        hint = "Authorise every address that sends for the domain and end the record with '-all' or '~all'."
    else:
        status, problems = Status.OK, []
    summary = f"{domain}: " + ("; ".join(problems) if problems else
                              f"one valid SPF record, {lookups} look-up{'s' if lookups != 1 else ''}, ends {final}")
    return _finding(fid, status, summary, lines, hint, metrics, lookups=lookups)


async def collect_spf(client: Resolver, domain: str) -> tuple[SpfNode, list[SpfNode]]:
    """The expanded SPF tree; when several records exist, also each one expanded on its own."""
    node = await expand_spf(client, domain)
    extra: list[SpfNode] = []
    if len(node.records) > 1:
        for text in node.records:
            fake_txt = Lookup(node.domain, "TXT", Outcome.ANSWER, (text,))
            extra.append(await _expand_record(client, node.domain, fake_txt))
    return node, extra


class _OneRecord:
    """A resolver that answers one TXT question from a given record and forwards the rest."""

    def __init__(self, client: Resolver, domain: str, txt: Lookup) -> None:
        self.client, self.domain, self.txt = client, domain, txt

    async def query(self, name: str, rdtype: str) -> Lookup:
        if _bare(name) == self.domain and rdtype == "TXT":
            return self.txt
        return await self.client.query(name, rdtype)


async def _expand_record(client: Resolver, domain: str, txt: Lookup) -> SpfNode:
    return await expand_spf(_OneRecord(client, domain, txt), domain)


# --------------------------------------------------------------------------- tag=value records


def parse_tags(text: str) -> tuple[dict[str, str], list[str]]:
    """``k=v; k=v`` (DKIM, DMARC, TLS-RPT, MTA-STS). Returns (tags, problems)."""
    tags: dict[str, str] = {}
    problems: list[str] = []
    for part in text.split(";"):
        part = part.strip()
        if not part:
            continue
        key, eq, value = part.partition("=")
        key = key.strip()
        if not eq or not key:
            problems.append(f"not a tag=value pair: {part!r}")
            continue
        if key in tags:
            problems.append(f"tag {key!r} appears twice")
        tags[key] = "".join(value.split())  if key == "p" else value.strip()
    return tags, problems


# --------------------------------------------------------------------------- DKIM


def rsa_modulus_bits(der: bytes) -> int:
    """Size of the RSA modulus in a SubjectPublicKeyInfo (what DKIM's ``p=`` holds) or a bare
    PKCS#1 RSAPublicKey. Raises :class:`DerError` when it is neither."""
    tag, body, end = read_element(der, 0)
    if tag != SEQUENCE or end != len(der):
        raise DerError("not a DER SEQUENCE")
    first_tag, first, pos = read_element(body, 0)
    if first_tag == INTEGER:  # PKCS#1 RSAPublicKey: SEQUENCE { modulus INTEGER, exponent INTEGER }
        modulus = first
    elif first_tag == SEQUENCE:  # SubjectPublicKeyInfo
        oid_tag, oid, _ = read_element(first, 0)
        if oid_tag != OID:
            raise DerError("no algorithm identifier")
        if oid_text(oid) != OID_RSA:
            raise DerError(f"not an RSA key (algorithm {oid_text(oid)})")
        bs_tag, bits, _ = read_element(body, pos)
        if bs_tag != BIT_STRING or not bits or bits[0] != 0:
            raise DerError("no public key BIT STRING")
        seq_tag, inner, _ = read_element(bits[1:], 0)
        if seq_tag != SEQUENCE:
            raise DerError("RSA key is not a SEQUENCE")
        int_tag, modulus, _ = read_element(inner, 0)
        if int_tag != INTEGER:
            raise DerError("no modulus INTEGER")
    else:
        raise DerError("unexpected DER structure")
    value = int.from_bytes(modulus, "big")
    if value <= 0:
        raise DerError("modulus is not positive")
    return value.bit_length()


@dataclass(frozen=True, slots=True)
class DkimKey:
    tags: dict[str, str]
    key_type: str
    bits: int | None
    problems: tuple[str, ...]
    revoked: bool


def parse_dkim(text: str) -> DkimKey:
    tags, problems = parse_tags(text)
    if "v" in tags and (tags["v"] != "DKIM1" or not text.lstrip().startswith("v")):
        problems.append(f"v={tags['v']!r}: must be 'DKIM1' and the first tag")
    key_type = tags.get("k", "rsa").lower()
    if "p" not in tags:
        problems.append("no p= (public key) tag")
        return DkimKey(tags, key_type, None, tuple(problems), False)
    if tags["p"] == "":
        return DkimKey(tags, key_type, None, tuple(problems), True)
    try:
        der = base64.b64decode(tags["p"], validate=True)
    except ValueError:
        problems.append("p= is not valid base64")
        return DkimKey(tags, key_type, None, tuple(problems), False)
    bits = None
    if key_type == "rsa":
        try:
            bits = rsa_modulus_bits(der)
        except DerError as exc:
            problems.append(f"p= is not an RSA public key: {exc}")
    elif key_type == "ed25519":
        if len(der) != 32:
            problems.append(f"ed25519 key must be 32 bytes, got {len(der)}")
        else:
            bits = 256
    else:
        problems.append(f"unknown key type k={key_type}")
    return DkimKey(tags, key_type, bits, tuple(problems), False)


def analyse_dkim(domain: str, selector: str, txt: Lookup) -> Finding:
    fid = f"dns.dkim.{selector}.{domain}"
    name = f"{selector}._domainkey.{domain}"
    if not txt.definitive:
        return _finding(fid, Status.UNKNOWN, f"DKIM look-up {name} failed: {txt.outcome.value}", [txt.describe()])
    records = [r for r in txt.records if "p=" in r or r.startswith("v=DKIM1")]
    hint = f"Publish the selector's public key as one TXT record at {name} (e.g. opendkim-genkey -b 2048)."
    if not records:
        return _finding(fid, Status.CRITICAL, f"no DKIM key at {name} ({txt.outcome.value})", [txt.describe()], hint)
    if len(records) > 1:
        return _finding(fid, Status.CRITICAL, f"{len(records)} DKIM key records at {name}: verifiers fail",
                        records, hint)
    key = parse_dkim(records[0])
    lines = [f"{name}: k={key.key_type}" + (f", {key.bits} bits" if key.bits else "")]
    if txt.canonical:
        lines.append(f"via CNAME {txt.canonical}")
    lines.extend(key.problems)
    metrics = [Metric(f"dkim_bits_{selector}", key.bits, min=0)] if key.bits else []
    if key.revoked:
        return _finding(fid, Status.CRITICAL, f"DKIM key {name} is revoked (empty p=)", lines,
                        "Publish the current key, or stop signing with this selector.")
    if key.problems:
        return _finding(fid, Status.CRITICAL, f"DKIM key {name} is invalid: {key.problems[0]}", lines, hint)
    if key.key_type == "rsa" and key.bits is not None and key.bits < DKIM_MIN_BITS:
        status = Status.CRITICAL if key.bits < DKIM_MIN_BITS_HARD else Status.WARNING
        return _finding(fid, status, f"DKIM key {name} is RSA {key.bits} bits (under {DKIM_MIN_BITS})", lines,
                        "Generate a 2048-bit key under a new selector, publish it, then switch signing to it.",
                        metrics)
    return _finding(fid, Status.OK, f"DKIM key {name}: {key.key_type} {key.bits} bits", lines, metrics=metrics)


# --------------------------------------------------------------------------- DMARC, TLS-RPT, MTA-STS


def analyse_dmarc(domain: str, txt: Lookup) -> Finding:
    fid = f"dns.dmarc.{domain}"
    name = f"_dmarc.{domain}"
    if not txt.definitive:
        return _finding(fid, Status.UNKNOWN, f"DMARC look-up {name} failed: {txt.outcome.value}", [txt.describe()])
    # a record that merely contains v=DMARC1 is reported (receivers ignore it) rather than overlooked
    records = [r for r in txt.records if "v=dmarc1" in r.replace(" ", "").lower()]
    hint = f"Publish e.g. '{name}. IN TXT \"v=DMARC1; p=quarantine; rua=mailto:dmarc@{domain}\"'."
    if not records:
        return _finding(fid, Status.WARNING, f"{domain} has no DMARC record ({txt.outcome.value} at {name})",
                        [txt.describe()], hint)
    if len(records) > 1:
        return _finding(fid, Status.CRITICAL, f"{domain} has {len(records)} DMARC records: receivers ignore all",
                        records, "Keep exactly one DMARC record.")
    tags, problems = parse_tags(records[0])
    lines = [f"record: {records[0]}", *problems]
    policy = tags.get("p", "").lower()
    if not records[0].lstrip().startswith("v=DMARC1"):
        problems.append("v=DMARC1 must be the first tag, spelt exactly so")
    if policy not in ("none", "quarantine", "reject"):
        why = "no p= tag" if "p" not in tags else f"bad policy p={tags['p']!r}"
        return _finding(fid, Status.CRITICAL, f"{domain}: DMARC record is invalid ({why})", lines, hint)
    if problems:
        return _finding(fid, Status.CRITICAL, f"{domain}: DMARC record is invalid ({problems[0]})", lines, hint)
    pct = tags.get("pct", "100")
    lines.append(f"policy {policy}, subdomains {tags.get('sp', policy)}, pct {pct}, "
                 f"reports {tags.get('rua', 'none')}")
    if policy == "none":
        return _finding(fid, Status.WARNING, f"{domain}: DMARC policy is 'none' (monitoring only)", lines,
                        "Once reports show your mail passes, move to p=quarantine, then p=reject.", policy=policy)
    return _finding(fid, Status.OK, f"{domain}: DMARC policy {policy}" + (f" ({pct}%)" if pct != "100" else ""),
                    lines, policy=policy)


def _one_record(fid: str, what: str, domain: str, name: str, version: str, txt: Lookup,
                hint: str) -> str | Finding:
    """The one TXT record at ``name`` that starts with ``version``; else the finding that says why not
    (look-up failed: UNKNOWN; none or several: WARNING with ``hint``)."""
    if not txt.definitive:
        return _finding(fid, Status.UNKNOWN, f"{what} look-up {name} failed: {txt.outcome.value}", [txt.describe()])
    records = [r for r in txt.records if r.replace(" ", "").startswith(version)]
    if len(records) != 1:
        count = f"no {what} record" if not records else f"{len(records)} {what} records"
        return _finding(fid, Status.WARNING, f"{domain}: {count} at {name}", list(records) or [txt.describe()], hint)
    return records[0]


def analyse_tlsrpt(domain: str, txt: Lookup) -> Finding:
    fid = f"dns.tlsrpt.{domain}"
    name = f"_smtp._tls.{domain}"
    hint = f"Publish '{name}. IN TXT \"v=TLSRPTv1; rua=mailto:tlsrpt@{domain}\"' (RFC 8460)."
    record = _one_record(fid, "TLS-RPT", domain, name, "v=TLSRPTv1", txt, hint)
    if isinstance(record, Finding):
        return record
    tags, problems = parse_tags(record)
    rua = tags.get("rua", "")
    if not rua or not all(u.strip().startswith(("mailto:", "https:")) for u in rua.split(",")):
        problems.append("rua= must list mailto: or https: addresses")
    if problems:
        return _finding(fid, Status.WARNING, f"{domain}: TLS-RPT record is invalid ({problems[0]})", [record],
                        hint)
    return _finding(fid, Status.OK, f"{domain}: TLS-RPT reports to {rua}", [record])


def analyse_mtasts(domain: str, txt: Lookup) -> Finding:
    fid = f"dns.mtasts.{domain}"
    name = f"_mta-sts.{domain}"
    hint = (f"Publish '{name}. IN TXT \"v=STSv1; id=YYYYMMDDnn\"' and the policy at "
            f"https://mta-sts.{domain}/.well-known/mta-sts.txt (RFC 8461).")
    record = _one_record(fid, "MTA-STS", domain, name, "v=STSv1", txt, hint)
    if isinstance(record, Finding):
        return record
    tags, problems = parse_tags(record)
    if not re.fullmatch(r"[A-Za-z0-9]{1,32}", tags.get("id", "")):
        problems.append("id= must be 1-32 letters or digits")
    lines = [record, "the HTTPS policy file is not fetched by this check"]
    if problems:
        return _finding(fid, Status.WARNING, f"{domain}: MTA-STS record is invalid ({problems[0]})", lines, hint)
    return _finding(fid, Status.OK, f"{domain}: MTA-STS record id {tags['id']}", lines)


# --------------------------------------------------------------------------- block lists


def dnsbl_name(address: str, zone: str) -> str:
    ip = ipaddress.ip_address(address)
    if ip.version == 4:
        rev = ".".join(reversed(str(ip).split(".")))
    else:
        rev = ".".join(reversed(ip.exploded.replace(":", "")))
    return f"{rev}.{_bare(zone)}"


def analyse_dnsbl(address: str, zone: str, a: Lookup, txt: Lookup | None = None) -> Finding:
    zone = _bare(zone)
    fid = f"dns.dnsbl.{zone}.{address}"
    name = dnsbl_name(address, zone)
    if a.outcome in (Outcome.NXDOMAIN, Outcome.NODATA):
        return _finding(fid, Status.OK, f"{address} is not listed on {zone}", [a.describe()])
    if not a.definitive:
        return _finding(fid, Status.UNKNOWN, f"{zone}: no verdict for {address} ({a.outcome.value})", [a.describe()],
                        "A block list that does not answer proves nothing; check it again later or drop it "
                        "from dns.dnsbl.")
    codes = list(a.records)
    refused = [c for c in codes if c.startswith("127.255.255.")]
    if refused:
        return _finding(fid, Status.UNKNOWN,
                        f"{zone} refused the query for {address} ({', '.join(refused)}): not a listing",
                        [f"{name} A {', '.join(codes)}",
                         "127.255.255.x means the list refuses this resolver (public/open resolver or "
                         "over its free limit)"],
                        "Query block lists through your own caching resolver, not a public one.")
    listed = [c for c in codes if c.startswith("127.")]
    if not listed:
        return _finding(fid, Status.UNKNOWN, f"{zone} gave an unexpected answer for {address}: {', '.join(codes)}",
                        [f"{name} A {', '.join(codes)}", "an answer outside 127.0.0.0/8 usually means the list "
                         "is dead and its domain now answers everything"], "Remove this list from dns.dnsbl.")
    reasons = list(txt.records) if txt is not None and txt.outcome is Outcome.ANSWER else []
    lines = [f"{name} A {', '.join(codes)}", *(f"reason: {r}" for r in reasons)]
    return _finding(fid, Status.CRITICAL, f"{address} is LISTED on {zone} ({', '.join(listed)})", lines,
                    "Find and stop the cause (open relay, compromised account, spam from a form), then "
                    "ask the list for delisting.", codes=codes)


async def check_dnsbl(client: Resolver, address: str, zone: str) -> Finding:
    name = dnsbl_name(address, zone)
    a = await client.query(name, "A")
    txt = None
    if a.outcome is Outcome.ANSWER and any(r.startswith("127.") and not r.startswith("127.255.255.")
                                           for r in a.records):
        txt = await client.query(name, "TXT")
    return analyse_dnsbl(address, zone, a, txt)


async def dnsbl_findings(client: Resolver, addresses: Sequence[str], zones: Sequence[str]) -> list[Finding]:
    return list(await asyncio.gather(*(check_dnsbl(client, a, z) for a in addresses for z in zones)))


# --------------------------------------------------------------------------- per domain and everything


async def domain_findings(client: Resolver, domain: str, cfg: Config,
                          mx_info: MxInfo | None = None) -> list[Finding]:
    domain = _bare(domain)
    d = cfg.dns

    async def dkim(selector: str) -> Finding:
        return analyse_dkim(domain, selector, await client.query(f"{selector}._domainkey.{domain}", "TXT"))

    async def dmarc() -> Finding:
        return analyse_dmarc(domain, await client.query(f"_dmarc.{domain}", "TXT"))

    async def tlsrpt() -> Finding:
        return analyse_tlsrpt(domain, await client.query(f"_smtp._tls.{domain}", "TXT"))

    async def mtasts() -> Finding:
        return analyse_mtasts(domain, await client.query(f"_mta-sts.{domain}", "TXT"))

    info_task = asyncio.ensure_future(collect_mx(client, domain)) if mx_info is None else None
    spf_task = asyncio.ensure_future(collect_spf(client, domain))
    others = [dkim(s) for s in d.dkim_selectors] + [dmarc()]
    if d.tlsrpt:
        others.append(tlsrpt())
    if d.mta_sts:
        others.append(mtasts())
    rest = await asyncio.gather(*others)
    info = mx_info if info_task is None else await info_task
    node, extra = await spf_task
    out = [analyse_mx(info, d.require_backup_mx),
           analyse_spf(domain, node, info.addresses, d.server_addresses, extra)]
    return out + list(rest)


def _not_checked(ids: Iterable[str], why: str) -> list[Finding]:
    return [_finding(i, Status.UNKNOWN, f"not checked: {why}") for i in ids]


def planned_ids(cfg: Config, mx_addresses: Sequence[str] = ()) -> list[str]:
    """The ids :func:`dns_findings` produces for this config (PTR/block-list ids need addresses)."""
    d = cfg.dns
    ids = []
    for dom in map(_bare, d.domains):
        ids += [f"dns.mx.{dom}", f"dns.spf.{dom}"]
        ids += [f"dns.dkim.{s}.{dom}" for s in d.dkim_selectors]
        ids.append(f"dns.dmarc.{dom}")
        if d.tlsrpt:
            ids.append(f"dns.tlsrpt.{dom}")
        if d.mta_sts:
            ids.append(f"dns.mtasts.{dom}")
    addrs = list(d.server_addresses) or list(mx_addresses)
    ids += [f"dns.ptr.{a}" for a in dict.fromkeys(list(mx_addresses) + list(d.server_addresses))]
    ids += [f"dns.dnsbl.{_bare(z)}.{a}" for z in d.dnsbl for a in addrs]
    return ids


async def nameserver_finding(client: Resolver, cfg: Config) -> Finding:
    """Is any nameserver answering? One SOA question for the first domain (or the root)."""
    probe = _bare(cfg.dns.domains[0]) if cfg.dns.domains else "."
    lk = await client.query(probe or ".", "SOA")
    servers = ", ".join(getattr(client, "nameservers", []) or ["system resolver"])
    metrics = [Metric("dns_response", round(lk.elapsed, 4), "s", min=0)]
    if lk.outcome in (Outcome.TIMEOUT, Outcome.ERROR):
        return _finding("dns.nameserver", Status.UNKNOWN, f"no DNS answer from {servers}", [lk.describe()],
                        "Start or fix the resolver (dns.nameservers); every DNS check depends on it.", metrics)
    return _finding("dns.nameserver", Status.OK,
                    f"{servers} answered in {lk.elapsed * 1000:.0f} ms ({lk.outcome.value} for {probe} SOA)",
                    [lk.describe()], metrics=metrics)


async def dns_findings(cfg: Config, client: DnsClient | None = None) -> list[Finding]:
    d = cfg.dns
    if not d.domains and not d.dnsbl:
        return []
    client = client or make_client(cfg)
    ns = await nameserver_finding(client, cfg)
    if ns.status is Status.UNKNOWN:
        return [ns] + _not_checked(planned_ids(cfg), "the nameserver did not answer (see dns.nameserver)")
    infos = list(await asyncio.gather(*(collect_mx(client, dom) for dom in d.domains)))
    mx_addresses = list(dict.fromkeys(a for i in infos for a in i.addresses))
    senders = list(d.server_addresses) or mx_addresses
    all_addresses = list(dict.fromkeys(mx_addresses + list(d.server_addresses)))
    groups = await asyncio.gather(
        *(domain_findings(client, i.domain, cfg, i) for i in infos),
        ptr_findings(client, all_addresses, senders),
        dnsbl_findings(client, senders, d.dnsbl),
    )
    return [f for g in groups for f in g]


def overall(findings: Sequence[Finding]) -> Status:
    return worst([f.status for f in findings])
