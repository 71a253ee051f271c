"""Aliases and virtual alias tables against the lab's real Postfix: save, rebuild, verify with postalias -q /
postmap -q, roll back a failing rebuild, SIGKILL during saves with the real rebuild.

Tests that change files work on a copy of the lab's Postfix config dir (main.cf rewritten to point at
the copy), except one that edits the lab's own aliases file through the lab's own config and puts it
back byte for byte.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mailtop.config import load_config
from mailtop.ops.aliases import (
    AliasFile,
    Directory,
    atomic_write,
    database_is_stale,
    plan_rebuild,
    save_with_config,
)

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.lab


def settle(*paths: Path) -> None:
    """Postfix waits (up to ~2 s) before reading main.cf or a texthash file changed within the last
    second, in case it is still being written: date the files we just wrote back by 10 s."""
    for p in paths:
        t = time.time() - 10
        os.utime(p, (t, t))


def query(key: str, table: str, config_dir: Path, prog: str = "postalias") -> str | None:
    out = subprocess.run([prog, "-c", str(config_dir), "-q", key, table], capture_output=True, text=True,
                         timeout=10)
    if out.returncode == 1:
        return None
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.fixture
def pf_copy(lab, tmp_path) -> Path:
    """A copy of the lab's Postfix config dir whose main.cf names the copied alias and virtual files."""
    src = Path(lab["postfix"]["config_dir"])
    dst = tmp_path / "postfix"
    shutil.copytree(src, dst)
    main = dst / "main.cf"
    main.write_text(main.read_text().replace(str(src) + "/", str(dst) + "/"))
    settle(main)
    return dst


def copy_config(lab, pf: Path, tmp_path: Path, **more):
    flags = {
        "postfix": {"config_dir": str(pf)},
        "aliases": {"path": str(pf / "aliases"), "virtual_path": str(pf / "virtual"), **more},
        "general": {"audit_log": str(tmp_path / "audit.log")},
    }
    return load_config(Path(lab["state_dir"]) / "mailtop.toml", environ={}, flags=flags, detect=False)


def cli(*args: str, lab) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mailtop", "--config", str(Path(lab["state_dir"]) / "mailtop.toml"),
                           *args], capture_output=True, text=True, timeout=60, cwd=REPO)


def test_the_lab_files_check_clean(lab):
    res = cli("aliases", "check", lab=lab)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.startswith("OK - ") and "0 error(s), 0 warning(s)" in res.stdout
    res = cli("aliases", "--virtual", "check", "--quiet", lab=lab)
    assert res.returncode == 0, res.stdout + res.stderr
    res = cli("aliases", "--json", "check", lab=lab)
    report = json.loads(res.stdout)
    assert report["errors"] == 0 and report["entries"] >= 8


def test_directory_from_the_lab_postfix(lab):
    d = Directory.from_postfix(Path(lab["postfix"]["config_dir"]))
    assert "lab.test" in d.virtual_mailbox_domains
    assert "localhost" in d.local_domains
    assert {"alice@lab.test", "bob@lab.test"} <= d.virtual_mailboxes
    assert "echo@lab.test" in d.virtual_aliases
    assert "postmaster" in d.local_aliases


def test_save_rebuilds_with_newaliases_and_postfix_sees_it(lab, pf_copy, tmp_path):
    cfg = copy_config(lab, pf_copy, tmp_path)
    af = AliasFile.load(cfg.aliases.path, directory=Directory.from_postfix(pf_copy))
    af.set("sales", ["bob@lab.test", "carol@lab.test"])
    af.add("newrole", ["alice@lab.test"])
    res = save_with_config(af, cfg)
    assert res.status == "saved", res
    assert res.rebuild is not None and Path(res.rebuild[0]).name == "newaliases"
    assert res.rebuild[1:] == ("-C", str(pf_copy))
    table = f"hash:{pf_copy}/aliases"
    assert query("newrole", table, pf_copy) == "alice@lab.test"
    assert query("sales", table, pf_copy) == "bob@lab.test, carol@lab.test"
    assert res.backup is not None and res.backup.read_text() == (Path(lab["postfix"]["aliases"])).read_text()
    rec = json.loads((tmp_path / "audit.log").read_text().splitlines()[-1])
    assert rec["action"] == "aliases.save" and rec["result"] == "ok" and rec["argv"] == list(res.rebuild)
    assert database_is_stale(pf_copy / "aliases", plan_rebuild(pf_copy / "aliases", "aliases", pf_copy)) is False


def test_postalias_is_used_when_alias_database_names_other_files_too(lab, pf_copy, tmp_path):
    main = pf_copy / "main.cf"
    (pf_copy / "other").write_text("other: root\n")
    subprocess.run(["postalias", "-c", str(pf_copy), f"hash:{pf_copy}/other"], check=True, timeout=10)
    main.write_text(main.read_text().replace(f"alias_database = hash:{pf_copy}/aliases",
                                             f"alias_database = hash:{pf_copy}/aliases, hash:{pf_copy}/other"))
    settle(main)
    cfg = copy_config(lab, pf_copy, tmp_path)
    af = AliasFile.load(cfg.aliases.path)
    af.add("onlyme", ["alice@lab.test"])
    res = save_with_config(af, cfg)
    assert res.status == "saved", res
    assert Path(res.rebuild[0]).name == "postalias" and res.rebuild[-1] == f"hash:{pf_copy}/aliases"
    assert query("onlyme", f"hash:{pf_copy}/aliases", pf_copy) == "alice@lab.test"


FSIZE_CHILD = r"""
import json, resource, sys
from pathlib import Path
from mailtop.config import load_config
from mailtop.ops.aliases import AliasFile, save_with_config
toml, pf, audit, limit = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
cfg = load_config(toml, environ={}, detect=False, flags={
    "postfix": {"config_dir": str(pf)}, "aliases": {"path": str(pf / "aliases")}, "general": {"audit_log": audit}})
af = AliasFile.load(pf / "aliases", check_files=False)
for i in range(20000):
    af.set(f"role{i:05d}", ["bob@lab.test"]) if i == 0 else None
af.set_text(af.render() + "".join(f"role{i:05d}: bob@lab.test\n" for i in range(1, 20000)))
# the database of 20,000 aliases will not fit under this limit, the text and the old database do:
# the same as a disk that fills up while newaliases writes
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
res = save_with_config(af, cfg)
print(json.dumps({"status": res.status, "message": res.message, "rollback_rebuilt": res.rollback_rebuilt,
                  "backup": str(res.backup)}))
"""


def test_a_rebuild_that_fails_puts_the_old_file_back_and_rebuilds_it(lab, pf_copy, tmp_path):
    old = (pf_copy / "aliases").read_bytes()
    toml = Path(lab["state_dir"]) / "mailtop.toml"
    out = subprocess.run([sys.executable, "-c", FSIZE_CHILD, str(toml), str(pf_copy), str(tmp_path / "audit.log"),
                          str(700_000)], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert out.returncode == 0, out.stderr
    res = json.loads(out.stdout)
    assert res["status"] == "rolled-back", res
    assert res["rollback_rebuilt"] is True
    assert "newaliases" in res["message"] and "previous aliases is back" in res["message"]
    assert (pf_copy / "aliases").read_bytes() == old
    table = f"hash:{pf_copy}/aliases"
    assert query("role00001", table, pf_copy) is None
    assert query("sales", table, pf_copy) == "bob@lab.test"
    rec = json.loads((tmp_path / "audit.log").read_text().splitlines()[-1])
    assert rec["result"] == "failed"


def test_a_rebuild_error_is_shown_with_the_tools_own_words(lab, pf_copy, tmp_path):
    old = (pf_copy / "aliases").read_bytes()
    (pf_copy / "aliases.db").unlink()
    (pf_copy / "aliases.db").mkdir()  # postalias cannot create its database
    cfg = copy_config(lab, pf_copy, tmp_path)
    af = AliasFile.load(cfg.aliases.path)
    af.add("newrole", ["alice@lab.test"])
    res = save_with_config(af, cfg)
    assert res.status == "rolled-back" and not res.ok
    assert res.rollback_rebuilt is False
    assert "aliases.db" in res.rebuild_output and "fatal" in res.rebuild_output, res.rebuild_output
    assert res.rebuild_output in res.message
    assert (pf_copy / "aliases").read_bytes() == old


def test_virtual_hash_table_is_rebuilt_with_postmap(lab, pf_copy, tmp_path):
    main = pf_copy / "main.cf"
    main.write_text(main.read_text().replace(f"texthash:{pf_copy}/virtual", f"hash:{pf_copy}/virtual"))
    settle(main)
    cfg = copy_config(lab, pf_copy, tmp_path)
    af = AliasFile.load(cfg.aliases.virtual_path, dialect="virtual", directory=Directory.from_postfix(pf_copy))
    af.add("team@lab.test", ["alice@lab.test", "bob@lab.test"])
    res = save_with_config(af, cfg)
    assert res.status == "saved", res
    assert Path(res.rebuild[0]).name == "postmap" and res.rebuild[-1] == f"hash:{pf_copy}/virtual"
    assert query("team@lab.test", f"hash:{pf_copy}/virtual", pf_copy, "postmap") == "alice@lab.test, bob@lab.test"
    # a typo is refused before anything is written
    af.set("team@lab.test", ["alcie@lab.test"])
    res = save_with_config(af, cfg)
    assert res.status == "refused" and "alcie@lab.test goes nowhere" in res.message
    assert query("team@lab.test", f"hash:{pf_copy}/virtual", pf_copy, "postmap") == "alice@lab.test, bob@lab.test"


def test_virtual_texthash_needs_no_rebuild(lab, pf_copy, tmp_path):
    cfg = copy_config(lab, pf_copy, tmp_path)
    af = AliasFile.load(cfg.aliases.virtual_path, dialect="virtual", directory=Directory.from_postfix(pf_copy))
    af.add("team@lab.test", ["alice@lab.test"])
    res = save_with_config(af, cfg)
    assert res.status == "saved" and res.rebuild is None
    assert any("reload" in n for n in res.notes)
    settle(pf_copy / "virtual")
    assert query("team@lab.test", f"texthash:{pf_copy}/virtual", pf_copy, "postmap") == "alice@lab.test"


def test_cli_edits(lab, pf_copy, tmp_path):
    sets = ["--set", f"postfix.config_dir={pf_copy}", "--set", f"aliases.path={pf_copy}/aliases",
            "--set", f"general.audit_log={tmp_path}/audit.log"]
    res = cli(*sets, "aliases", "set", "helpdesk", "bob@lab.test", "alice@lab.test", "--yes", lab=lab)
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.startswith("saved: ")
    assert query("helpdesk", f"hash:{pf_copy}/aliases", pf_copy) == "bob@lab.test, alice@lab.test"
    before = (pf_copy / "aliases").read_bytes()
    res = cli(*sets, "aliases", "set", "helpdesk", "bbo@lab.test", "--yes", lab=lab)
    assert res.returncode == 1
    assert ":" in res.stderr and "bbo@lab.test goes nowhere" in res.stderr
    assert (pf_copy / "aliases").read_bytes() == before
    res = cli(*sets, "aliases", "add", "helpdesk", "bob@lab.test", "--yes", lab=lab)
    assert res.returncode == 1 and "already exists" in res.stderr
    res = cli(*sets, "aliases", "remove", "helpdesk", "--dry-run", lab=lab)
    assert res.returncode == 0 and "-helpdesk: bob@lab.test, alice@lab.test" in res.stdout
    res = cli(*sets, "aliases", "--json", "remove", "helpdesk", "--yes", lab=lab)
    assert json.loads(res.stdout)["status"] == "saved"
    assert query("helpdesk", f"hash:{pf_copy}/aliases", pf_copy) is None
    res = cli(*sets, "--read-only", "aliases", "set", "x", "bob@lab.test", "--yes", lab=lab)
    assert res.returncode == 1 and "read-only" in res.stderr


def test_cli_edits_ask_first_and_refuse_without_yes_off_a_terminal(lab, pf_copy, tmp_path, on_terminal):
    """add/set/remove are destructive: without --yes and without a terminal nothing is written (exit 1),
    and the refusal shows the diff and the rebuild command; on a terminal they ask, and only "y" saves.
    Before, they saved straight away."""
    sets = ["--set", f"postfix.config_dir={pf_copy}", "--set", f"aliases.path={pf_copy}/aliases",
            "--set", f"general.audit_log={tmp_path}/audit.log"]
    path = pf_copy / "aliases"
    db = Path(str(path) + ".db")
    before, db_before = path.read_bytes(), db.read_bytes()
    for action in (["add", "helpdesk", "bob@lab.test"], ["set", "postmaster", "bob@lab.test"],
                   ["remove", "sales"]):
        res = cli(*sets, "aliases", *action, lab=lab)  # stdin is not a terminal (subprocess.run's default)
        assert res.returncode == 1, res.stdout + res.stderr
        assert "refusing without --yes (not a terminal)" in res.stderr
        assert "+++" in res.stderr and f"then run: {shutil.which('newaliases') or 'newaliases'}" in res.stderr
        assert path.read_bytes() == before and db.read_bytes() == db_before
        assert not (tmp_path / "audit.log").exists() or not (tmp_path / "audit.log").read_text()
    res = cli(*sets, "aliases", "--json", "add", "helpdesk", "bob@lab.test", lab=lab)
    assert res.returncode == 1 and res.stdout == "" and "refusing without --yes" in res.stderr
    assert path.read_bytes() == before
    toml = ["--config", str(Path(lab["state_dir"]) / "mailtop.toml"), *sets]
    for typed in (b"n\n", b"\n", b"\x04"):  # no, Enter, Ctrl-D
        res = on_terminal([*toml, "aliases", "add", "helpdesk", "bob@lab.test"], typed)
        assert res.returncode == 1, res.stdout + res.stderr
        assert "+helpdesk: bob@lab.test" in res.stdout and "proceed? [y/N]" in res.stdout
        assert "nothing done" in res.stderr and "Traceback" not in res.stderr
        assert path.read_bytes() == before
    res = on_terminal([*toml, "aliases", "add", "helpdesk", "bob@lab.test"], b"y\n")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "saved: " in res.stdout
    assert query("helpdesk", f"hash:{path}", pf_copy) == "bob@lab.test"


def test_sigkill_during_saves_with_the_real_rebuild(lab, pf_copy):
    sys.path.insert(0, str(REPO / "tests" / "unit"))
    from test_aliases_save import kill_during_saves

    path = pf_copy / "aliases"
    a = path.read_text()
    b = a + "".join(f"bulk{i:04d}: bob@lab.test\n" for i in range(3000))
    rounds, _ = kill_during_saves(pf_copy, path, a, b, rounds=12, rebuild="auto", config_dir=pf_copy)
    assert rounds == 12
    # whatever the last kill interrupted, one more save brings the database in line with the text
    af = AliasFile.load(path, check_files=False)
    af.set("after", ["bob@lab.test"])
    cfg_plan = plan_rebuild(path, "aliases", pf_copy)
    from mailtop.ops.aliases import save

    assert save(af, config_dir=pf_copy).status == "saved"
    assert database_is_stale(path, cfg_plan) is False
    assert query("after", f"hash:{path}", pf_copy) == "bob@lab.test"


def test_edit_the_labs_own_aliases_and_put_it_back(lab, lab_config):
    """The lab's own file and database (newaliases -C <lab>/postfix), restored byte for byte after."""
    path = Path(lab["postfix"]["aliases"])
    conf = Path(lab["postfix"]["config_dir"])
    original = path.read_bytes()
    try:
        af = AliasFile.load(path, directory=Directory.from_postfix(conf))
        af.add("mailtop-itest", ["bob@lab.test"])
        res = save_with_config(af, lab_config)
        assert res.status == "saved", res
        assert res.rebuild[1:] == ("-C", str(conf))
        assert query("mailtop-itest", f"hash:{path}", conf) == "bob@lab.test"
        af.remove("mailtop-itest")
        res = save_with_config(af, lab_config)
        assert res.status == "saved", res
        assert query("mailtop-itest", f"hash:{path}", conf) is None
        assert path.read_bytes() == original
    finally:
        if path.read_bytes() != original:
            atomic_write(path, original, path.stat())
            subprocess.run(["newaliases", "-C", str(conf)], check=True, timeout=30)
        for backup in path.parent.glob("aliases.mailtop-*"):
            backup.unlink()
