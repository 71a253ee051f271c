"""Open relay, checked two honest ways: the Postfix configuration and a live probe.

Interface for ``mailtop.checks``:

``async def relay_findings(cfg: Config) -> list[Finding]``
    One ``relay.config.<instance>`` per Postfix config dir (``cfg.postfix.config_dir`` and
    ``cfg.postfix.instances``; the instance is the directory's base name) and one
    ``relay.probe.<host>:<port>`` per target (``cfg.relay.targets``, default the ``[smtp]``
    endpoint), all concurrently. Never raises for an unreachable server, a missing ``postconf`` or
    a bad config dir: those are UNKNOWN findings that say what happened.
``async def read_instance(config_dir, bin_dir, timeout) -> Instance``
``def analyse_instance(inst, trusted_networks) -> Finding``
``async def probe_relay(target, cfg, instances=()) -> Finding``

**relay.config.<instance>** (from ``postconf -c DIR -n``, ``postconf -c DIR -x <params>`` for the
effective values including defaults, and ``postconf -c DIR -M`` for each smtpd's ``-o``
overrides): for every smtpd listening on ``inet``,

- ``mynetworks`` wider than ``relay.trusted_networks``: CRITICAL when a permit for mynetworks
  precedes the relay check and the extra networks include public address space (0.0.0.0/0 in the
  extreme), WARNING otherwise;
- no restriction list that stops an outside client for an outside destination
  (``reject_unauth_destination``, ``defer_unauth_destination`` or an unconditional
  ``reject``/``defer``): CRITICAL;
- permits in the wrong order: an unconditional ``permit`` before that stop is CRITICAL;
  ``permit_tls_all_clientcerts``, ``permit_mx_backup`` or ``check_sender_access`` (senders are
  forged at will) before it are WARNING.

**relay.probe.<host>:<port>** connects from ``relay.source_address`` (bound; empty lets the
kernel choose), sends EHLO, ``MAIL FROM`` an outside address and ``RCPT TO`` outside
destinations with the classic tricks (plain, percent hack, bang paths, quoted local part, source
route, address literal), then always RSET and QUIT — never DATA, so nothing is ever queued.

- any 2xx to a RCPT: CRITICAL — unless the source address is inside the server's trusted networks
  (its mynetworks when the target is a known instance and that mynetworks is no wider than
  ``relay.trusted_networks``; otherwise ``relay.trusted_networks``): then the acceptance proves
  nothing and the finding is UNKNOWN and says so;
- every RCPT refused: OK (the details say when the source was trusted, so the refusal proves
  little);
- refused connection, bind failure, no greeting within ``relay.timeout`` (a tarpit), MAIL FROM
  refused, a dropped connection: UNKNOWN, saying which step failed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailtop.config import Config, parse_hostport
from mailtop.health.system import find_program, run_program
from mailtop.model import Finding, Metric, Status

RELAY_PARAMS = ("mynetworks", "smtpd_relay_restrictions", "smtpd_recipient_restrictions", "inet_interfaces")
STOPPERS = {"reject_unauth_destination", "defer_unauth_destination", "reject", "defer"}
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


# --------------------------------------------------------------------------- parsing postconf output


def parse_postconf(text: str) -> dict[str, str]:
    """``name = value`` lines (``postconf -n`` / ``postconf -x name ...``) -> dict."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        name, eq, value = line.partition("=")
        if eq:
            out[name.strip()] = value.strip()
    return out


def split_list(value: str) -> list[str]:
    """A Postfix list value (commas and/or white space; ``{ ... }`` groups kept whole)."""
    out: list[str] = []
    cur = ""
    depth = 0
    for ch in value:
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        if depth == 0 and (ch == "," or ch.isspace()):
            if cur:
                out.append(cur)
            cur = ""
        else:
            cur += ch
    if cur:
        out.append(cur)
    return out


@dataclass(frozen=True, slots=True)
class Service:
    """One ``inet`` smtpd line of master.cf with its ``-o`` overrides."""

    name: str
    """``127.0.0.1:2525``, ``smtp``, ``submission`` ..."""
    host: str
    port: int | None
    overrides: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        return self.name


def _port(service: str) -> int | None:
    if service.isdigit():
        return int(service)
    try:
        return socket.getservbyname(service, "tcp")
    except OSError:
        return None


def parse_master(text: str) -> list[Service]:
    """``postconf -M`` output -> the inet services whose command is smtpd."""
    out = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 8 or fields[1] != "inet" or fields[7] != "smtpd":
            continue
        name = fields[0]
        host, _, svc = name.rpartition(":")
        host = host.strip("[]")
        overrides = []
        args = fields[8:]
        i = 0
        while i < len(args):
            if args[i] == "-o" and i + 1 < len(args):
                k, _, v = args[i + 1].partition("=")
                overrides.append((k.strip(), v.strip()))
                i += 2
            elif args[i].startswith("-o") and "=" in args[i]:
                k, _, v = args[i][2:].partition("=")
                overrides.append((k.strip(), v.strip()))
                i += 1
            else:
                i += 1
        out.append(Service(name, host, _port(svc), tuple(overrides)))
    return out


@dataclass(frozen=True)
class Instance:
    """What ``postconf`` says about one Postfix instance's relay policy."""

    name: str
    config_dir: Path
    effective: dict[str, str] = field(default_factory=dict)
    """``postconf -x`` values of :data:`RELAY_PARAMS` (defaults included)."""
    explicit: dict[str, str] = field(default_factory=dict)
    """``postconf -n``: what main.cf sets."""
    services: tuple[Service, ...] = ()
    error: str = ""

    def param(self, name: str, service: Service | None = None) -> str:
        """A parameter's value for one smtpd service (its ``-o`` override wins)."""
        if service is not None:
            for k, v in service.overrides:
                if k == name:
                    return self._expand(v)
        return self.effective.get(name, self.explicit.get(name, ""))

    def _expand(self, value: str) -> str:
        if value.startswith("$") and value[1:].strip("{}()") in self.effective:
            return self.effective[value[1:].strip("{}()")]
        return value

    def service_for(self, host: str, port: int) -> Service | None:
        for s in self.services:
            if s.port == port and (s.host in ("", "*", "0.0.0.0", "::") or s.host == host):
                return s
        return None


def parse_networks(value: str) -> tuple[list[Network], list[str]]:
    """mynetworks -> (networks, entries that cannot be inspected: tables, files, host names)."""
    nets: list[Network] = []
    other: list[str] = []
    for tok in split_list(value):
        text = tok.strip()
        if text.startswith("!"):
            other.append(tok)
            continue
        if text.startswith("["):
            addr, _, rest = text[1:].partition("]")
            text = addr + rest
        try:
            nets.append(_unmap(ipaddress.ip_network(text, strict=False)))
        except ValueError:
            other.append(tok)
    return nets, other


def _unmap(net: Network) -> Network:
    """``[::ffff:127.0.0.0]/104`` (Debian's default mynetworks has it) is 127.0.0.0/8."""
    if isinstance(net, ipaddress.IPv6Network) and net.prefixlen >= 96:
        mapped = net.network_address.ipv4_mapped
        if mapped is not None:
            return ipaddress.ip_network(f"{mapped}/{net.prefixlen - 96}", strict=False)
    return net


def _within(net: Network, trusted: Sequence[Network]) -> bool:
    return any(net.version == t.version and net.subnet_of(t) for t in trusted)  # type: ignore[arg-type]


def _is_public(net: Network) -> bool:
    """Does the network reach beyond private, loopback and link-local space?"""
    if net.prefixlen == 0:
        return True
    return net.is_global or not (net.is_private or net.is_loopback or net.is_link_local)


def _contains(nets: Iterable[Network], address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return any(ip.version == n.version and ip in n for n in nets)


def trusted(cfg: Config) -> list[Network]:
    return [ipaddress.ip_network(t, strict=False) for t in cfg.relay.trusted_networks]


# --------------------------------------------------------------------------- running postconf


async def read_instance(config_dir: Path, bin_dir: Path, timeout: float = 5.0) -> Instance:
    name = Path(config_dir).name or str(config_dir)
    exe = find_program("postconf", bin_dir)
    if exe is None:
        return Instance(name, config_dir, error=f"postconf not found in {bin_dir} or on PATH")
    base = [exe, "-c", str(config_dir)]
    try:
        (rc1, explicit, err1), (rc2, effective, err2), (rc3, master, err3) = await asyncio.gather(
            run_program(base + ["-n"], timeout), run_program(base + ["-x", *RELAY_PARAMS], timeout),
            run_program(base + ["-M"], timeout))
    except TimeoutError:
        return Instance(name, config_dir, error=f"postconf -c {config_dir} did not finish within {timeout:g}s")
    except OSError as exc:
        return Instance(name, config_dir, error=f"cannot run {exe}: {exc}")
    for rc, err in ((rc1, err1), (rc2, err2), (rc3, err3)):
        if rc != 0:
            return Instance(name, config_dir, error=(err.strip() or f"postconf exited {rc}"))
    return Instance(name, config_dir, parse_postconf(effective), parse_postconf(explicit), tuple(parse_master(master)))


# --------------------------------------------------------------------------- configuration analysis


@dataclass(frozen=True, slots=True)
class ListVerdict:
    """How one restriction list treats an unauthenticated client outside the trusted networks
    asking for an outside destination."""

    stops: bool
    """The list ends such a request (reject_unauth_destination and the like)."""
    open_to: str = ""
    """When it lets such a client through: why (e.g. "permit before reject_unauth_destination")."""
    warnings: tuple[str, ...] = ()


def judge_list(name: str, value: str, mynetworks_too_wide: bool, mynetworks: str = "") -> ListVerdict:
    warnings: list[str] = []
    for tok in split_list(value):
        low = tok.lower()
        if ":" in low or low.startswith(("{", "/")):
            continue  # the argument of the previous restriction (a table, a policy service)
        if low in STOPPERS:
            return ListVerdict(True, "", tuple(warnings))
        if low == "permit":
            return ListVerdict(False, f"{name} has 'permit' before any reject_unauth_destination", tuple(warnings))
        if low == "permit_mynetworks" and mynetworks_too_wide:
            return ListVerdict(False, f"{name} permits mynetworks ({mynetworks or 'too wide'}) before "
                               "reject_unauth_destination", tuple(warnings))
        if low in ("permit_tls_all_clientcerts", "permit_mx_backup"):
            warnings.append(f"{name}: {low} before reject_unauth_destination relays more than intended")
        elif low == "check_sender_access":
            warnings.append(f"{name}: check_sender_access before reject_unauth_destination: an OK for a "
                            "(forgeable) sender relays")
    return ListVerdict(False, "", tuple(warnings))


def analyse_instance(inst: Instance, trusted_networks: Sequence[Network]) -> Finding:
    fid = f"relay.config.{inst.name}"
    if inst.error:
        return Finding(fid, Status.UNKNOWN, f"{inst.name}: cannot read the Postfix configuration",
                       inst.error, "Check postfix.config_dir / postfix.instances and that postconf runs.")
    services = list(inst.services) or [None]
    crit: list[str] = []
    warn: list[str] = []
    lines: list[str] = []
    seen_wide: set[str] = set()
    for svc in services:
        label = svc.label if svc else "main.cf"
        mynet = inst.param("mynetworks", svc)
        nets, uninspectable = parse_networks(mynet)
        extra = [n for n in nets if not _within(n, trusted_networks)]
        relay_list = inst.param("smtpd_relay_restrictions", svc)
        rcpt_list = inst.param("smtpd_recipient_restrictions", svc)
        # Extra private networks are a LAN that can relay (a warning below); extra public space
        # behind permit_mynetworks makes the server an open relay.
        wide = any(_is_public(n) for n in extra)
        v_relay = judge_list("smtpd_relay_restrictions", relay_list, wide, mynet)
        v_rcpt = judge_list("smtpd_recipient_restrictions", rcpt_list, wide, mynet)
        lines.append(f"[{label}] mynetworks = {mynet or '(empty)'}")
        lines.append(f"[{label}] smtpd_relay_restrictions = {relay_list or '(empty)'}")
        lines.append(f"[{label}] smtpd_recipient_restrictions = {rcpt_list or '(empty)'}")
        if uninspectable:
            lines.append(f"[{label}] mynetworks entries not inspected: {', '.join(uninspectable)}")
        if extra and mynet not in seen_wide:
            seen_wide.add(mynet)
            text = ", ".join(map(str, extra))
            public = any(_is_public(n) for n in extra)
            msg = f"[{label}] mynetworks includes {text}, beyond relay.trusted_networks"
            # public space that reaches a permit before the relay check is critical (judge_list
            # reports it as an open relay); anything else is wider than intended
            is_open = public and not (v_relay.stops or v_rcpt.stops)
            (crit if is_open else warn).append(msg)
        if v_relay.stops or v_rcpt.stops:
            for v in (v_relay, v_rcpt):
                if v.stops or not v.open_to:
                    warn.extend(f"[{label}] {w}" for w in v.warnings)
            continue
        reasons = [v.open_to for v in (v_relay, v_rcpt) if v.open_to]
        if reasons:
            crit.append(f"open relay on {label}: " + "; ".join(reasons))
        else:
            crit.append(f"open relay on {label}: no restriction list rejects unauthorised destinations "
                        "(no reject_unauth_destination)")
    hint = ("Set mynetworks to the networks that may relay (e.g. 127.0.0.0/8 [::1]/128) and "
            "smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination.")
    crit = sorted(dict.fromkeys(crit), key=lambda c: "open relay" not in c)
    warn = list(dict.fromkeys(w for w in warn if w not in crit))
    if crit:
        return Finding(fid, Status.CRITICAL, f"{inst.name}: " + crit[0], "\n".join(crit + warn + lines), hint)
    if warn:
        return Finding(fid, Status.WARNING, f"{inst.name}: " + warn[0] + (f" (+{len(warn) - 1} more)" if len(warn) > 1
                       else ""), "\n".join(warn + lines), hint)
    names = ", ".join(s.label for s in inst.services) or "main.cf"
    return Finding(fid, Status.OK, f"{inst.name}: relaying limited to trusted networks and authenticated "
                   f"clients ({names})", "\n".join(lines))


# --------------------------------------------------------------------------- live probe

PROBE_LOCAL = "mailtop-relay-test"
OUTSIDE_LITERAL = "192.0.2.1"  # TEST-NET-1 (RFC 5737): never a real destination


def relay_tricks(outside_domain: str, local_domain: str) -> list[tuple[str, str]]:
    """(label, RCPT TO path) pairs: the classic ways to sneak an outside recipient past a relay check."""
    u, d, loc = PROBE_LOCAL, outside_domain, local_domain
    return [
        ("plain", f"<{u}@{d}>"),
        ("percent hack", f"<{u}%{d}@{loc}>"),
        ("bang path", f"<{d}!{u}>"),
        ("bang path via local domain", f"<{d}!{u}@{loc}>"),
        ("quoted local part", f'<"{u}@{d}">'),
        ("quoted local part via local domain", f'<"{u}@{d}"@{loc}>'),
        ("source route", f"<@{loc}:{u}@{d}>"),
        ("address literal", f"<{u}@[{OUTSIDE_LITERAL}]>"),
    ]


@dataclass(frozen=True, slots=True)
class RcptReply:
    label: str
    path: str
    code: int
    message: str

    @property
    def accepted(self) -> bool:
        return 200 <= self.code < 300


@dataclass(frozen=True)
class ProbeResult:
    """What happened in one probe session. ``failed_at`` names the step that went wrong, if any."""

    target: str
    source: str = ""
    greeting: str = ""
    mail_reply: tuple[int, str] | None = None
    replies: tuple[RcptReply, ...] = ()
    failed_at: str = ""
    error: str = ""
    elapsed: float = 0.0
    transcript: tuple[str, ...] = ()

    @property
    def accepted(self) -> list[RcptReply]:
        return [r for r in self.replies if r.accepted]


async def run_probe(host: str, port: int, *, source: str, helo: str, sender: str,
                    tricks: Sequence[tuple[str, str]], timeout: float) -> ProbeResult:
    """Talk SMTP up to RCPT and back out. Returns within ``timeout`` (plus a short clean-up)."""
    import aiosmtplib

    target = f"{host}:{port}"
    start = time.monotonic()
    step_timeout = max(0.2, timeout)
    transcript: list[str] = []
    state: dict[str, Any] = {"step": "connect", "source": source}
    replies: list[RcptReply] = []
    smtp: Any = None

    async def cmd(verb: bytes, arg: bytes) -> tuple[int, str]:
        line = (verb + b" " + arg).decode()
        transcript.append(f">>> {line}")
        resp = await smtp.execute_command(verb, arg)
        transcript.append(f"<<< {resp.code} {resp.message}")
        return resp.code, resp.message

    async def session() -> None:
        nonlocal smtp
        # Our own TCP connect (bound to the source), so "could not connect" and "connected, but no
        # greeting" (a tarpit) are told apart.
        sock = await _connect(host, port, source)
        state["sock"] = sock
        state["source"] = sock.getsockname()[0]
        state["step"] = "greeting"
        smtp = aiosmtplib.SMTP(sock=sock, hostname=host, local_hostname=helo, timeout=step_timeout,
                               start_tls=False)
        resp = await smtp.connect()
        transcript.append(f"<<< {resp.code} {resp.message}")
        state["greeting"] = f"{resp.code} {resp.message}"
        state["step"] = "EHLO"
        transcript.append(f">>> EHLO {helo}")
        ehlo = await smtp.ehlo()
        transcript.append(f"<<< {ehlo.code} {ehlo.message.splitlines()[0] if ehlo.message else ''}")
        state["step"] = "MAIL FROM"
        state["mail"] = await cmd(b"MAIL", f"FROM:<{sender}>".encode())
        if not 200 <= state["mail"][0] < 300:
            state["failed_at"] = "MAIL FROM"
            state["error"] = f"server refused MAIL FROM: {state['mail'][0]} {state['mail'][1]}"
            return
        for label, path in tricks:
            state["step"] = f"RCPT TO {path}"
            code, msg = await cmd(b"RCPT", f"TO:{path}".encode())
            replies.append(RcptReply(label, path, code, msg))
            if code == 421:  # the server is closing the session
                break

    try:
        async with asyncio.timeout(timeout):
            await session()
    except TimeoutError:
        step = state["step"]
        state["failed_at"] = step
        what = {"connect": "could not connect", "greeting": "connected, but no greeting"}.get(
            step, f"no reply to {step}")
        state["error"] = f"{what} within {timeout:g}s"
    except aiosmtplib.SMTPServerDisconnected as exc:
        state["failed_at"] = state["step"]
        state["error"] = f"server closed the connection during {state['step']}: {exc}"
    except aiosmtplib.SMTPResponseException as exc:
        state["failed_at"] = state["step"]
        state["error"] = f"{state['step']} refused: {exc.code} {exc.message}"
    except OSError as exc:  # connect, bind (the source address is not local), reset
        state["failed_at"] = state["step"]
        why = os.strerror(exc.errno) if exc.errno else str(exc)
        state["error"] = f"{why} ({state['step']} {'from ' + source + ' ' if source else ''}to {target})"
    finally:
        if smtp is not None:
            await _goodbye(smtp, transcript, "mail" in state, min(2.0, step_timeout))
        if "sock" in state and state["sock"].fileno() != -1:  # connected, but aiosmtplib never took it over
            state["sock"].close()
    return ProbeResult(target, state["source"], state.get("greeting", ""), state.get("mail"), tuple(replies),
                       state.get("failed_at", ""), state.get("error", ""), time.monotonic() - start,
                       tuple(transcript))


async def _goodbye(smtp: Any, transcript: list[str], in_transaction: bool, timeout: float) -> None:
    """RSET (when a transaction was opened) and QUIT; close the socket whatever happens."""
    import aiosmtplib

    if not smtp.is_connected:
        return
    try:
        async with asyncio.timeout(timeout):
            if in_transaction:
                transcript.append(">>> RSET")
                r = await smtp.rset()
                transcript.append(f"<<< {r.code} {r.message}")
            transcript.append(">>> QUIT")
            r = await smtp.quit()
            transcript.append(f"<<< {r.code} {r.message}")
    except (TimeoutError, aiosmtplib.SMTPException, OSError) as exc:
        transcript.append(f"(closing: {type(exc).__name__}: {exc})")
    finally:
        if smtp.is_connected:
            smtp.close()


async def _connect(host: str, port: int, source: str) -> socket.socket:
    """A connected, non-blocking TCP socket, bound to ``source`` when given. The caller bounds the time."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    if source:
        want = ipaddress.ip_address(source).version
        infos = [i for i in infos if (i[0] == socket.AF_INET6) == (want == 6)] or infos
    family, kind, proto, _, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setblocking(False)
        if source:
            sock.bind((source, 0))
        await loop.sock_connect(sock, addr)
    except BaseException:
        sock.close()
        raise
    return sock


def _source_context(result: ProbeResult, instance: Instance | None, service: Service | None,
                    trusted_networks: Sequence[Network]) -> tuple[bool, bool, str]:
    """(inside, proves_nothing, explanation) for the probe's source address."""
    src = result.source
    if not src:
        return False, False, "source address unknown"
    if instance is not None and not instance.error:
        mynet = instance.param("mynetworks", service)
        nets, other = parse_networks(mynet)
        inside = _contains(nets, src)
        if not inside:
            extra = f" (entries not inspected: {', '.join(other)})" if other else ""
            return False, False, f"source {src} is outside {instance.name}'s mynetworks ({mynet}){extra}"
        holders = [n for n in nets if _contains([n], src)]
        too_wide = [n for n in holders if not _within(n, trusted_networks)]
        if not too_wide:
            return True, True, (f"source {src} is inside {instance.name}'s mynetworks ({mynet}), which is "
                                "meant to relay: the result proves nothing about outside clients")
        return True, False, (f"source {src} is inside {instance.name}'s mynetworks only through "
                             f"{', '.join(map(str, too_wide))}, wider than relay.trusted_networks: "
                             "every client there can relay")
    if _contains(trusted_networks, src):
        return True, True, (f"source {src} is inside relay.trusted_networks and this target's mynetworks is "
                            "unknown: an acceptance would prove nothing")
    return False, False, f"source {src} is outside relay.trusted_networks (target's mynetworks unknown)"


def analyse_probe(result: ProbeResult, instance: Instance | None = None, service: Service | None = None,
                  trusted_networks: Sequence[Network] = ()) -> Finding:
    fid = f"relay.probe.{result.target}"
    lines = [f"from {result.source or 'default source'} to {result.target} in {result.elapsed:.2f}s"]
    metrics = [Metric("relay_probe_time", round(result.elapsed, 3), "s", min=0)]
    if result.greeting:
        lines.append(f"greeting: {result.greeting}")
    inside, nothing, context = _source_context(result, instance, service, trusted_networks)
    lines.append(context)
    for r in result.replies:
        lines.append(f"RCPT TO:{r.path} ({r.label}): {r.code} {r.message}")
    lines.append("transcript:")
    lines.extend(f"  {t}" for t in result.transcript)
    accepted = result.accepted
    metrics.append(Metric("relay_accepted", len(accepted), crit=0, min=0, max=len(result.replies) or None))
    if accepted:
        tricks = ", ".join(r.label for r in accepted)
        if nothing:
            return Finding(fid, Status.UNKNOWN,
                           f"{result.target} accepted outside recipients ({tricks}) but the probe came from a "
                           "trusted address: proves nothing",
                           "\n".join(lines), "Set relay.source_address to a local address outside mynetworks "
                           "(e.g. 127.0.0.2 when mynetworks is 127.0.0.1/32).", tuple(metrics))
        return Finding(fid, Status.CRITICAL,
                       f"OPEN RELAY: {result.target} accepted {len(accepted)} outside recipient"
                       f"{'s' if len(accepted) != 1 else ''} from {result.source} ({tricks})",
                       "\n".join(lines), "Restrict relaying: mynetworks to trusted networks only and "
                       "reject_unauth_destination in smtpd_relay_restrictions, then reload Postfix.",
                       tuple(metrics), {"accepted": [r.path for r in accepted]})
    if result.failed_at:
        return Finding(fid, Status.UNKNOWN, f"relay probe of {result.target} failed at {result.failed_at}: "
                       f"{result.error}", "\n".join(lines),
                       "The relay test could not run; see the services and TLS checks for this endpoint.",
                       tuple(metrics))
    if not result.replies:  # pragma: no cover - no tricks configured
        return Finding(fid, Status.UNKNOWN, f"relay probe of {result.target} sent no RCPT", "\n".join(lines))
    summary = f"{result.target} refused all {len(result.replies)} outside recipients from {result.source}"
    if inside:
        summary += " (source is trusted: proves little)"
    return Finding(fid, Status.OK, summary, "\n".join(lines), metrics=tuple(metrics))


def _local_domain(cfg: Config, host: str) -> str:
    if cfg.dns.domains:
        return cfg.dns.domains[0].rstrip(".")
    return f"[{host}]"


async def probe_relay(target: str, cfg: Config, instances: Sequence[Instance] = ()) -> Finding:
    host, port = parse_hostport(target, 25)
    rc = cfg.relay
    result = await run_probe(host, port, source=rc.source_address, helo=cfg.smtp.helo_name,
                             sender=rc.outside_sender, tricks=relay_tricks(rc.outside_domain, _local_domain(cfg, host)),
                             timeout=rc.timeout)
    inst = svc = None
    for i in instances:
        s = i.service_for(host, port)
        if s is not None:
            inst, svc = i, s
            break
    return analyse_probe(result, inst, svc, trusted(cfg))


def targets(cfg: Config) -> list[str]:
    return list(cfg.relay.targets) or [f"{cfg.smtp.host}:{cfg.smtp.port}"]


async def relay_findings(cfg: Config) -> list[Finding]:
    dirs = [cfg.postfix.config_dir, *(Path(p) for p in cfg.postfix.instances)]
    dirs = list(dict.fromkeys(Path(os.path.abspath(d)) for d in dirs))
    instances = await asyncio.gather(*(read_instance(d, cfg.postfix.bin_dir, cfg.general.timeout) for d in dirs))
    nets = trusted(cfg)
    config_findings = [analyse_instance(i, nets) for i in instances]
    probes = await asyncio.gather(*(probe_relay(t, cfg, instances) for t in targets(cfg)))
    return config_findings + list(probes)
