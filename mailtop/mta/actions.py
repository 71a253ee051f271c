"""Queue actions (the change side), kept apart from the read side as Postfix keeps ``postsuper``
apart from ``postqueue``.

    from mailtop.mta.actions import QueueActions
    acts = QueueActions(cfg)
    ok, why = acts.available("hold")          # False, "postsuper needs root ..." when not allowed
    plan = acts.plan("hold", ids)             # the exact argv (+ the IDs fed on stdin) before running
    res = acts.hold(ids, dry_run=False)       # ActionResult: done / missing per ID, argv, result
    ids = acts.select_ids(domain="example.com", reason="connect to *: Connection refused")
    res = acts.delete(ids)

Every action:

* validates queue IDs first (short hex IDs and the long IDs of ``enable_long_queue_ids``);
  ``InvalidQueueId`` names the bad ones and nothing runs;
* runs programs by argument list, never a shell; ``postsuper`` gets the IDs on stdin (``-``), one
  per line, so a group of 100,000 needs one process and no long command line;
* with ``dry_run=True`` runs nothing and returns the plan (``ActionResult.command`` is the exact
  command line, ``stdin`` the IDs it would feed);
* reports per ID: an ID that left the queue (or is not in a state the action applies to, e.g.
  releasing a message that is not on hold) is listed in ``missing``; the rest are still done;
* appends one line to the audit log (``[general] audit_log``): time, user, action, argv, IDs,
  result (``ok``, ``partial``, ``failed``, ``dry-run``, ``refused``). When the audit log cannot be
  written the action is refused;
* is refused (``result == "refused"``) in read-only mode and when the program or the privilege
  is missing (``postsuper`` needs root), with the reason.

``requeue`` wakes pickup (``postkick DIR public pickup W``) so the new queue IDs appear at once;
when the Postfix log is readable the new IDs are reported in ``ActionResult.new_ids``.
"""

from __future__ import annotations

import glob
import os
import re
import shlex
import subprocess
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mailtop.mta.postfix import PostfixQueue, QueueError, find_program
from mailtop.ops.audit import append_audit
from mailtop.queueid import is_queue_id

_DOMAIN = re.compile(r"(?=.{1,253}$)(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_](?:[A-Za-z0-9_\-]{0,62})(?:\.[A-Za-z0-9_](?:[A-Za-z0-9_\-]{0,62}))*\.?)")

POSTSUPER_ACTIONS = {
    # action -> (postsuper flag, word postsuper prints per ID, word of the total line)
    "hold": ("-h", "placed on hold", "Placed on hold"),
    "release": ("-H", "released from hold", "Released from hold"),
    "requeue": ("-r", "requeued", "Requeued"),
    "delete": ("-d", "removed", "Deleted"),
}
ACTIONS = ("flush", "flush_site", "deliver", *POSTSUPER_ACTIONS)


class InvalidQueueId(ValueError):
    """One or more strings are not Postfix queue IDs; ``bad`` lists them."""

    def __init__(self, bad: Sequence[str]) -> None:
        self.bad = tuple(bad)
        shown = ", ".join(repr(b) for b in self.bad[:5]) + (" ..." if len(self.bad) > 5 else "")
        super().__init__(f"not a Postfix queue ID: {shown}")


def validate_queue_ids(ids: Iterable[str]) -> list[str]:
    """The IDs, stripped of a trailing mailq status mark (``*``, ``!``, ``#``) and de-duplicated in order;
    raises ``InvalidQueueId`` naming every bad one."""
    out: dict[str, None] = {}
    bad: list[str] = []
    for raw in ids:
        qid = raw.strip().rstrip("*!#")
        if is_queue_id(qid):
            out.setdefault(qid, None)
        else:
            bad.append(raw)
    if bad:
        raise InvalidQueueId(bad)
    return list(out)


def validate_site(site: str) -> str:
    site = site.strip()
    if not _DOMAIN.fullmatch(site) or site.startswith("-"):
        raise ValueError(f"not a domain name: {site!r}")
    return site


def command_text(argv: tuple[str, ...], stdin: str = "", followup: tuple[tuple[str, ...], ...] = ()) -> str:
    """A command line quoted for a shell (for display; it never runs through one), with the number of
    queue IDs fed on stdin and the commands that follow it."""
    text = shlex.join(argv)
    if stdin:
        n = stdin.count("\n")
        text += f"  < {n} queue ID{'s' if n != 1 else ''} on stdin"
    for extra in followup:
        text += f" && {shlex.join(extra)}"
    return text


@dataclass(frozen=True, slots=True)
class ActionResult:
    action: str
    argv: tuple[str, ...]
    targets: tuple[str, ...] = ()
    """The IDs asked for (or the site for flush_site)."""
    done: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    """IDs the program did not act on: gone since the listing, or not in a state the action applies to."""
    result: str = "ok"
    """ok, partial, failed, dry-run, refused."""
    message: str = ""
    stdin: str = ""
    """What is (or would be) fed on stdin: the IDs, one per line."""
    followup: tuple[tuple[str, ...], ...] = ()
    """Commands run after the main one (requeue: postkick to wake pickup)."""
    returncode: int | None = None
    new_ids: dict[str, str] = field(default_factory=dict)
    """requeue: old ID -> new ID, when the log showed it."""

    @property
    def ok(self) -> bool:
        return self.result in ("ok", "dry-run")

    @property
    def dry_run(self) -> bool:
        return self.result == "dry-run"

    @property
    def command(self) -> str:
        """The exact command line, quoted for a shell (for display; it never runs through one)."""
        return command_text(self.argv, self.stdin, self.followup)


@dataclass(frozen=True, slots=True)
class Plan:
    action: str
    argv: tuple[str, ...]
    stdin: str = ""
    targets: tuple[str, ...] = ()
    followup: tuple[tuple[str, ...], ...] = ()

    @property
    def command(self) -> str:
        """The exact command line that will run, quoted for a shell (for display and confirmation)."""
        return command_text(self.argv, self.stdin, self.followup)


class QueueActions:
    """Postfix queue actions for one instance (``cfg.postfix.config_dir``)."""

    def __init__(self, cfg: Any, *, reader: PostfixQueue | None = None, timeout: float = 600.0) -> None:
        self.cfg = cfg
        self.config_dir = Path(cfg.postfix.config_dir)
        self.bin_dir = Path(cfg.postfix.bin_dir)
        self.audit_log = Path(cfg.general.audit_log).expanduser()
        self.read_only = bool(cfg.general.read_only)
        self.reader = reader or PostfixQueue.from_config(cfg)
        self.timeout = timeout
        self._log_files = [Path(p) for p in getattr(cfg.logs, "files", [])]

    # ------------------------------------------------------------------ permissions

    def available(self, action: str) -> tuple[bool, str]:
        """Whether ``action`` can run here, and why not."""
        if action not in ACTIONS:
            return False, f"unknown action {action!r} (one of {', '.join(ACTIONS)})"
        if self.read_only:
            return False, "read-only mode ([general] read_only or --read-only)"
        prog = "postsuper" if action in POSTSUPER_ACTIONS else "postqueue"
        if find_program(prog, self.bin_dir) is None:
            return False, f"{prog} not found in {self.bin_dir} or on PATH"
        if prog == "postsuper" and os.geteuid() != 0:
            return False, "postsuper needs root (hold, release, requeue and delete change queue files)"
        return True, ""

    # ------------------------------------------------------------------ planning

    def _cfg_args(self) -> list[str]:
        return self.reader._config_args()

    def plan(self, action: str, ids: Iterable[str] = (), site: str = "") -> Plan:
        """The exact commands an action will run. Validates its arguments (``InvalidQueueId``, ValueError)."""
        if action in POSTSUPER_ACTIONS:
            qids = validate_queue_ids(ids)
            if not qids:
                raise ValueError(f"{action}: no queue IDs given")
            flag = POSTSUPER_ACTIONS[action][0]
            argv = (self._prog("postsuper"), *self._cfg_args(), flag, "-")
            followup: tuple[tuple[str, ...], ...] = ()
            if action == "requeue":
                followup = ((self._prog("postkick"), *self._kick_dir(), "public", "pickup", "W"),)
            return Plan(action, argv, "".join(q + "\n" for q in qids), tuple(qids), followup)
        if action == "deliver":
            qids = validate_queue_ids(ids)
            if len(qids) != 1:
                raise ValueError("deliver: exactly one queue ID (postqueue -i)")
            return Plan(action, (self._prog("postqueue"), *self._cfg_args(), "-i", qids[0]), "", tuple(qids))
        if action == "flush":
            return Plan(action, (self._prog("postqueue"), *self._cfg_args(), "-f"))
        if action == "flush_site":
            s = validate_site(site)
            return Plan(action, (self._prog("postqueue"), *self._cfg_args(), "-s", s), "", (s,))
        raise ValueError(f"unknown action {action!r} (one of {', '.join(ACTIONS)})")

    def _prog(self, name: str) -> str:
        return find_program(name, self.bin_dir) or str(self.bin_dir / name)

    def _kick_dir(self) -> list[str]:
        # postkick -c DIR class service request
        return ["-c", str(self.config_dir)] if self._cfg_args() else []

    # ------------------------------------------------------------------ the actions

    def hold(self, ids: Iterable[str], dry_run: bool = False) -> ActionResult:
        return self.run("hold", ids, dry_run=dry_run)

    def release(self, ids: Iterable[str], dry_run: bool = False) -> ActionResult:
        return self.run("release", ids, dry_run=dry_run)

    def requeue(self, ids: Iterable[str], dry_run: bool = False) -> ActionResult:
        return self.run("requeue", ids, dry_run=dry_run)

    def delete(self, ids: Iterable[str], dry_run: bool = False) -> ActionResult:
        return self.run("delete", ids, dry_run=dry_run)

    def deliver(self, queue_id: str, dry_run: bool = False) -> ActionResult:
        return self.run("deliver", [queue_id], dry_run=dry_run)

    def flush(self, dry_run: bool = False) -> ActionResult:
        return self.run("flush", dry_run=dry_run)

    def flush_site(self, site: str, dry_run: bool = False) -> ActionResult:
        return self.run("flush_site", site=site, dry_run=dry_run)

    def select_ids(
        self,
        *,
        domain: str | None = None,
        reason: str | None = None,
        queue: str | None = None,
    ) -> list[str]:
        """IDs of the messages in a summary group, read afresh: a recipient for ``domain`` (qshape's
        domain) whose delay reason groups to ``reason`` (``mailtop.mta.summary.group_reason``), in
        ``queue``. None matches anything. Raises ``QueueError``."""
        from mailtop.mta.summary import group_reason

        dom = domain.lower() if domain else None
        out: list[str] = []
        for e in self.reader.iter_entries():
            if queue is not None and e.queue != queue:
                continue
            for r in e.recipients:
                if dom is not None and r.domain != dom:
                    continue
                if reason is not None and group_reason(r.reason) != reason:
                    continue
                out.append(e.queue_id)
                break
        return out

    def run(self, action: str, ids: Iterable[str] = (), *, site: str = "", dry_run: bool = False) -> ActionResult:
        """Run one action (see the module docstring). Raises only for invalid arguments."""
        plan = self.plan(action, ids, site)
        if dry_run:
            res = ActionResult(action, plan.argv, plan.targets, result="dry-run", stdin=plan.stdin,
                               followup=plan.followup, message="dry run: nothing was changed")
            return self._audited(res)
        ok, why = self.available(action)
        if not ok:
            res = ActionResult(action, plan.argv, plan.targets, result="refused", stdin=plan.stdin,
                               followup=plan.followup, message=why)
            return self._audited(res)
        try:  # no trace, no action
            self.audit_log.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.audit_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
        except OSError as exc:
            return ActionResult(action, plan.argv, plan.targets, result="refused", stdin=plan.stdin,
                                message=f"audit log {self.audit_log} is not writable: {exc.strerror}")
        if action in POSTSUPER_ACTIONS:
            res = self._postsuper(plan)
        elif action == "deliver":
            res = self._deliver(plan)
        else:
            res = self._postqueue(plan)
        return self._audited(res)

    # ------------------------------------------------------------------ runners

    def _exec(self, argv: Sequence[str], stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run(list(argv), input=stdin, capture_output=True, text=True, timeout=self.timeout,
                              check=False)

    def _postsuper(self, plan: Plan) -> ActionResult:
        _, per_id_word, total_word = POSTSUPER_ACTIONS[plan.action]
        log_mark = self._log_mark() if plan.action == "requeue" else None
        try:
            proc = self._exec(plan.argv, plan.stdin)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return ActionResult(plan.action, plan.argv, plan.targets, result="failed", stdin=plan.stdin,
                                message=f"could not run postsuper: {exc}")
        per_id = re.compile(rf"^postsuper: ([0-9A-Za-z]+): {re.escape(per_id_word)}\s*$", re.M)
        total_re = re.compile(rf"^postsuper: {re.escape(total_word)}: (\d+) messages?\s*$", re.M)
        done_set = set(per_id.findall(proc.stderr))
        total_m = total_re.search(proc.stderr)
        total = int(total_m.group(1)) if total_m else None
        if not done_set and total is not None and total == len(plan.targets):
            done_set = set(plan.targets)  # postsuper logged only the total: all were done
        done = tuple(q for q in plan.targets if q in done_set)
        missing = tuple(q for q in plan.targets if q not in done_set)
        other = "\n".join(
            ln for ln in proc.stderr.splitlines() if not per_id.match(ln) and not total_re.match(ln)
        ).strip()
        followup: tuple[tuple[str, ...], ...] = ()
        new_ids: dict[str, str] = {}
        if proc.returncode == 0 and plan.action == "requeue" and done:
            for extra in plan.followup:
                try:
                    kp = self._exec(extra)
                    if kp.returncode != 0:
                        other = (other + "\n" + kp.stderr.strip()).strip()
                except (OSError, subprocess.TimeoutExpired) as exc:
                    other = (other + f"\ncould not wake pickup: {exc}").strip()
                followup += (extra,)
            new_ids = self._find_new_ids(log_mark, set(done))
        if proc.returncode != 0:
            result = "failed"
        elif missing and done:
            result = "partial"
        elif missing:
            result = "failed"
        else:
            result = "ok"
        msg = f"{per_id_word}: {len(done)} of {len(plan.targets)}"
        if missing:
            msg += f"; {len(missing)} not in the queue any more (or not in a state '{plan.action}' applies to)"
        if other:
            msg += f"; postsuper: {other}"
        return ActionResult(plan.action, plan.argv, plan.targets, done, missing, result, msg, plan.stdin,
                            followup, proc.returncode, new_ids)

    def _deliver(self, plan: Plan) -> ActionResult:
        qid = plan.targets[0]
        present = self._exists(qid)
        if present is False:
            return ActionResult(plan.action, plan.argv, plan.targets, (), (qid,), "failed",
                                f"{qid} is not in the queue any more", returncode=None)
        res = self._postqueue(plan)
        if res.result == "ok":
            return ActionResult(plan.action, plan.argv, plan.targets, (qid,), (), "ok",
                                f"{qid}: delivery attempt scheduled", returncode=res.returncode)
        return res

    def _postqueue(self, plan: Plan) -> ActionResult:
        try:
            proc = self._exec(plan.argv)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return ActionResult(plan.action, plan.argv, plan.targets, result="failed", message=f"could not run: {exc}")
        err = (proc.stderr or "").strip()
        if proc.returncode == 0:
            what = {"flush": "deferred mail scheduled for delivery now",
                    "flush_site": f"mail for {plan.targets[0] if plan.targets else ''} scheduled for delivery now"}
            return ActionResult(plan.action, plan.argv, plan.targets, plan.targets, (), "ok",
                                what.get(plan.action, "done") + (f"; {err}" if err else ""), returncode=0)
        hint = ""
        if "flush service is not configured" in err.lower():
            hint = (" (postqueue -s needs the domain in fast_flush_domains; to retry one destination without it, "
                    "requeue or deliver its messages: mailtop queue requeue --domain DOMAIN)")
        return ActionResult(plan.action, plan.argv, plan.targets, (), (), "failed", (err or "failed") + hint,
                            returncode=proc.returncode)

    # ------------------------------------------------------------------ helpers

    def _exists(self, qid: str) -> bool | None:
        """Whether a queue file for ``qid`` exists; None when the queue folder cannot be read."""
        qdir = self.reader.queue_directory()
        if qdir is None or not os.access(qdir, os.R_OK | os.X_OK):
            return None
        try:
            for q in ("incoming", "active", "deferred", "hold", "maildrop"):
                base = qdir / q
                if (base / qid).exists():
                    return True
                if glob.glob(str(base / "*" / qid)) or glob.glob(str(base / "*" / "*" / qid)):
                    return True
        except PermissionError:
            return None
        return False

    def _log_file(self) -> Path | None:
        for p in self._log_files:
            if p.name.startswith("postfix") or "mail" in p.name:
                return p
        return None

    def _log_mark(self) -> tuple[Path, int] | None:
        p = self._log_file()
        if p is None:
            return None
        try:
            return p, p.stat().st_size
        except OSError:
            return None

    def _find_new_ids(self, mark: tuple[Path, int] | None, old: set[str], wait: float = 2.0) -> dict[str, str]:
        """pickup logs ``NEWID: uid=... from=<...> orig_id=OLDID`` for a requeued message."""
        if mark is None:
            return {}
        path, offset = mark
        found: dict[str, str] = {}
        pat = re.compile(rb": ([0-9A-Za-z]+): uid=\d+ from=<[^>]*> orig_id=([0-9A-Za-z]+)")
        deadline = time.monotonic() + wait
        while True:
            try:
                with path.open("rb") as fh:
                    fh.seek(offset)
                    data = fh.read(8 << 20)
            except OSError:
                return found
            for m in pat.finditer(data):
                o = m.group(2).decode()
                if o in old:
                    found[o] = m.group(1).decode()
            if len(found) >= len(old) or time.monotonic() > deadline:
                return found
            time.sleep(0.05)

    def _audited(self, res: ActionResult) -> ActionResult:
        try:
            append_audit(self.audit_log, res.action, res.argv, res.targets, res.result, res.message)
        except OSError as exc:
            return ActionResult(res.action, res.argv, res.targets, res.done, res.missing, res.result,
                                res.message + f" (WARNING: audit log {self.audit_log} not written: {exc.strerror})",
                                res.stdin, res.followup, res.returncode, res.new_ids)
        return res


__all__ = [
    "ACTIONS", "ActionResult", "InvalidQueueId", "Plan", "QueueActions", "QueueError", "is_queue_id",
    "validate_queue_ids", "validate_site",
]
