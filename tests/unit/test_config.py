from pathlib import Path

import pytest

from mailtop.cli import main
from mailtop.config import ConfigError, load_config, parse_assignments, parse_hostport


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "mailtop.toml"
    p.write_text(text)
    return p


def test_defaults_when_nothing_is_set():
    cfg = load_config(None, environ={}, detect=False)
    assert cfg.postfix.config_dir == Path("/etc/postfix")
    assert cfg.thresholds.quota_warn == 90.0
    assert cfg.source("postfix.config_dir") == "default"


def test_precedence_flag_over_env_over_file(tmp_path):
    f = write(tmp_path, '[smtp]\nport = 2525\nhost = "10.0.0.1"\n[dns]\ndomains = ["a.test"]\n')
    env = {"MAILTOP_SMTP__PORT": "2600", "MAILTOP_DNS__DOMAINS": "b.test, c.test"}
    cfg = load_config(f, environ=env, flags=parse_assignments(["smtp.port=2700"]), detect=False)
    assert cfg.smtp.port == 2700 and cfg.source("smtp.port") == "flag"
    assert cfg.dns.domains == ["b.test", "c.test"]
    assert cfg.source("dns.domains") == "env MAILTOP_DNS__DOMAINS"
    assert cfg.smtp.host == "10.0.0.1" and cfg.source("smtp.host").startswith(f"file {f}")


def test_mailtop_config_env_names_the_file(tmp_path):
    f = write(tmp_path, "[general]\ntheme = \"light\"\n")
    cfg = load_config(None, environ={"MAILTOP_CONFIG": str(f)}, detect=False)
    assert cfg.general.theme == "light"
    assert "env MAILTOP_CONFIG" in cfg.source("general.theme")


def test_unknown_key_gets_a_suggestion(tmp_path):
    f = write(tmp_path, "[dns]\nnameserver = [\"127.0.0.1\"]\n")
    with pytest.raises(ConfigError, match=r"unknown key 'dns.nameserver' \(did you mean 'nameservers'\?\)"):
        load_config(f, environ={}, detect=False)


def test_unknown_section_gets_a_suggestion(tmp_path):
    f = write(tmp_path, "[postifx]\nconfig_dir = \"/x\"\n")
    with pytest.raises(ConfigError, match=r"unknown section \[postifx\] \(did you mean 'postfix'\?\)"):
        load_config(f, environ={}, detect=False)


def test_wrong_types_are_reported_with_where(tmp_path):
    f = write(tmp_path, "[smtp]\nport = \"twenty-five\"\n")
    with pytest.raises(ConfigError, match=r"smtp.port .*expected an integer"):
        load_config(f, environ={}, detect=False)
    with pytest.raises(ConfigError, match=r"general.read_only .*expected true or false"):
        load_config(None, environ={"MAILTOP_GENERAL__READ_ONLY": "maybe"}, detect=False)


def test_broken_toml_is_a_clear_error(tmp_path):
    f = write(tmp_path, "[smtp\nport = 1\n")
    with pytest.raises(ConfigError, match=str(f)):
        load_config(f, environ={}, detect=False)


def test_hostport():
    assert parse_hostport("127.0.0.1:5353", 53) == ("127.0.0.1", 5353)
    assert parse_hostport("ns.example", 53) == ("ns.example", 53)
    assert parse_hostport("[::1]:5353", 53) == ("::1", 5353)


def test_cli_version_and_show_config(tmp_path, capsys, monkeypatch):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.startswith("mailtop ")
    f = write(tmp_path, "[smtp]\nport = 2525\n")
    monkeypatch.setenv("MAILTOP_IMAP__PORT", "1143")
    assert main(["--config", str(f), "--read-only", "--show-config"]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if not line.startswith("#")}
    assert "2525" in lines["smtp.port"] and f"[file {f} (flag --config)]" in lines["smtp.port"]
    assert "1143" in lines["imap.port"] and "[env MAILTOP_IMAP__PORT]" in lines["imap.port"]
    assert "True" in lines["general.read_only"] and "[flag]" in lines["general.read_only"]


def test_cli_config_error_exit_code(tmp_path, capsys):
    f = write(tmp_path, "[smtp]\nprot = 25\n")
    assert main(["--config", str(f), "--show-config"]) == 2
    assert "did you mean 'port'" in capsys.readouterr().err
