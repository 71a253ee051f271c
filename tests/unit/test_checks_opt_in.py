"""Checks that send real mail (the autoresponder probe) run only when asked for by name."""

from mailtop.checks import Check, registry, run_checks
from mailtop.config import load_config
from mailtop.model import Finding, Status

ran: list[str] = []


def _check(check_id: str, opt_in: bool = False) -> Check:
    async def func(cfg):
        ran.append(check_id)
        return [Finding(check_id, Status.OK, f"{check_id} ran")]

    return Check(check_id, check_id, func, timeout=5, opt_in=opt_in)


async def test_opt_in_check_is_left_out_of_a_plain_run_and_runs_when_named():
    cfg = load_config(None, environ={}, detect=False)
    checks = [_check("cheap"), _check("probe", opt_in=True)]
    ran.clear()
    run = await run_checks(cfg, checks=checks)
    assert ran == ["cheap"] and [f.id for f in run.findings] == ["cheap"]
    ran.clear()
    run = await run_checks(cfg, only="probe", checks=checks)
    assert ran == ["probe"] and [f.id for f in run.findings] == ["probe"]


def test_registry_offers_access_and_probe_only_when_configured():
    bare = load_config(None, environ={}, detect=False)
    assert not {"access", "probe"} & {c.id for c in registry(bare)}
    cfg = load_config(None, environ={"MAILTOP_PROBE__MAILBOX_USER": "probe", "MAILTOP_PROBE__TARGET": "echo@lab.test"},
                      detect=False)
    by_id = {c.id: c for c in registry(cfg)}
    assert not by_id["access"].opt_in
    assert by_id["probe"].opt_in and by_id["probe"].timeout > cfg.probe.timeout
