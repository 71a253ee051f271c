"""Saving an aliases file safely: refusals, backups, audit, and SIGKILL in the middle of a save.

These run in a temporary folder with the rebuild switched off; the rebuild and rollback against real
Postfix are in tests/integration/test_aliases_lab.py.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from mailtop.ops.aliases import TMP_PREFIX, AliasFile, save

REPO = Path(__file__).resolve().parents[2]
GOOD = "# aliases\npostmaster: root\nabuse: root\nsales: alice\n"


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(TMP_PREFIX))


def test_save_writes_keeps_a_backup_and_audits(tmp_path):
    path = write(tmp_path / "aliases", GOOD)
    path.chmod(0o640)
    audit = tmp_path / "state" / "audit.log"
    af = AliasFile.load(path, check_files=False)
    af.set("sales", ["alice", "bob"])
    res = save(af, rebuild="none", audit_log=audit)
    assert res.status == "saved" and res.ok, res
    assert path.read_text() == GOOD.replace("sales: alice\n", "sales: alice, bob\n")
    assert oct(path.stat().st_mode & 0o777) == "0o640"
    assert res.backup is not None and res.backup.read_text() == GOOD
    assert res.backup.parent == tmp_path and res.backup.name.startswith("aliases.mailtop-")
    rec = json.loads(audit.read_text().splitlines()[-1])
    assert rec["action"] == "aliases.save" and rec["result"] == "ok"
    assert rec["targets"] == [str(path), "sales"]
    assert leftovers(tmp_path) == []
    # the object now describes the file on disk: a second edit saves too
    af.remove("sales")
    assert save(af, rebuild="none").status == "saved"
    assert "sales" not in path.read_text()


def test_invalid_file_is_refused_and_nothing_is_written(tmp_path):
    path = write(tmp_path / "aliases", GOOD)
    af = AliasFile.load(path, check_files=False)
    af.set("a", ["b"])
    af.set("b", ["a"])
    res = save(af, rebuild="none", audit_log=tmp_path / "audit.log")
    assert res.status == "refused" and not res.ok
    assert [p.code for p in res.problems] == ["loop"]
    assert "alias loop" in res.message
    assert path.read_text() == GOOD
    assert sorted(p.name for p in tmp_path.iterdir()) == ["aliases"]  # no backup, no temp, no audit


def test_refused_when_the_file_changed_on_disk(tmp_path):
    path = write(tmp_path / "aliases", GOOD)
    st = path.stat()
    af = AliasFile.load(path, check_files=False)
    af.set("x", ["root"])
    # someone else edits it: same size, same mtime; only the hash tells
    other = GOOD.replace("alice", "carol")
    assert len(other) == len(GOOD)
    path.write_text(other)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    res = save(af, rebuild="none")
    assert res.status == "refused" and "changed on disk" in res.message
    assert path.read_text() == other
    # a touch alone (mtime) also counts as a change
    af = AliasFile.load(path, check_files=False)
    af.set("x", ["root"])
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert save(af, rebuild="none").status == "refused"
    # and a file deleted under us
    af = AliasFile.load(path, check_files=False)
    af.set("x", ["root"])
    path.unlink()
    res = save(af, rebuild="none")
    assert res.status == "refused" and "removed" in res.message and not path.exists()


def test_unchanged_read_only_and_unwritable_audit(tmp_path):
    path = write(tmp_path / "aliases", GOOD)
    af = AliasFile.load(path, check_files=False)
    assert save(af, rebuild="none").status == "unchanged"
    af.set("x", ["root"])
    res = save(af, rebuild="none", read_only=True)
    assert res.status == "refused" and "read-only" in res.message
    (tmp_path / "audit-is-a-dir").mkdir()
    res = save(af, rebuild="none", audit_log=tmp_path / "audit-is-a-dir")
    assert res.status == "refused" and "audit log" in res.message
    assert path.read_text() == GOOD


def test_backups_are_pruned_and_a_new_file_needs_none(tmp_path):
    path = tmp_path / "aliases"
    af = AliasFile.load(path, check_files=False, missing_ok=True)
    af.set("postmaster", ["root"])
    af.set("abuse", ["root"])
    res = save(af, rebuild="none")
    assert res.status == "saved" and res.backup is None
    assert path.read_text() == "postmaster: root\nabuse: root\n"
    for i in range(5):
        af.set(f"n{i}", ["root"])
        assert save(af, rebuild="none", backup_keep=3).status == "saved"
    backups = sorted(tmp_path.glob("aliases.mailtop-*"))
    assert len(backups) == 3
    assert "n3" in backups[-1].read_text() and "n4" not in backups[-1].read_text()


def test_backup_dir_elsewhere(tmp_path):
    path = write(tmp_path / "aliases", GOOD)
    af = AliasFile.load(path, check_files=False)
    af.set("x", ["root"])
    res = save(af, rebuild="none", backup_dir=tmp_path / "backups")
    assert res.backup is not None and res.backup.parent == tmp_path / "backups"
    assert res.backup.read_text() == GOOD


CHILD = r"""
import sys
from pathlib import Path
from mailtop.ops.aliases import AliasFile, save
path, a, b = Path(sys.argv[1]), Path(sys.argv[2]).read_text(), Path(sys.argv[3]).read_text()
print("ready", flush=True)
while True:
    af = AliasFile.load(path, check_files=False)
    af.set_text(b if af.render() == a else a)
    res = save(af, rebuild=sys.argv[4], config_dir=Path(sys.argv[5]) if len(sys.argv) > 5 else None,
               backup_keep=2)
    if not res.ok:
        print(res, file=sys.stderr, flush=True)
        sys.exit(7)
"""


def kill_during_saves(folder: Path, path: Path, a: str, b: str, rounds: int, rebuild: str = "none",
                      config_dir: Path | None = None, until_mid_write: int = 0,
                      max_rounds: int = 0) -> tuple[int, int]:
    """Start a process that saves a and b in turn, SIGKILL it at a random moment, check the file; repeat
    ``rounds`` times, then on (up to ``max_rounds``) until ``until_mid_write`` kills have landed inside a write.
    Returns (rounds run, rounds that left a temporary file behind, i.e. were killed in the middle of a write).

    Where a kill lands depends on how fast the machine is at that moment (a loaded one spends the random
    delay still loading the file), so the test goes on until enough kills hit a write instead of hoping
    that a fixed number does."""
    fa, fb = folder.parent / "A.txt", folder.parent / "B.txt"
    fa.write_text(a)
    fb.write_text(b)
    rng = random.Random(6)
    mid_write = 0
    i = 0
    while i < rounds or (mid_write < until_mid_write and i < max_rounds):
        i += 1
        argv = [sys.executable, "-c", CHILD, str(path), str(fa), str(fb), rebuild]
        if config_dir is not None:
            argv.append(str(config_dir))
        proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
        assert proc.stdout.readline() == b"ready\n"
        time.sleep(rng.uniform(0.005, 0.12))
        proc.send_signal(signal.SIGKILL)
        _, err = proc.communicate(timeout=10)
        assert proc.returncode == -signal.SIGKILL, (proc.returncode, err.decode())
        data = path.read_text()
        assert data in (a, b), f"round {i}: the file is neither the old nor the new one ({len(data)} chars)"
        for backup in folder.glob(f"{path.name}.mailtop-*"):
            assert backup.read_text() in (a, b), f"round {i}: a partial backup {backup.name}"
        if leftovers(folder):
            mid_write += 1
    return i, mid_write


def test_sigkill_in_the_middle_of_saves_leaves_old_or_new_file_whole(tmp_path):
    folder = tmp_path / "etc"
    folder.mkdir()
    path = folder / "aliases"
    # big enough that writing and fsyncing takes a while, so most kills land inside a save
    a = "postmaster: root\nabuse: root\n# " + "a" * 3_000_000 + "\nsales: alice\n"
    b = "postmaster: root\nabuse: root\n# " + "b" * 2_000_000 + "\nsales: bob\nsupport: carol\n"
    path.write_text(a)
    rounds, mid_write = kill_during_saves(folder, path, a, b, rounds=30, until_mid_write=3, max_rounds=200)
    # the test proves something only if kills really hit the write: count the temp files they left
    assert mid_write >= 3, f"only {mid_write} of {rounds} kills landed inside a write"
    # the next save cleans up what the killed ones left
    af = AliasFile.load(path, check_files=False)
    af.set("x", ["root"])
    res = save(af, rebuild="none")
    assert res.status == "saved"
    assert leftovers(folder) == []


def test_save_with_config_judges_targets_even_when_loaded_without_a_directory(tmp_path):
    from mailtop.config import load_config

    path = write(tmp_path / "aliases", GOOD)
    cfg = load_config(None, environ={}, detect=False, flags={
        "aliases": {"path": str(path), "rebuild": "none", "extra_users": "alice"},
        "postfix": {"config_dir": str(tmp_path / "no-postfix-here")},
        "general": {"audit_log": str(tmp_path / "audit.log")},
    })
    from mailtop.ops.aliases import save_with_config

    af = AliasFile.load(path, check_files=False)
    af.set("sales", ["alice", "nosuchuser-xyz"])
    res = save_with_config(af, cfg)
    assert res.status == "refused" and "nosuchuser-xyz" in res.message
    assert path.read_text() == GOOD
    af.set("sales", ["alice", "root"])
    assert save_with_config(af, cfg).status == "saved"
