"""The core never imports Textual: ``mailtop --check`` and every module outside ``mailtop.tui``.

Both run in a fresh interpreter and inspect ``sys.modules`` there.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _python(script: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout, cwd=REPO)


def test_core_package_never_imports_textual():
    script = textwrap.dedent(
        """
        import importlib, json, sys
        from pathlib import Path
        import mailtop
        root = Path(mailtop.__file__).parent
        failed = {}
        names = []
        # found on disk, not with pkgutil.walk_packages: that imports every package, mailtop.tui included
        for path in sorted(root.rglob("*.py")):
            parts = path.relative_to(root.parent).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            name = ".".join(parts)
            if name.startswith("mailtop.tui") or name.endswith("__main__"):
                continue
            names.append(name)
            try:
                importlib.import_module(name)
            except Exception as exc:  # report, do not hide: the test fails on it
                failed[name] = repr(exc)
        ui = sorted(m for m in sys.modules if m == "textual" or m.startswith("textual.") or m == "rich.live")
        print(json.dumps({"names": names, "failed": failed, "ui": ui}))
        """
    )
    out = _python(script)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert "mailtop.checks" in result["names"] and "mailtop.report" in result["names"]
    assert "mailtop.health.tls" in result["names"] and "mailtop.health.quota" in result["names"]
    assert result["failed"] == {}
    assert [m for m in result["ui"] if m.startswith("textual")] == []


def test_mailtop_check_runs_every_check_without_importing_textual(tmp_path, closed_port):
    closed = closed_port
    store = tmp_path / "mail"
    store.mkdir()
    cfg = tmp_path / "mailtop.toml"
    cfg.write_text(
        textwrap.dedent(
            f"""
            [general]
            hostname = "unit.test"
            timeout = 0.5
            [postfix]
            config_dir = "{tmp_path / 'no-postfix'}"
            [dovecot]
            config = "{tmp_path / 'no-dovecot.conf'}"
            doveadm = "{tmp_path / 'no-doveadm'}"
            [mailstore]
            paths = ["{store}"]
            [dns]
            nameservers = ["127.0.0.1:{closed}"]
            domains = ["unit.test"]
            timeout = 0.5
            [smtp]
            host = "127.0.0.1"
            port = {closed}
            submission_port = {closed}
            [imap]
            port = {closed}
            tls_port = {closed}
            [pop3]
            port = {closed}
            tls_port = {closed}
            [relay]
            targets = ["127.0.0.1:{closed}"]
            [aliases]
            path = "{tmp_path / 'aliases'}"
            [logs]
            files = ["{tmp_path / 'mail.log'}"]
            """
        )
    )
    script = textwrap.dedent(
        f"""
        import json, sys
        from mailtop.cli import main
        rc = main(["--config", {str(cfg)!r}, "--check", "--format", "json"])
        print("\\n@@" + json.dumps({{"rc": rc, "modules": sorted(sys.modules)}}))
        """
    )
    out = _python(script)
    assert out.returncode == 0, out.stderr
    report_text, _, tail = out.stdout.rpartition("\n@@")
    tail_data = json.loads(tail)
    report = json.loads(report_text)
    modules = tail_data["modules"]
    assert not [m for m in modules if m == "textual" or m.startswith("textual.")]
    # it really ran the checks: the registry's modules were imported and produced findings
    assert "mailtop.health.tls" in modules and "mailtop.health.system" in modules
    assert "mailtop.health.quota" in modules
    ids = [f["id"] for f in report["findings"]]
    assert "tls.imaps" in ids and "quota.source" in ids and "dns.resolver" in ids
    assert tail_data["rc"] == report["exit_code"] != 0
