"""The check registry's runner: concurrency, timeouts, errors, prerequisites, order, selection.

The checks here are small async functions written for the test; they stand for any check and talk to
nothing, so the runner's rules are tested on their own (the real checks are tested against the lab).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
import time

import pytest

from mailtop.checks import Check, Selection, id_matches, import_optional, in_thread, registry, run_checks
from mailtop.config import Config
from mailtop.model import Finding, Status

CFG = Config()


def ok(fid: str, delay: float = 0.0, status: Status = Status.OK):
    async def run(cfg):
        await asyncio.sleep(delay)
        return [Finding(fid, status, f"{fid} says {status.name}")]

    return run


async def boom(cfg):
    raise RuntimeError("disk on fire")


async def test_checks_run_concurrently_and_report_in_registry_order_not_finish_order():
    # Each check waits until every other one has started: run one after the other, the first would wait
    # for ever (its timeout makes it UNKNOWN). "a" also waits for "b" and "c" to finish: it finishes last.
    started = {n: asyncio.Event() for n in "abc"}
    finished = {n: asyncio.Event() for n in "abc"}
    order: list[str] = []

    def together(fid: str, after: tuple[str, ...] = ()):
        async def run(cfg):
            started[fid].set()
            await asyncio.gather(*(e.wait() for n, e in started.items() if n != fid))
            await asyncio.gather(*(finished[n].wait() for n in after))
            order.append(fid)
            finished[fid].set()
            return [Finding(fid, Status.OK, f"{fid} ran beside the others")]

        return run

    checks = [
        Check("a", "A", together("a", after=("b", "c")), timeout=5),
        Check("b", "B", together("b"), timeout=5),
        Check("c", "C", together("c"), timeout=5),
    ]
    run = await run_checks(CFG, checks=checks)
    assert [f.status for f in run.findings] == [Status.OK] * 3, run.findings  # all three were running at once
    assert order[-1] == "a"
    assert [f.id for f in run.findings] == ["a", "b", "c"]
    assert run.slowest().check == "a"  # started first, finished last


async def test_a_raising_check_becomes_unknown_and_the_others_still_run():
    checks = [Check("a", "A", boom, timeout=2), Check("b", "B", ok("b"), timeout=2)]
    run = await run_checks(CFG, checks=checks)
    a, b = run.findings
    assert a.id == "a" and a.status is Status.UNKNOWN
    assert "RuntimeError: disk on fire" in a.summary
    assert run.results[0].state == "error"
    assert b.status is Status.OK
    assert run.status is Status.UNKNOWN


async def test_a_check_over_its_timeout_becomes_unknown_within_the_timeout():
    checks = [Check("slow", "Slow thing", ok("slow", 30), timeout=0.2), Check("fast", "F", ok("fast"), timeout=2)]
    t0 = time.perf_counter()
    run = await run_checks(CFG, checks=checks)
    assert time.perf_counter() - t0 < 0.2 + 2  # the 0.2 s timeout, not the check's 30 s (a generous margin)
    slow = run.findings[0]
    assert slow.status is Status.UNKNOWN and "no result within 0.2 s" in slow.summary
    assert run.results[0].state == "timeout"
    assert run.findings[1].status is Status.OK


async def test_a_down_prerequisite_skips_dependants_instead_of_waiting_for_them():
    ran: list[str] = []

    def never(fid: str):
        async def run(cfg):
            ran.append(fid)
            await asyncio.sleep(30)
            return [Finding(fid, Status.OK, "ran")]

        return run

    checks = [
        Check("system.postfix", "Postfix", ok("system.postfix", 0.0, Status.CRITICAL), timeout=2),
        Check("queue", "queue", never("queue"), timeout=20, depends=("system.postfix",)),
        Check("relay", "relay", never("relay"), timeout=20, depends=("system.postfix",)),
        Check("log", "log", ok("log"), timeout=2),
    ]
    run = await run_checks(CFG, checks=checks)
    assert ran == []  # skipped: never started (so never waited for)
    assert [r.state for r in run.results if r.check in ("queue", "relay")] == ["skipped", "skipped"]
    by = {f.id: f for f in run.findings}
    for dep in ("queue", "relay"):
        assert by[dep].status is Status.UNKNOWN
        assert by[dep].summary == "skipped: Postfix (system.postfix) is down"
        assert by[dep].data["skipped_because"] == ["system.postfix"]
    assert by["log"].status is Status.OK
    assert run.status is Status.CRITICAL


async def test_a_prerequisite_that_times_out_or_raises_is_down_too():
    checks = [
        Check("p1", "P1", ok("p1", 30), timeout=0.1),
        Check("p2", "P2", boom, timeout=2),
        Check("d1", "D1", ok("d1"), timeout=2, depends=("p1",)),
        Check("d2", "D2", ok("d2"), timeout=2, depends=("p2",)),
    ]
    run = await run_checks(CFG, checks=checks)
    by = {f.id: f for f in run.findings}
    assert by["d1"].summary.startswith("skipped: P1 (p1)")
    assert by["d2"].summary.startswith("skipped: P2 (p2)")


async def test_a_warning_prerequisite_is_not_down():
    checks = [
        Check("p", "P", ok("p", 0, Status.WARNING), timeout=2),
        Check("d", "D", ok("d"), timeout=2, depends=("p",)),
    ]
    run = await run_checks(CFG, checks=checks)
    assert [f.status for f in run.findings] == [Status.WARNING, Status.OK]


async def test_finding_ids_are_kept_below_their_check():
    async def stray(cfg):
        return [Finding("mx.lab.test", Status.OK, "x"), Finding("dns.spf", Status.OK, "y")]

    run = await run_checks(CFG, checks=[Check("dns", "DNS", stray, timeout=2)])
    assert [f.id for f in run.findings] == ["dns.mx.lab.test", "dns.spf"]


async def test_a_check_returning_something_else_is_reported_as_an_error():
    async def wrong(cfg):
        return ["not a finding"]

    run = await run_checks(CFG, checks=[Check("w", "W", wrong, timeout=2)])
    assert run.findings[0].status is Status.UNKNOWN
    assert "not Finding" in run.findings[0].summary


def test_id_matching_is_by_dotted_prefix():
    assert id_matches("tls.smtp", "tls")
    assert id_matches("tls.smtp", "tls.smtp")
    assert not id_matches("tls.smtps", "tls.smtp")
    assert not id_matches("tlsx", "tls")
    sel = Selection(only=("dns.mx",), skip=())
    assert sel.check_selected("dns")  # the filter is below the check: run it, filter its findings
    assert sel.finding_selected("dns.mx.lab.test")
    assert not sel.finding_selected("dns.spf.lab.test")
    assert not Selection(skip=("tls",)).check_selected("tls.imaps")


async def test_only_runs_prerequisites_silently_and_skip_drops_them():
    calls = []

    def rec(fid, status=Status.OK):
        async def run(cfg):
            calls.append(fid)
            return [Finding(fid, status, fid)]

        return run

    checks = [
        Check("system.postfix", "Postfix", rec("system.postfix"), timeout=2),
        Check("tls.smtp", "TLS", rec("tls.smtp"), timeout=2, depends=("system.postfix",)),
        Check("tls.smtps", "TLS", rec("tls.smtps"), timeout=2, depends=("system.postfix",)),
        Check("quota", "Q", rec("quota"), timeout=2),
    ]
    run = await run_checks(CFG, only="tls.smtp", checks=checks)
    assert [f.id for f in run.findings] == ["tls.smtp"]
    assert sorted(calls) == ["system.postfix", "tls.smtp"]
    calls.clear()
    run = await run_checks(CFG, skip="system.postfix,quota", checks=checks)
    assert [f.id for f in run.findings] == ["tls.smtp", "tls.smtps"]
    assert "system.postfix" not in calls and "quota" not in calls


async def test_only_with_an_unknown_id_is_an_unknown_finding_with_a_suggestion():
    checks = [Check("tls.smtp", "TLS", ok("tls.smtp"), timeout=2)]
    run = await run_checks(CFG, only="tsl", checks=checks)
    assert run.status is Status.UNKNOWN
    (note,) = run.findings
    assert note.id == "mailtop.selection"
    assert "did you mean 'tls'" in note.summary


async def test_in_thread_returns_and_raises():
    assert await in_thread(sum, [1, 2, 3]) == 6
    with pytest.raises(ZeroDivisionError):
        await in_thread(lambda: 1 / 0)


async def test_in_thread_does_not_hold_the_process_at_exit(tmp_path):
    # a check stuck in a blocking read times out, and the process still exits at once
    script = textwrap.dedent(
        """
        import asyncio, time
        from mailtop.checks import Check, in_thread, run_checks
        from mailtop.config import Config

        async def stuck(cfg):
            await in_thread(time.sleep, 60)
            return []

        run = asyncio.run(run_checks(Config(), checks=[Check("stuck", "Stuck", stuck, timeout=0.2)]))
        print(run.findings[0].status.name)
        """
    )
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    assert out.stdout.strip() == "UNKNOWN", out.stderr
    assert time.perf_counter() - t0 < 10


def test_import_optional_tells_a_missing_module_from_a_broken_one(tmp_path, monkeypatch):
    pkg = tmp_path / "mtfakepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "broken.py").write_text("import mt_no_such_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert import_optional("mtfakepkg.absent") is None
    assert import_optional("mt_no_such_package.x") is None
    with pytest.raises(ModuleNotFoundError):
        import_optional("mtfakepkg.broken")


def test_registry_ids_are_unique_and_ports_zero_are_not_offered():
    cfg = Config()
    ids = [c.id for c in registry(cfg)]
    assert len(ids) == len(set(ids))
    assert "tls.smtps" not in ids and "system.smtps" not in ids  # smtps_port = 0 by default
    for required in ("system.postfix", "system.dovecot", "dns.resolver", "dns", "relay", "queue", "logs",
                     "quota", "storage", "aliases", "tls.smtp", "tls.imaps", "system.pop3"):
        assert required in ids
    by = {c.id: c for c in registry(cfg)}
    assert by["tls.smtp"].depends == ("system.postfix",)
    assert by["tls.imaps"].depends == ("system.dovecot",)
    assert by["dns"].depends == ("dns.resolver",)
    assert by["tls.smtp"].refresh == cfg.refresh.tls
    # every dependency names a registered check
    assert all(d in by for c in by.values() for d in c.depends)


@pytest.mark.parametrize("module,check_id", [("mailtop.health.dns", "dns"), ("mailtop.health.relay", "relay")])
async def test_a_missing_dns_or_relay_module_is_unknown_not_built(monkeypatch, module, check_id):
    # None in sys.modules makes the import fail exactly like a missing module
    monkeypatch.setitem(sys.modules, module, None)
    run = await run_checks(Config(), only=check_id, skip="dns.resolver,system.postfix")
    (f,) = run.findings
    assert f.id == check_id and f.status is Status.UNKNOWN
    assert f.summary.endswith("not built")
    assert module in f.details


async def test_ids_runs_exactly_those_checks_with_their_prerequisites_silent():
    calls = []

    def rec(fid):
        async def run(cfg):
            calls.append(fid)
            return [Finding(fid, Status.OK, fid)]

        return run

    checks = [
        Check("dns.resolver", "resolver", rec("dns.resolver"), timeout=2),
        Check("dns", "DNS", rec("dns"), timeout=2, depends=("dns.resolver",)),
    ]
    run = await run_checks(CFG, ids=["dns"], checks=checks)
    assert [f.id for f in run.findings] == ["dns"]
    assert sorted(calls) == ["dns", "dns.resolver"]
    run = await run_checks(CFG, only="dns", checks=checks)
    assert [f.id for f in run.findings] == ["dns.resolver", "dns"]
