"""`mailtop trace` and `mailtop report` when the reader of their output goes away (`... | head`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
LOG = REPO / "tests" / "data" / "logs" / "lab-postfix.log"     # real lab capture; trace output ~200 kB


@pytest.mark.parametrize("argv", [["trace", "--json", "@lab.test"], ["trace", "@lab.test"], ["report"],
                                  ["report", "--json"]])
def test_a_reader_that_goes_away_is_no_error(argv: list[str]):
    cmd = [sys.executable, "-m", "mailtop", *argv, str(LOG)]
    # 1. the pipe's reading end closed before mailtop writes anything (`| head -0`): every write fails
    r, w = os.pipe()
    os.close(r)
    proc = subprocess.Popen(cmd, stdout=w, stderr=subprocess.PIPE, cwd=REPO)
    os.close(w)
    _, err = proc.communicate(timeout=120)
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err.decode()
    assert proc.returncode == 0, err.decode()
    # 2. the reader takes the first 100 bytes and closes (`| head -c 100`)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO)
    assert proc.stdout is not None and proc.stderr is not None
    first = proc.stdout.read(100)
    proc.stdout.close()
    err = proc.stderr.read()
    proc.stderr.close()
    assert proc.wait(timeout=120) == 0 and len(first) == 100
    assert b"Traceback" not in err and b"BrokenPipeError" not in err, err.decode()


def test_long_relay_names_keep_their_host_and_port_in_the_text_report():
    """The delays table is as wide as its longest relay (up to 72 columns); a longer one is cut in the
    middle, so both the host's start and the ":port" stay readable."""
    import io

    from mailtop.logs.command import render_text, report_data, summarize

    data = report_data(summarize([LOG]), top=10)
    row = data["delays"]["all"]
    relay = "mx1.a-rather-long-provider-name.example.com[100.102.79.29]:25"
    huge = "mx." + "x" * 90 + ".example[192.0.2.1]:2525"
    data["delays"]["by_relay"] = {relay: row, huge: row}
    out = io.StringIO()
    render_text(data, out)
    text = out.getvalue()
    assert f"relay {relay} " in text
    line = next(ln for ln in text.splitlines() if "192.0.2.1]:2525" in ln)
    assert line.startswith("  relay mx.xxx") and "…" in line and len(line) <= 2 + 72 + 5 * 9


@pytest.mark.parametrize("gz", [False, True])
def test_report_reads_a_named_pipe(tmp_path: Path, gz: bool):
    """A named pipe given as a file (`mailtop report /run/x.fifo`): read once, never seeked (the gzip
    check peeks), and the report equals the file's."""
    import gzip
    import threading

    from mailtop.logs.command import report_data, summarize

    fifo = tmp_path / "mail.fifo"
    os.mkfifo(fifo)
    data = LOG.read_bytes()

    def writer() -> None:
        with open(fifo, "wb") as out:
            out.write(gzip.compress(data) if gz else data)

    t = threading.Thread(target=writer, daemon=True)
    t.start()
    got = report_data(summarize([fifo]), top=20)
    t.join(10)
    want = report_data(summarize([LOG]), top=20)
    assert got["totals"] == want["totals"] and got["totals"]["received"] > 100
