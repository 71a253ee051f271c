"""Quota and storage against the lab: doveadm and maildirsize, a missing doveadm, thresholds, space."""

from __future__ import annotations

import dataclasses
import time

from mailtop.checks import run_checks
from mailtop.health.quota import collect_quota
from mailtop.model import Status


def with_(cfg, **sections):
    return dataclasses.replace(cfg, **{k: dataclasses.replace(getattr(cfg, k), **v) for k, v in sections.items()})


def test_collect_quota_snapshot_for_the_quota_panel(lab, lab_config):
    snap = collect_quota(lab_config)
    assert snap.doveadm_ok, snap.errors
    users = {u.user: u for u in snap.users}
    assert set(users) >= set(lab["users"])
    for name, info in lab["users"].items():
        u = users[name]
        assert u.source == "doveadm"
        assert u.limit_bytes == info["quota_kib"] * 1024
        assert u.maildir == info["maildir"]
    assert users["carol"].percent > 90
    assert snap.maildirsize_files >= 3
    (fs,) = snap.filesystems
    assert fs.total_bytes > 0 and 0 <= fs.percent <= 100 and fs.inodes_total > 0


async def test_carol_near_her_quota_is_a_warning(lab_config):
    run = await run_checks(lab_config, only="quota")
    by = {f.id: f for f in run.findings}
    assert by["quota.user.carol"].status is Status.WARNING
    assert by["quota.user.carol"].data["source"] == "doveadm"
    assert by["quota.users"].status is Status.OK
    assert "quota.source" not in by
    cfg = with_(lab_config, thresholds={"quota_warn": 50.0, "quota_crit": 90.0})
    (f,) = [f for f in (await run_checks(cfg, only="quota")).findings if f.id == "quota.user.carol"]
    assert f.status is Status.CRITICAL


async def test_a_missing_doveadm_falls_back_to_maildirsize_within_the_timeout(lab_config, tmp_path):
    cfg = with_(lab_config, dovecot={"doveadm": str(tmp_path / "bin" / "doveadm")})
    t0 = time.perf_counter()
    run = await run_checks(cfg, only="quota")
    assert time.perf_counter() - t0 < lab_config.general.timeout
    by = {f.id: f for f in run.findings}
    assert by["quota.source"].status is Status.WARNING
    assert "doveadm not found" in by["quota.source"].details
    assert by["quota.user.carol"].status is Status.WARNING
    assert by["quota.user.carol"].data["source"] == "maildirsize"


async def test_no_doveadm_and_no_mail_store_is_unknown(lab_config, tmp_path):
    cfg = with_(lab_config, dovecot={"doveadm": str(tmp_path / "doveadm")}, mailstore={"paths": [tmp_path / "no"]})
    run = await run_checks(cfg, only="quota,storage")
    by = {f.id: f for f in run.findings}
    assert by["quota.source"].status is Status.UNKNOWN
    assert by["storage.error"].status is Status.UNKNOWN
    assert run.status is Status.UNKNOWN


async def test_storage_space_and_inodes_against_thresholds(lab_config):
    run = await run_checks(lab_config, only="storage")
    kinds = sorted(f.id.split(".")[1] for f in run.findings)
    assert kinds == ["inodes", "space"]
    cfg = with_(lab_config, thresholds={"disk_warn": 0.0, "disk_crit": 100.0})
    run = await run_checks(cfg, only="storage.space")
    (f,) = run.findings
    assert f.status is Status.WARNING and f.metrics[0].uom == "%"
