"""Typed configuration with provenance.

Precedence, highest first (documented in the README):

1. command-line flags (``--set section.key=value``, and the dedicated flags such as ``--read-only``)
2. environment: ``MAILTOP_<SECTION>__<KEY>`` (double underscore), e.g. ``MAILTOP_DNS__NAMESERVERS=127.0.0.1:5353``
3. the TOML file named by ``--config`` or ``MAILTOP_CONFIG`` (or ``~/.config/mailtop/mailtop.toml``,
   ``/etc/mailtop/mailtop.toml`` when present)
4. autodetected values (``postconf``, files that exist on this host)
5. built-in defaults

Every value remembers where it came from (``Config.source(key)``); ``mailtop --show-config`` prints both.
Unknown sections and keys are rejected with a did-you-mean suggestion.

Sections are frozen dataclasses: one place declares each key, its type and its default. Modules add
keys to their own section here.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """A configuration problem the user must fix; the message says what and where."""


# --------------------------------------------------------------------------- sections


@dataclass(frozen=True)
class GeneralConfig:
    hostname: str = ""
    """Name of the mail host, shown in reports (default: this machine's host name)."""
    audit_log: Path = Path("~/.local/state/mailtop/audit.log")
    """Every destructive action (queue, aliases) is appended here."""
    state_dir: Path = Path("~/.local/state/mailtop")
    """History files (probe round trips, ...)."""
    read_only: bool = False
    """Disable every action that changes the mail system."""
    theme: str = "dark"
    """dark or light."""
    timeout: float = 5.0
    """Default timeout in seconds for one network call."""


@dataclass(frozen=True)
class PostfixConfig:
    config_dir: Path = Path("/etc/postfix")
    """Postfix configuration directory (``postfix -c``)."""
    bin_dir: Path = Path("/usr/sbin")
    """Where postqueue, postsuper, postconf, postcat, postkick, postalias, postmap live."""
    instances: list[str] = field(default_factory=list)
    """Further Postfix config directories to watch (multi-instance hosts)."""
    queue_format: str = "auto"
    """How to list the queue: auto (``postqueue -j``, falling back to ``-p`` text on Postfix < 3.1),
    json, text (``postqueue -p``), or mailq (run ``mailq_command``, e.g. Sendmail's ``mailq``)."""
    mailq_command: str = ""
    """A command printing a Postfix- or Sendmail-style ``mailq`` listing (split like a shell, run without one)."""
    queue_timeout: float = 300.0
    """Seconds a whole queue listing may take before it is stopped."""
    next_retry: bool = True
    """Read deferred queue files' modification times (the next retry time) when the queue folder is readable."""


@dataclass(frozen=True)
class LogsConfig:
    files: list[Path] = field(default_factory=list)
    """Mail log files to follow (Postfix and Dovecot). Empty: autodetected."""
    journal: bool = False
    """Read the systemd journal (journalctl) when there is no log file."""
    journal_paths: list[Path] = field(default_factory=list)
    """Journal files or folders to read instead of the system journal (journalctl --file / --directory):
    a journal copied from another host, or a container's. Empty: the system journal."""
    history_lines: int = 5000
    """Lines kept for the log view."""
    syslog_names: list[str] = field(default_factory=list)
    """Count only Postfix lines of these syslog_names (and NAME/...), like pflogsumm --syslog-name.
    Empty: every Postfix instance in the log."""
    max_flows: int = 100000
    """Messages tracked at once by queue ID (older ones are evicted; bounds memory)."""


@dataclass(frozen=True)
class DovecotConfig:
    config: Path = Path("/etc/dovecot/dovecot.conf")
    doveadm: str = "doveadm"


@dataclass(frozen=True)
class MailstoreConfig:
    paths: list[Path] = field(default_factory=list)
    """Mail store roots (maildirs below them) for quota and disk checks."""


@dataclass(frozen=True)
class DnsConfig:
    nameservers: list[str] = field(default_factory=list)
    """``host`` or ``host:port``; empty means the system resolver."""
    domains: list[str] = field(default_factory=list)
    """Mail domains to check (MX, SPF, DKIM, DMARC, ...)."""
    dkim_selectors: list[str] = field(default_factory=list)
    dnsbl: list[str] = field(default_factory=list)
    """DNS block list zones to look the server's addresses up in."""
    server_addresses: list[str] = field(default_factory=list)
    """This server's public addresses (PTR, SPF, block lists). Empty: the MX addresses."""
    mta_sts: bool = False
    """Check the ``_mta-sts`` TXT record (RFC 8461) of each domain."""
    tlsrpt: bool = False
    """Check the ``_smtp._tls`` TLS-RPT record (RFC 8460) of each domain."""
    timeout: float = 3.0
    """Seconds for one DNS question (all retries included)."""
    require_backup_mx: bool = False
    """A domain with a single MX (or all MX at one preference) is a WARNING instead of a note."""


@dataclass(frozen=True)
class SmtpConfig:
    host: str = "127.0.0.1"
    port: int = 25
    submission_port: int = 587
    smtps_port: int = 0
    """Implicit-TLS submission (465); 0 when not offered."""
    helo_name: str = "mailtop.localdomain"
    allow_self_signed: bool = False
    tls_name: str = ""
    """Name the certificate must match (TLS check). Empty: ``host``."""


@dataclass(frozen=True)
class ImapConfig:
    host: str = "127.0.0.1"
    port: int = 143
    tls_port: int = 993
    allow_self_signed: bool = False
    tls_name: str = ""
    """Name the certificate must match (TLS check). Empty: ``host``."""


@dataclass(frozen=True)
class Pop3Config:
    host: str = "127.0.0.1"
    port: int = 110
    tls_port: int = 995
    allow_self_signed: bool = False
    tls_name: str = ""
    """Name the certificate must match (TLS check). Empty: ``host``."""


@dataclass(frozen=True)
class RelayConfig:
    targets: list[str] = field(default_factory=list)
    """SMTP servers (``host:port``) to probe for open relaying. Empty: the [smtp] endpoint."""
    source_address: str = ""
    """Local address to probe from; must be outside the server's mynetworks to prove anything."""
    outside_domain: str = "example.com"
    """A domain the server must not relay to."""
    outside_sender: str = "mailtop-relay-probe@example.net"
    """Envelope sender of the probe: an address outside every local domain."""
    trusted_networks: list[str] = field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])
    """Networks meant to relay without authentication: what each instance's mynetworks should
    cover, no more (a wider mynetworks is reported, and makes a relay probe from inside it count)."""
    timeout: float = 5.0
    """Seconds for one whole relay probe of one target (connect, greeting, every command);
    RSET and QUIT afterwards get at most 2 s more."""


@dataclass(frozen=True)
class ProbeConfig:
    target: str = ""
    """Autoresponder address to probe (e.g. echo@lab.test)."""
    sender: str = ""
    """Envelope sender; plus-addressed per probe (user+token@domain)."""
    mailbox_user: str = ""
    """IMAP user whose INBOX receives the replies."""
    password_env: str = "MAILTOP_PROBE_PASSWORD"
    """Environment variable holding the mailbox/submission password."""
    password_file: Path | None = None
    """File holding the password (first line). Takes precedence over password_env."""
    submit_via: str = "submission"
    """submission (port 587 with authentication) or smtp (port 25)."""
    timeout: float = 60.0
    """Seconds to wait for the reply (the whole probe: mailbox login, sending, waiting)."""
    idle: bool = True
    """Wait with IMAP IDLE when the server offers it; otherwise (or when false) poll."""
    poll_interval: float = 2.0
    """Seconds between mailbox checks when polling."""
    allow_plaintext_login: bool = False
    """Log in to the probe mailbox without TLS when [imap] tls_port = 0 and the server offers no STARTTLS
    (the password crosses the network in clear text). Off: the probe refuses."""


@dataclass(frozen=True)
class AliasesConfig:
    path: Path = Path("/etc/aliases")
    virtual_path: Path | None = None
    """A Postfix virtual_alias_maps text file (rebuilt with postmap)."""
    rebuild: str = "auto"
    """auto (from the Postfix config: newaliases -C / postalias / postmap), newaliases, postalias, postmap,
    sendmail (plain newaliases), none."""
    rebuild_timeout: float = 60.0
    """Seconds the rebuild may take before it counts as failed (and the previous file is restored)."""
    backup_dir: Path | None = None
    """Where dated backups go (<name>.mailtop-<UTC time>). Empty: next to the file."""
    backup_keep: int = 10
    """Backups kept per file (0: keep all)."""
    extra_users: list[str] = field(default_factory=list)
    """Local recipients NSS (getent passwd) cannot show; targets naming them are not reported as going nowhere."""


@dataclass(frozen=True)
class ThresholdsConfig:
    queue_oldest_warn: float = 3600.0
    """Seconds: oldest deferred message age for WARNING."""
    queue_oldest_crit: float = 86400.0
    queue_count_warn: int = 500
    queue_count_crit: int = 5000
    quota_warn: float = 90.0
    """Percent of a user's quota."""
    quota_crit: float = 98.0
    disk_warn: float = 85.0
    """Percent of the mail store filesystem (space or inodes)."""
    disk_crit: float = 95.0
    cert_warn_days: float = 21.0
    cert_crit_days: float = 7.0
    defer_rate_warn: float = 10.0
    """Percent of delivery attempts deferred in the log window."""
    defer_rate_crit: float = 30.0
    bounce_rate_warn: float = 5.0
    bounce_rate_crit: float = 20.0
    rate_min_attempts: int = 20
    """Delivery attempts in the log window below which the defer/bounce rates are not judged (OK)."""
    auth_failures_warn: int = 20
    """Authentication failures from one client address in the log window."""
    auth_failures_crit: int = 100
    log_window: float = 300.0
    """Seconds of log the rate checks look at."""


@dataclass(frozen=True)
class RefreshConfig:
    queue: float = 2.0
    log: float = 0.5
    quota: float = 30.0
    health: float = 60.0
    dns: float = 300.0
    tls: float = 900.0
    """Seconds between TLS checks (handshakes, certificate expiry) in the dashboard."""
    relay: float = 900.0
    """Seconds between open-relay probes in the dashboard."""


@dataclass(frozen=True)
class Config:
    general: GeneralConfig = field(default_factory=GeneralConfig)
    postfix: PostfixConfig = field(default_factory=PostfixConfig)
    logs: LogsConfig = field(default_factory=LogsConfig)
    dovecot: DovecotConfig = field(default_factory=DovecotConfig)
    mailstore: MailstoreConfig = field(default_factory=MailstoreConfig)
    dns: DnsConfig = field(default_factory=DnsConfig)
    smtp: SmtpConfig = field(default_factory=SmtpConfig)
    imap: ImapConfig = field(default_factory=ImapConfig)
    pop3: Pop3Config = field(default_factory=Pop3Config)
    relay: RelayConfig = field(default_factory=RelayConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    aliases: AliasesConfig = field(default_factory=AliasesConfig)
    thresholds: ThresholdsConfig = field(default_factory=ThresholdsConfig)
    refresh: RefreshConfig = field(default_factory=RefreshConfig)
    sources: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    """``"section.key"`` -> where the value came from (default, autodetect, file:..., env:..., flag)."""
    config_file: Path | None = None

    def source(self, key: str) -> str:
        return self.sources.get(key, "default")

    def items(self) -> list[tuple[str, Any, str]]:
        """Every ``(section.key, value, source)``, in declaration order."""
        out = []
        for sec in _sections():
            obj = getattr(self, sec.name)
            for f in dataclasses.fields(obj):
                key = f"{sec.name}.{f.name}"
                out.append((key, getattr(obj, f.name), self.source(key)))
        return out


# --------------------------------------------------------------------------- typing helpers


def _sections() -> list[dataclasses.Field]:
    return [f for f in dataclasses.fields(Config) if f.name not in ("sources", "config_file")]


def _section_types() -> dict[str, type]:
    hints = typing.get_type_hints(Config)
    return {f.name: hints[f.name] for f in _sections()}


def _field_types(section_cls: type) -> dict[str, Any]:
    return typing.get_type_hints(section_cls)


def _coerce(value: Any, typ: Any, where: str, from_text: bool) -> Any:
    """Turn a TOML value (or an env/flag string when ``from_text``) into ``typ``."""
    origin = typing.get_origin(typ)
    args = typing.get_args(typ)
    if origin in (types.UnionType, typing.Union):
        non_none = [a for a in args if a is not type(None)]
        if value is None or (from_text and value == ""):
            return None
        return _coerce(value, non_none[0], where, from_text)
    if origin is list:
        (inner,) = args
        if from_text and isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {type(value).__name__} {value!r}")
        return [_coerce(v, inner, where, from_text) for v in value]
    if typ is bool:
        if isinstance(value, bool):
            return value
        if from_text and isinstance(value, str):
            low = value.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
        raise ConfigError(f"{where}: expected true or false, got {value!r}")
    if typ is int:
        if isinstance(value, bool):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if from_text and isinstance(value, str):
            try:
                return int(value.strip())
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected an integer, got {value!r}")
    if typ is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if from_text and isinstance(value, str):
            try:
                return float(value.strip())
            except ValueError:
                pass
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if typ is str:
        if isinstance(value, str):
            return value
        raise ConfigError(f"{where}: expected a string, got {value!r}")
    if typ is Path:
        if isinstance(value, str):
            return Path(value).expanduser()
        raise ConfigError(f"{where}: expected a path (string), got {value!r}")
    raise ConfigError(f"{where}: unsupported type {typ!r}")  # pragma: no cover - a declaration bug


def _suggest(word: str, choices: list[str]) -> str:
    import difflib  # only on the error path: keeps start-up light for --check

    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


# --------------------------------------------------------------------------- layers


Layer = dict[str, dict[str, Any]]  # section -> key -> raw value


def _check_keys(layer: Layer, where: str) -> None:
    sections = _section_types()
    for sec, values in layer.items():
        if sec not in sections:
            raise ConfigError(f"{where}: unknown section [{sec}]{_suggest(sec, list(sections))}")
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: [{sec}] must be a table")
        fields = _field_types(sections[sec])
        for key in values:
            if key not in fields:
                raise ConfigError(f"{where}: unknown key '{sec}.{key}'{_suggest(key, list(fields))}")


def read_toml(path: Path) -> Layer:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except PermissionError:
        raise ConfigError(f"config file {path} is not readable (permission denied)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path}: {exc}") from None
    _check_keys(data, str(path))
    return data


def env_layer(environ: typing.Mapping[str, str]) -> Layer:
    """``MAILTOP_SECTION__KEY=value`` pairs. ``MAILTOP_CONFIG`` and a few others are not config keys."""
    layer: Layer = {}
    for name, value in environ.items():
        if not name.startswith("MAILTOP_") or "__" not in name:
            continue
        sec, _, key = name[len("MAILTOP_"):].partition("__")
        layer.setdefault(sec.lower(), {})[key.lower()] = value
    _check_keys(layer, "environment")
    return layer


def parse_assignments(pairs: list[str]) -> Layer:
    """``--set section.key=value`` flags."""
    layer: Layer = {}
    for pair in pairs:
        key, eq, value = pair.partition("=")
        sec, dot, name = key.strip().partition(".")
        if not eq or not dot:
            raise ConfigError(f"--set {pair!r}: expected section.key=value")
        layer.setdefault(sec, {})[name] = value
    _check_keys(layer, "--set")
    return layer


def _run_postconf(bin_dir: Path, config_dir: Path | None, names: list[str]) -> dict[str, str]:
    import shutil
    import subprocess

    exe = shutil.which("postconf", path=str(bin_dir)) or shutil.which("postconf")
    if not exe:
        return {}
    argv = [exe]
    if config_dir is not None:
        argv += ["-c", str(config_dir)]
    argv += names
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return {}
    values = {}
    for line in out.stdout.splitlines():
        k, _, v = line.partition(" = ")
        values[k.strip()] = v.strip()
    return values


def _which(name: str) -> str | None:
    import shutil

    return shutil.which(name)


def autodetect(partial: Layer) -> Layer:
    """Values this host tells us: the Postfix log file, the mail log, the Dovecot config.

    ``partial`` is what the higher layers already set, so detection follows a configured
    Postfix directory instead of the host's default one.
    """
    layer: Layer = {}
    pf = partial.get("postfix", {})
    bin_dir = Path(str(pf.get("bin_dir", "/usr/sbin")))
    config_dir = Path(str(pf["config_dir"])) if "config_dir" in pf else None
    if "files" not in partial.get("logs", {}):
        files: list[str] = []
        pc = _run_postconf(bin_dir, config_dir, ["maillog_file"])
        if pc.get("maillog_file"):
            files.append(pc["maillog_file"])
        for candidate in ("/var/log/mail.log", "/var/log/maillog"):
            if Path(candidate).exists() and candidate not in files:
                files.append(candidate)
                break
        if files:
            layer.setdefault("logs", {})["files"] = files
        elif _which("journalctl"):
            layer.setdefault("logs", {})["journal"] = True
    if "hostname" not in partial.get("general", {}):
        layer.setdefault("general", {})["hostname"] = os.uname().nodename
    if os.geteuid() == 0 and "audit_log" not in partial.get("general", {}):
        layer.setdefault("general", {})["audit_log"] = "/var/log/mailtop/audit.log"
        layer["general"]["state_dir"] = "/var/lib/mailtop"
    return layer


def default_config_file(environ: typing.Mapping[str, str]) -> Path | None:
    for candidate in (
        Path(environ.get("XDG_CONFIG_HOME", "~/.config")).expanduser() / "mailtop" / "mailtop.toml",
        Path("/etc/mailtop/mailtop.toml"),
    ):
        if candidate.is_file():
            return candidate
    return None


def load_config(
    config_file: str | Path | None = None,
    *,
    environ: typing.Mapping[str, str] | None = None,
    flags: Layer | None = None,
    detect: bool = True,
) -> Config:
    """Build the effective configuration from every layer (see the module docstring)."""
    environ = os.environ if environ is None else environ
    path: Path | None = None
    file_source = ""
    if config_file is not None:
        path, file_source = Path(config_file).expanduser(), "flag --config"
    elif environ.get("MAILTOP_CONFIG"):
        path, file_source = Path(environ["MAILTOP_CONFIG"]).expanduser(), "env MAILTOP_CONFIG"
    else:
        path = default_config_file(environ)
        file_source = "default location"
    layers: list[tuple[str, Layer, bool]] = []  # (source, layer, values are text)
    flag_layer = flags or {}
    env = env_layer(environ)
    file_layer = read_toml(path) if path is not None else {}
    merged_above: Layer = {}
    for lyr in (file_layer, env, flag_layer):
        for sec, vals in lyr.items():
            merged_above.setdefault(sec, {}).update(vals)
    auto = autodetect(merged_above) if detect else {}
    layers.append(("autodetect", auto, False))
    if path is not None:
        layers.append((f"file {path}", file_layer, False))
    layers.append(("env", env, True))
    layers.append(("flag", flag_layer, True))

    sections = _section_types()
    built: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for sec_name, sec_cls in sections.items():
        kwargs: dict[str, Any] = {}
        ftypes = _field_types(sec_cls)
        for source, layer, textual in layers:
            for key, raw in layer.get(sec_name, {}).items():
                where = f"{sec_name}.{key} ({source})"
                kwargs[key] = _coerce(raw, ftypes[key], where, from_text=textual)
                label = source
                if source == "env":
                    label = f"env MAILTOP_{sec_name.upper()}__{key.upper()}"
                elif source.startswith("file"):
                    label = f"{source} ({file_source})"
                sources[f"{sec_name}.{key}"] = label
        built[sec_name] = sec_cls(**kwargs)
    cfg = Config(**built, sources=sources, config_file=path)
    _validate(cfg)
    return cfg


def _validate(cfg: Config) -> None:
    if cfg.general.theme not in ("dark", "light"):
        raise ConfigError(f"general.theme: expected 'dark' or 'light', got {cfg.general.theme!r}")
    if cfg.postfix.queue_format not in ("auto", "json", "text", "mailq"):
        raise ConfigError(
            f"postfix.queue_format: expected auto, json, text or mailq, got {cfg.postfix.queue_format!r}"
        )
    if cfg.probe.submit_via not in ("submission", "smtp"):
        raise ConfigError(f"probe.submit_via: expected 'submission' or 'smtp', got {cfg.probe.submit_via!r}")
    for name in ("queue", "log", "quota", "health", "dns"):
        if getattr(cfg.refresh, name) <= 0:
            raise ConfigError(f"refresh.{name}: must be a positive number of seconds")


def parse_hostport(text: str, default_port: int) -> tuple[str, int]:
    """``host``, ``host:port``, ``[v6]:port`` -> (host, port)."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") else default_port
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, int(port)
    return text, default_port
