"""``mailtop.mta.early``: the guess of the listing command made before the config is loaded, and the
process it starts. The guess must agree with the real configuration wherever it guesses at all (the
queue command checks it again), and give up on anything it cannot read cheaply."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mailtop.config import load_config, parse_assignments
from mailtop.mta import early
from mailtop.mta.postfix import PostfixQueue

PY = sys.executable
LAB_TOML = Path(__file__).parent.parent / "data" / "queue" / "lab-mailtop.toml"


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "mailtop.toml"
    p.write_text(text)
    return p


@pytest.mark.parametrize("argv", [
    ["queue"],
    ["queue", "summary"],
    ["queue", "--json", "--shape", "--reasons"],
    ["--config", "x.toml", "queue", "--json", "--shape"],
    ["--config=x.toml", "--set", "postfix.config_dir=/d", "--read-only", "queue", "--queue", "deferred"],
    ["queue", "--top=3", "--queue=hold", "--json"],
])
def test_summary_command_lines_are_recognised(argv):
    assert early.queue_summary_options(argv) is not None


@pytest.mark.parametrize("argv", [
    [],
    ["--check"],
    ["--show-config", "queue"],
    ["queue", "list"],
    ["queue", "hold", "ABC123"],
    ["queue", "flush"],
    ["queue", "--help"],
    ["queue", "--dry-run"],
    ["queue", "summary", "summary"],
    ["--conf", "x.toml", "queue"],  # an abbreviation: argparse's business, no guess
    ["--config"],
    ["queue", "--top"],
    ["report", "queue"],
])
def test_anything_else_is_left_to_the_normal_path(argv):
    assert early.queue_summary_options(argv) is None


def test_the_last_config_flag_wins_and_sets_accumulate():
    opts = early.queue_summary_options(["--config", "a", "--set", "x.y=1", "--config=b", "--set=p.q=2", "queue"])
    assert opts == {"--config": ["a", "b"], "--set": ["x.y=1", "p.q=2"]}


def test_scan_reads_the_postfix_table_of_the_lab_config():
    text = LAB_TOML.read_text()
    assert early.scan_postfix_table(text) == {"config_dir": "/work/main/.lab-qstart/postfix"}


@pytest.mark.parametrize("text, expected", [
    ('[postfix]\nconfig_dir = "/a"  # a comment\nbin_dir = \'/b\'\n', {"config_dir": "/a", "bin_dir": "/b"}),
    ('[general]\nconfig_dir = "/not-this"\n[postfix]\nqueue_format = "json"\n', {"queue_format": "json"}),
    ('[postfix]\ninstances = ["/x", "/y"]\nnext_retry = false\nqueue_timeout = 30\n', {}),
    ('[logs]\nfiles = [\n  "/a",\n  "x=y",\n]\n[postfix]\nconfig_dir = "/c"\n', {"config_dir": "/c"}),
    ("", {}),
])
def test_scan_values(text, expected):
    assert early.scan_postfix_table(text) == expected


@pytest.mark.parametrize("text", [
    'postfix.config_dir = "/x"\n',                       # a dotted key at the root
    'postfix = {config_dir = "/x"}\n',                   # an inline table
    '[postfix.sub]\nx = 1\n',
    '[ "postfix" ]\nconfig_dir = "/x"\n',                # a quoted table name
    '[[postfix]]\nconfig_dir = "/x"\n',
    '[postfix]\nconfig_dir = "/x\\ty"\n',                # an escape
    '[postfix]\nconfig_dir = """/x"""\n',                # a multi-line string
    '[postfix]\nconfig_dir = "/x" junk\n',
    '[postfix]\nconfig_dir = 5\n',
    '[postfix]\n"config_dir" = "/x"\n',                  # a quoted key
    '[postfix]\ninstances = [\n  "/x",\n]\n',            # a line of the table that is not key = value
    '[general]\nx = """\n[postfix]\nconfig_dir = "/y"\n"""\n',
])
def test_scan_gives_up_on_what_it_cannot_read_simply(text):
    assert early.scan_postfix_table(text) is None


def _argv_from_config(path: Path | None, env: dict[str, str], sets: list[str]) -> list[str]:
    cfg = load_config(path, environ=env, flags=parse_assignments(sets), detect=False)
    return PostfixQueue.from_config(cfg).listing_argv("json")


def _guess(path: Path | None, env: dict[str, str], sets: list[str]) -> list[str] | None:
    argv = ([] if path is None else ["--config", str(path)]) + [w for s in sets for w in ("--set", s)]
    opts = early.queue_summary_options([*argv, "queue", "--json"])
    assert opts is not None
    settings = early.guess_postfix(opts, env)
    return None if settings is None else early.listing_argv(settings)


def test_guess_equals_the_configured_command_through_every_layer(tmp_path):
    bindir = tmp_path / "bin"
    bindir.mkdir()
    fake = bindir / "postqueue"
    fake.write_text("#!/bin/sh\n")
    fake.chmod(0o755)
    f = write(tmp_path, f'[postfix]\nconfig_dir = "{tmp_path}/file"\nbin_dir = "{bindir}"\n')
    env = {"HOME": os.environ.get("HOME", "/root")}
    cases = [
        (f, env, []),
        (f, {**env, "MAILTOP_POSTFIX__CONFIG_DIR": f"{tmp_path}/env"}, []),
        (f, {**env, "MAILTOP_POSTFIX__CONFIG_DIR": f"{tmp_path}/env"}, [f"postfix.config_dir={tmp_path}/flag"]),
        (f, env, ["postfix.config_dir=/etc/postfix"]),           # the default instance: no -c
        (None, {**env, "MAILTOP_CONFIG": str(f)}, []),
        (None, {**env, "XDG_CONFIG_HOME": str(tmp_path / "none")}, [f"postfix.bin_dir={bindir}"]),
        (f, env, ["postfix.bin_dir=/nonexistent"]),              # then postqueue from PATH, like the config
        (f, env, ["postfix.queue_format=json", "general.theme=light"]),
    ]
    for path, e, sets in cases:
        guess = _guess(path, e, sets)
        assert guess is not None
        assert guess == _argv_from_config(path, e, sets)
    assert _guess(f, env, [])[:3] == [str(fake), "-c", f"{tmp_path}/file"]


def test_no_guess_for_other_listing_formats_or_odd_paths(tmp_path):
    env = {"XDG_CONFIG_HOME": str(tmp_path / "none")}
    assert _guess(None, env, ["postfix.queue_format=text"]) is None
    assert _guess(None, env, ["postfix.mailq_command=mailq"]) is None
    assert _guess(None, env, ["postfix.config_dir=/etc/postfix/"]) is None    # pathlib would drop the slash
    assert _guess(None, env, ["postfix.config_dir=relative/dir"]) is None
    assert _guess(write(tmp_path, '[postfix]\nconfig_dir = "/x\\y"\n'), env, []) is None


def _run_early(argv: list[str]) -> tuple[int, bytes, bytes]:
    child = early.start(argv)
    assert child is not None and child.started <= time.time()
    out = child.stdout.read()
    assert child.wait() == child.poll() == child.returncode
    with os.fdopen(child.adopt(), "rb") as err:
        err.seek(0)
        text = err.read()
    child.stdout.close()
    child.discard()  # adopted: nothing more to do
    return child.returncode, out, text


def test_started_process_reads_like_popen():
    """stdout is a pipe, stdin /dev/null, stderr kept apart, SIGPIPE and SIGXFSZ not ignored in the
    child (Python ignores SIGPIPE; Popen restores it, so must the early start)."""
    rc, out, err = _run_early(["/bin/cat", "/proc/self/status"])
    assert rc == 0
    ignored = int(next(x for x in out.decode().splitlines() if x.startswith("SigIgn:")).split()[1], 16)
    assert ignored & (1 << 12) == 0 and ignored & (1 << 24) == 0  # SIGPIPE 13, SIGXFSZ 25
    assert _run_early(["/bin/cat"]) == (0, b"", b"")  # stdin is /dev/null: cat ends at once
    rc, out, err = _run_early(["/bin/ls", "/nonexistent-qstart"])
    assert rc == 2 and out == b"" and b"nonexistent-qstart" in err


def test_discard_kills_and_reaps():
    child = early.start([PY, "-c", "import time; time.sleep(30)"])
    assert child is not None
    assert child.poll() is None
    child.discard()
    assert child.returncode == -9
    child.discard()  # idempotent
    with pytest.raises(ChildProcessError):
        os.waitpid(child.pid, os.WNOHANG)


def test_a_program_that_cannot_run_gives_no_listing(tmp_path):
    assert early.start([str(tmp_path / "missing")]) is None


def test_cli_import_before_the_listing_starts_is_light():
    """What ``mailtop queue`` imports before postqueue starts: none of the modules that made the
    start late (argparse, the config, subprocess, re, pathlib, typing, tomllib, dataclasses)."""
    code = ("import sys; from mailtop.cli import _early_listing, _chosen_subcommand;"
            "_chosen_subcommand(['queue']); import mailtop.mta.early;"
            "heavy = {'argparse', 'mailtop.config', 'subprocess', 're', 'pathlib', 'typing', 'tomllib',"
            " 'dataclasses', 'enum', 'mailtop.mta.postfix'};"
            "print(sorted(heavy & set(sys.modules)))")
    out = subprocess.run([PY, "-c", code], capture_output=True, text=True, check=True, timeout=30).stdout
    assert out.strip() == "[]"
