"""Mailbox quota and mail store space: one collector for the Quota panel and the ``quota``/``storage`` checks.

:func:`collect_quota` (blocking; run it in a worker thread) returns a :class:`QuotaSnapshot`:

- ``users``: per-user usage. ``doveadm -c CONF -f json quota get -A`` is authoritative (values in KiB
  for STORAGE, a message count for MESSAGE, limit ``-`` for none). Users it does not report (or all of
  them, when doveadm is missing, fails or is not allowed: it needs root or the mail user) come from
  maildir++ ``maildirsize`` files found under ``[mailstore] paths``: first line the quota definition
  (``<bytes>S,<count>C``), then ``<bytes> <count>`` deltas to add up.
- ``filesystems``: space (psutil) and inodes (``os.statvfs``) of each mail store filesystem, once per device.
- ``errors``: what could not be read, as sentences for the user.

Thresholds: ``[thresholds] quota_warn/quota_crit`` (percent of a user's quota, default 90/98) and
``disk_warn/disk_crit`` (percent of space or inodes, default 85/95).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from mailtop.config import Config
from mailtop.model import Finding, Metric, Status

_SKIP_DIRS = {"cur", "new", "tmp"}


# --------------------------------------------------------------------------- records


@dataclass(frozen=True, slots=True)
class UserQuota:
    user: str
    used_bytes: int
    limit_bytes: int | None
    """None: no storage limit."""
    messages: int
    message_limit: int | None
    source: str
    """``doveadm`` or ``maildirsize``."""
    maildir: str = ""

    @property
    def percent(self) -> float | None:
        """The higher of storage and message usage in percent of the limit; None without limits."""
        vals = []
        if self.limit_bytes:
            vals.append(100.0 * self.used_bytes / self.limit_bytes)
        if self.message_limit:
            vals.append(100.0 * self.messages / self.message_limit)
        return max(vals) if vals else None


@dataclass(frozen=True, slots=True)
class FsUsage:
    path: str
    """The configured mail store path."""
    mountpoint: str
    total_bytes: int
    used_bytes: int
    free_bytes: int
    """Available to unprivileged users."""
    percent: float
    """Used space as df shows it: used / (used + available)."""
    inodes_total: int
    inodes_used: int
    inodes_percent: float | None
    """None where the filesystem has no fixed inode table (btrfs, some network filesystems)."""


@dataclass(frozen=True, slots=True)
class QuotaSnapshot:
    time: float
    users: tuple[UserQuota, ...]
    filesystems: tuple[FsUsage, ...]
    errors: tuple[str, ...] = ()
    doveadm_ok: bool = False
    maildirsize_files: int = 0
    paths: tuple[str, ...] = field(default=())


# --------------------------------------------------------------------------- maildirsize


def parse_maildirsize(text: str) -> tuple[int | None, int | None, int, int]:
    """(byte limit, message limit, bytes used, messages used). A limit of 0 or none means unlimited.

    Raises ValueError on a malformed file."""
    lines = text.splitlines()
    if not lines:
        raise ValueError("empty maildirsize")
    byte_limit = msg_limit = None
    for part in lines[0].split(","):
        part = part.strip()
        if not part:
            continue
        num, unit = part[:-1], part[-1].upper()
        if unit not in "SC" or not num.isdigit():
            raise ValueError(f"bad quota definition {lines[0]!r}")
        if unit == "S":
            byte_limit = int(num) or None
        else:
            msg_limit = int(num) or None
    used = count = 0
    for n, line in enumerate(lines[1:], start=2):
        parts = line.split()
        if not parts:
            continue
        try:
            used += int(parts[0])
            count += int(parts[1]) if len(parts) > 1 else 0
        except ValueError:
            raise ValueError(f"line {n}: {line[:60]!r} is not '<bytes> <count>'") from None
    return byte_limit, msg_limit, max(used, 0), max(count, 0)


def find_maildirsize(root: Path, max_depth: int = 5, errors: list[str] | None = None) -> list[Path]:
    """maildirsize files below ``root``, not descending into maildir folders (cur/new/tmp, .Sub).
    Folders that cannot be read are named in ``errors``."""
    found = []
    root_depth = len(root.parts)

    def unreadable(exc: OSError) -> None:
        if errors is not None:
            errors.append(f"cannot read {exc.filename}: {exc.strerror or exc} (maildirsize files there not counted)")

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable):
        here = Path(dirpath)
        if "maildirsize" in filenames:
            found.append(here / "maildirsize")
            dirnames[:] = []  # a maildir: its subfolders hold no other users
            continue
        if len(here.parts) - root_depth >= max_depth:
            dirnames[:] = []
            continue
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS and not d.startswith("."))
    return sorted(found)


def user_for(maildir: Path, root: Path) -> str:
    """``<root>/alice/Maildir`` -> alice; ``<root>/lab.test/alice`` -> alice@lab.test."""
    d = maildir
    if d.name.lower() == "maildir" and d.parent != root:
        d = d.parent
    name = d.name
    if d.parent != root and "." in d.parent.name and d.parent.parent is not None:
        return f"{name}@{d.parent.name}"
    return name


def _from_maildirsize(paths: list[Path], errors: list[str]) -> tuple[list[UserQuota], int]:
    users = []
    files = 0
    for root in paths:
        if not root.is_dir():
            errors.append(f"mail store {root} does not exist or is not a folder")
            continue
        for f in find_maildirsize(root, errors=errors):
            files += 1
            try:
                bl, ml, used, count = parse_maildirsize(f.read_text(errors="replace"))
            except (OSError, ValueError) as exc:
                errors.append(f"{f}: {exc}")
                continue
            users.append(UserQuota(user_for(f.parent, root), used, bl, count, ml, "maildirsize", str(f.parent)))
    return users, files


# --------------------------------------------------------------------------- doveadm


def parse_doveadm_quota(text: str) -> list[UserQuota]:
    """Rows of ``doveadm -f json quota get -A`` -> one record per user (STORAGE in KiB, MESSAGE a count)."""
    rows = json.loads(text) if text.strip() else []
    if not isinstance(rows, list):
        raise ValueError("doveadm quota output is not a JSON list")
    acc: dict[str, dict] = {}
    for row in rows:
        user = str(row.get("username") or row.get("user") or "")
        if not user:
            continue
        a = acc.setdefault(user, {"used": 0, "limit": None, "msgs": 0, "mlimit": None})
        kind = str(row.get("type", "")).upper()
        value = int(row.get("value") or 0)
        raw_limit = str(row.get("limit", "-")).strip()
        limit = int(raw_limit) if raw_limit.isdigit() and int(raw_limit) > 0 else None
        if kind == "STORAGE":
            a["used"] += value * 1024
            if limit is not None:
                a["limit"] = (a["limit"] or 0) + limit * 1024
        elif kind == "MESSAGE":
            a["msgs"] += value
            if limit is not None:
                a["mlimit"] = (a["mlimit"] or 0) + limit
    return [UserQuota(u, a["used"], a["limit"], a["msgs"], a["mlimit"], "doveadm") for u, a in acc.items()]


def _from_doveadm(cfg: Config, timeout: float, errors: list[str]) -> list[UserQuota] | None:
    from mailtop.health.system import find_program

    exe = find_program(cfg.dovecot.doveadm)
    if exe is None:
        errors.append(f"doveadm not found ({cfg.dovecot.doveadm}): per-user quota from maildirsize files only")
        return None
    argv = [exe, "-c", str(cfg.dovecot.config), "-f", "json", "quota", "get", "-A"]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        errors.append(f"doveadm quota get gave no answer within {timeout:g} s")
        return None
    except OSError as exc:
        errors.append(f"cannot run {exe}: {exc.strerror or exc}")
        return None
    if proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        why = msg[-1][:200] if msg else f"exit code {proc.returncode}"
        if os.geteuid() != 0:
            why += " (doveadm needs root or the mail user)"
        errors.append(f"doveadm quota get failed: {why}")
        return None
    try:
        return parse_doveadm_quota(proc.stdout)
    except (ValueError, TypeError, AttributeError) as exc:
        errors.append(f"cannot read doveadm quota output: {exc}")
        return None


# --------------------------------------------------------------------------- filesystems


def _mountpoint(path: Path) -> str:
    import psutil

    real = os.path.realpath(path)
    best = "/"
    try:
        parts = psutil.disk_partitions(all=True)
    except OSError:
        return best
    for p in parts:
        mp = p.mountpoint
        if (real == mp or real.startswith(mp.rstrip("/") + "/")) and len(mp) > len(best):
            best = mp
    return best


def filesystem_usage(paths: list[Path], errors: list[str]) -> list[FsUsage]:
    import psutil

    out = []
    seen: set[int] = set()
    for p in paths:
        try:
            dev = os.stat(p).st_dev
            if dev in seen:
                continue
            du = psutil.disk_usage(str(p))
            sv = os.statvfs(p)
        except OSError as exc:
            errors.append(f"mail store {p}: {exc.strerror or exc}")
            continue
        seen.add(dev)
        inodes_used = sv.f_files - sv.f_ffree
        inodes_pct = 100.0 * inodes_used / sv.f_files if sv.f_files else None
        out.append(FsUsage(str(p), _mountpoint(p), du.total, du.used, du.free, float(du.percent), sv.f_files,
                           inodes_used, inodes_pct))
    return out


# --------------------------------------------------------------------------- the collector


def _merge(dove: list[UserQuota] | None, files: list[UserQuota]) -> list[UserQuota]:
    if dove is None:
        return sorted(files, key=lambda u: u.user)
    known = {u.user for u in dove} | {u.user.split("@")[0] for u in dove}
    extra = [u for u in files if u.user not in known and u.user.split("@")[0] not in known]
    with_dirs = {u.user: u.maildir for u in files}
    merged = [
        UserQuota(u.user, u.used_bytes, u.limit_bytes, u.messages, u.message_limit, u.source,
                  with_dirs.get(u.user, with_dirs.get(u.user.split("@")[0], "")))
        for u in dove
    ]
    return sorted(merged + extra, key=lambda u: u.user)


def collect_quota(cfg: Config, timeout: float | None = None) -> QuotaSnapshot:
    """Per-user quota and mail store space. Blocking (a subprocess and file reads): run it in a thread."""
    timeout = cfg.general.timeout if timeout is None else timeout
    errors: list[str] = []
    paths = [Path(p) for p in cfg.mailstore.paths]
    dove = _from_doveadm(cfg, timeout, errors)
    files, nfiles = _from_maildirsize(paths, errors)
    fs = filesystem_usage(paths, errors)
    return QuotaSnapshot(time.time(), tuple(_merge(dove, files)), tuple(fs), tuple(errors), dove is not None,
                         nfiles, tuple(str(p) for p in paths))


# --------------------------------------------------------------------------- findings


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"  # pragma: no cover


def _slug(text: str) -> str:
    s = "".join(ch if ch.isalnum() or ch in "-_@" else "-" for ch in text.strip("/"))
    return s.strip("-") or "root"


def quota_findings_from(snap: QuotaSnapshot, warn: float, crit: float) -> list[Finding]:
    out: list[Finding] = []
    limited = [u for u in snap.users if u.percent is not None]
    over = []
    for u in sorted(limited, key=lambda u: -(u.percent or 0)):
        pct = u.percent or 0.0
        if pct < warn:
            continue
        status = Status.CRITICAL if pct >= crit else Status.WARNING
        over.append(u)
        limit = _size(u.limit_bytes) if u.limit_bytes else f"{u.message_limit} messages"
        out.append(Finding(
            f"quota.user.{_slug(u.user)}", status,
            f"{u.user} uses {pct:.0f} % of the quota ({_size(u.used_bytes)} of {limit})",
            details=f"{u.messages} messages; source: {u.source}" + (f"; maildir {u.maildir}" if u.maildir else ""),
            hint="ask the user to clean up, or raise the quota; delivery fails with 552 5.2.2 when it is full",
            metrics=(Metric(f"quota.{u.user}", round(pct, 1), "%", warn, crit, 0, 100),),
            data={"user": u.user, "used_bytes": u.used_bytes, "limit_bytes": u.limit_bytes,
                  "messages": u.messages, "message_limit": u.message_limit, "source": u.source},
        ))
    sources = "doveadm" if snap.doveadm_ok else f"{snap.maildirsize_files} maildirsize files"
    if snap.users:
        top = max(limited, key=lambda u: u.percent or 0, default=None)
        top_text = f"; highest {top.user} {top.percent:.0f} %" if top else ""
        summary = (f"{len(snap.users)} users, {len(over)} at or over {warn:g} %{top_text}" if over
                   else f"{len(snap.users)} users under {warn:g} % of their quota{top_text}")
        metrics = (Metric("quota.max", round(top.percent or 0, 1), "%", warn, crit, 0, 100),) if top else ()
        out.insert(0, Finding("quota.users", Status.OK, summary, details=f"source: {sources}", metrics=metrics,
                              data={"users": len(snap.users), "over_warn": len(over), "source": sources}))
    quota_errors = [e for e in snap.errors if "doveadm" in e or "maildirsize" in e or "does not exist" in e]
    if len(quota_errors) > 12:
        quota_errors = quota_errors[:12] + [f"... and {len(quota_errors) - 12} more"]
    if not snap.doveadm_ok:
        status = Status.WARNING if snap.users else Status.UNKNOWN
        summary = ("per-user quota read from maildirsize files only" if snap.users
                   else "no per-user quota data: doveadm failed and no readable maildirsize files")
        out.append(Finding("quota.source", status, summary, details="\n".join(quota_errors),
                           hint="run mailtop as root (doveadm needs root or the mail user), set [dovecot] doveadm, "
                           "or set [mailstore] paths to the maildir roots"))
    elif quota_errors:
        out.append(Finding("quota.source", Status.WARNING, "some quota files could not be read",
                           details="\n".join(quota_errors), hint="check the files named in the details"))
    return out


def storage_findings_from(snap: QuotaSnapshot, warn: float, crit: float) -> list[Finding]:
    out = []
    if not snap.paths:
        return [Finding("storage", Status.UNKNOWN, "no mail store configured",
                        hint="set [mailstore] paths to the folders that hold the mailboxes")]
    for fs in snap.filesystems:
        slug = _slug(fs.mountpoint)
        for kind, pct, text in (
            ("space", fs.percent, f"{_size(fs.used_bytes)} used, {_size(fs.free_bytes)} free of {_size(fs.total_bytes)}"),
            ("inodes", fs.inodes_percent, f"{fs.inodes_used} of {fs.inodes_total} inodes used"),
        ):
            fid = f"storage.{kind}.{slug}"
            if pct is None:
                out.append(Finding(fid, Status.OK, f"{fs.mountpoint}: no fixed inode limit", details=text))
                continue
            status = Status.CRITICAL if pct >= crit else Status.WARNING if pct >= warn else Status.OK
            out.append(Finding(
                fid, status, f"mail store {fs.mountpoint}: {kind} {pct:.0f} % used",
                details=f"{text} (mail store {fs.path})",
                hint="" if status is Status.OK else "free space: expunge old mail, grow the filesystem, or move "
                "mailboxes; a full disk defers all incoming mail",
                metrics=(Metric(fid, round(pct, 1), "%", warn, crit, 0, 100),),
                data={"path": fs.path, "mountpoint": fs.mountpoint, "percent": round(pct, 2)},
            ))
    fs_errors = [e for e in snap.errors if e.startswith("mail store")]
    for e in fs_errors:
        out.append(Finding("storage.error", Status.UNKNOWN, e, hint="check [mailstore] paths"))
    return out


async def quota_findings(cfg: Config) -> list[Finding]:
    from mailtop.checks import in_thread

    snap = await in_thread(collect_quota, cfg)
    return quota_findings_from(snap, cfg.thresholds.quota_warn, cfg.thresholds.quota_crit)


async def storage_findings(cfg: Config) -> list[Finding]:
    from mailtop.checks import in_thread

    errors: list[str] = []
    paths = [Path(p) for p in cfg.mailstore.paths]
    fs = await in_thread(filesystem_usage, paths, errors)
    snap = QuotaSnapshot(time.time(), (), tuple(fs), tuple(errors), paths=tuple(str(p) for p in paths))
    return storage_findings_from(snap, cfg.thresholds.disk_warn, cfg.thresholds.disk_crit)
