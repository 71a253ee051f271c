"""Quota parsers and judgement on output captured from the lab (tests/data/quota/README.md)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mailtop.health.quota import (
    FsUsage,
    QuotaSnapshot,
    UserQuota,
    find_maildirsize,
    parse_doveadm_quota,
    parse_maildirsize,
    quota_findings_from,
    storage_findings_from,
    user_for,
)
from mailtop.model import Status

DATA = Path(__file__).resolve().parents[1] / "data" / "quota"


def test_maildirsize_from_the_lab():
    assert parse_maildirsize((DATA / "maildirsize.carol").read_text()) == (1048576, None, 590 + 963091, 2)
    assert parse_maildirsize((DATA / "maildirsize.alice").read_text()) == (52428800, None, 590, 1)


def test_maildirsize_variants_and_garbage():
    assert parse_maildirsize("1000S,10C\n100 1\n-50 -1\n") == (1000, 10, 50, 0)
    assert parse_maildirsize("0S\n5 1\n") == (None, None, 5, 1)  # 0 = unlimited
    with pytest.raises(ValueError, match="bad quota definition"):
        parse_maildirsize("lots\n")
    with pytest.raises(ValueError, match="line 2"):
        parse_maildirsize("100S\nnot numbers\n")
    with pytest.raises(ValueError):
        parse_maildirsize("")


def test_doveadm_json_from_the_lab():
    users = {u.user: u for u in parse_doveadm_quota((DATA / "doveadm-quota-get-A.json").read_text())}
    assert sorted(users) == ["alice", "bob", "carol", "probe"]
    carol = users["carol"]
    assert carol.used_bytes == 942 * 1024 and carol.limit_bytes == 1024 * 1024
    assert carol.messages == 2 and carol.message_limit is None  # "-": no message limit
    assert 91 < carol.percent < 92.1
    assert users["alice"].limit_bytes == 51200 * 1024


def test_finding_maildirs_and_naming_users(tmp_path):
    for rel in ("carol/Maildir", "lab.test/dave", "alice/Maildir"):
        d = tmp_path / rel
        (d / "cur").mkdir(parents=True)
        shutil.copyfile(DATA / "maildirsize.alice", d / "maildirsize")
    # a maildir++ subfolder's own file must not count as another user
    (tmp_path / "alice/Maildir/.Sent").mkdir()
    (tmp_path / "alice/Maildir/.Sent/maildirsize").write_text("1S\n")
    found = find_maildirsize(tmp_path)
    assert [user_for(f.parent, tmp_path) for f in found] == ["alice", "carol", "dave@lab.test"]


def _snap(users, fs=(), errors=(), doveadm_ok=True, paths=("/srv/mail",)):
    return QuotaSnapshot(0.0, tuple(users), tuple(fs), tuple(errors), doveadm_ok, 0, tuple(paths))


def test_quota_judgement_warn_90_crit_98():
    users = [
        UserQuota("ann", 50, 100, 1, None, "doveadm"),
        UserQuota("bea", 91, 100, 1, None, "doveadm"),
        UserQuota("cid", 99, 100, 1, None, "doveadm"),
        UserQuota("dan", 5, None, 99, 100, "doveadm"),  # message limit counts too
        UserQuota("eve", 10**9, None, 1, None, "doveadm"),  # no limit: never judged
    ]
    by = {f.id: f for f in quota_findings_from(_snap(users), 90, 98)}
    assert by["quota.user.bea"].status is Status.WARNING
    assert by["quota.user.cid"].status is Status.CRITICAL
    assert by["quota.user.dan"].status is Status.CRITICAL
    assert "quota.user.ann" not in by and "quota.user.eve" not in by
    assert by["quota.users"].status is Status.OK and "3 at or over 90 %" in by["quota.users"].summary
    assert by["quota.user.cid"].metrics[0].crit == 98


def test_quota_without_doveadm_says_so():
    users = [UserQuota("carol", 95, 100, 1, None, "maildirsize")]
    by = {f.id: f for f in quota_findings_from(_snap(users, errors=["doveadm not found (x)"], doveadm_ok=False),
                                               90, 98)}
    assert by["quota.source"].status is Status.WARNING and "maildirsize files only" in by["quota.source"].summary
    assert by["quota.user.carol"].status is Status.WARNING
    nothing = quota_findings_from(_snap([], errors=["doveadm not found (x)"], doveadm_ok=False), 90, 98)
    assert [(f.id, f.status) for f in nothing] == [("quota.source", Status.UNKNOWN)]


def test_storage_judgement():
    fs = FsUsage("/srv/mail", "/srv", 100, 90, 10, 90.0, 1000, 960, 96.0)
    by = {f.id: f for f in storage_findings_from(_snap([], fs=[fs]), 85, 95)}
    assert by["storage.space.srv"].status is Status.WARNING
    assert by["storage.inodes.srv"].status is Status.CRITICAL
    assert storage_findings_from(_snap([], paths=()), 85, 95)[0].status is Status.UNKNOWN
