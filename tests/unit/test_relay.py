"""Relay check logic on postconf output captured from the lab (tests/data/relay, see its README),
and on variations of it that a real main.cf could hold."""

from __future__ import annotations

import dataclasses
import ipaddress
from pathlib import Path

import pytest

from mailtop.health import relay as r
from mailtop.model import Status

DATA = Path(__file__).resolve().parents[1] / "data" / "relay"
TRUSTED = [ipaddress.ip_network("127.0.0.0/8"), ipaddress.ip_network("::1/128")]


def captured(name: str) -> r.Instance:
    read = lambda kind: (DATA / f"{name}.{kind}.txt").read_text()  # noqa: E731
    return r.Instance(name, Path(f"/lab/{name}"), r.parse_postconf(read("x")), r.parse_postconf(read("n")),
                      tuple(r.parse_master(read("M"))))


@pytest.fixture
def safe() -> r.Instance:
    return captured("postfix")


@pytest.fixture
def open_() -> r.Instance:
    return captured("postfix-open")


def variant(inst: r.Instance, **params: str) -> r.Instance:
    return dataclasses.replace(inst, effective={**inst.effective, **params})


# --------------------------------------------------------------------------- parsing the capture


def test_parse_captured_postconf(safe, open_):
    assert safe.effective["mynetworks"] == "127.0.0.1/32"
    assert safe.explicit["syslog_name"] == "postfix-lab"
    assert open_.effective["mynetworks"] == "0.0.0.0/0"
    assert open_.effective["smtpd_recipient_restrictions"] == ""
    assert [s.name for s in safe.services] == ["127.0.0.1:2525", "127.0.0.1:2587"]
    assert [s.port for s in open_.services] == [2526]


def test_master_overrides_apply_per_service(safe):
    sub = safe.service_for("127.0.0.1", 2587)
    assert sub is not None and ("smtpd_tls_security_level", "encrypt") in sub.overrides
    assert safe.param("smtpd_relay_restrictions", sub) == "permit_sasl_authenticated,reject"
    plain = safe.service_for("127.0.0.1", 2525)
    assert "reject_unauth_destination" in safe.param("smtpd_relay_restrictions", plain)
    assert safe.service_for("127.0.0.1", 2526) is None


def test_parse_master_forms():
    text = ("smtp      inet  n       -       y       -       -       smtpd\n"
            "submission inet n       -       y       -       -       smtpd -o smtpd_relay_restrictions=$mua_relay\n"
            "[::1]:10025 inet n - n - - smtpd -omynetworks=127.0.0.0/8\n"
            "pickup    unix  n       -       y       60      1       pickup\n"
            "465 inet n - n - - postscreen\n")
    services = r.parse_master(text)
    assert [(s.host, s.port) for s in services] == [("", 25), ("", 587), ("::1", 10025)]
    assert services[2].overrides == (("mynetworks", "127.0.0.0/8"),)


def test_split_list():
    assert r.split_list("permit_mynetworks,  reject_unauth_destination\n  check_client_access hash:/x") == [
        "permit_mynetworks", "reject_unauth_destination", "check_client_access", "hash:/x"]
    assert r.split_list("{ a, b } c") == ["{ a, b }", "c"]


def test_parse_networks():
    nets, other = r.parse_networks("127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128, hash:/etc/postfix/net, mx.example")
    # the v4-mapped form is the IPv4 network it stands for
    assert nets == [ipaddress.ip_network(n) for n in ("127.0.0.0/8", "127.0.0.0/8", "::1/128")]
    assert other == ["hash:/etc/postfix/net", "mx.example"]


# --------------------------------------------------------------------------- judging the configuration


def test_lab_safe_instance_ok(safe):
    f = r.analyse_instance(safe, TRUSTED)
    assert f.status is Status.OK and f.id == "relay.config.postfix"
    assert "127.0.0.1:2587" in f.summary


def test_lab_open_instance_critical(open_):
    f = r.analyse_instance(open_, TRUSTED)
    assert f.status is Status.CRITICAL and f.id == "relay.config.postfix-open"
    assert "open relay on 127.0.0.1:2526" in f.summary and "permits mynetworks (0.0.0.0/0)" in f.summary
    assert "mynetworks includes 0.0.0.0/0" in f.details


def test_permit_before_reject_unauth_destination(safe):
    f = r.analyse_instance(variant(safe, smtpd_relay_restrictions="permit, reject_unauth_destination",
                                   smtpd_recipient_restrictions="permit_mynetworks, permit"), TRUSTED)
    assert f.status is Status.CRITICAL and "has 'permit' before" in f.summary


def test_no_reject_unauth_destination_anywhere(safe):
    f = r.analyse_instance(variant(safe, smtpd_relay_restrictions="permit_mynetworks, permit_sasl_authenticated",
                                   smtpd_recipient_restrictions="check_recipient_access hash:/etc/postfix/r"), TRUSTED)
    assert f.status is Status.CRITICAL and "no reject_unauth_destination" in f.summary


def test_old_style_recipient_restrictions_are_enough(safe):
    inst = variant(safe, smtpd_relay_restrictions="",
                   smtpd_recipient_restrictions="permit_mynetworks, reject_unauth_destination")
    inst = dataclasses.replace(inst, services=inst.services[:1])
    assert r.analyse_instance(inst, TRUSTED).status is Status.OK


def test_debian_default_mynetworks_is_trusted(safe):
    inst = variant(safe, mynetworks="127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128")
    assert r.analyse_instance(inst, TRUSTED).status is Status.OK


def test_private_mynetworks_beyond_trusted_is_warning(safe):
    inst = variant(safe, mynetworks="127.0.0.0/8 10.0.0.0/8")
    f = r.analyse_instance(inst, TRUSTED)
    assert f.status is Status.WARNING and "10.0.0.0/8" in f.summary


def test_public_mynetworks_behind_permit_mynetworks_is_critical(safe):
    f = r.analyse_instance(variant(safe, mynetworks="127.0.0.0/8 8.8.0.0/16"), TRUSTED)
    assert f.status is Status.CRITICAL and "open relay" in f.summary


def test_risky_permits_before_the_relay_check_warn(safe):
    inst = variant(safe, smtpd_relay_restrictions="permit_mynetworks, check_sender_access hash:/etc/postfix/s, "
                   "permit_tls_all_clientcerts, reject_unauth_destination")
    inst = dataclasses.replace(inst, services=inst.services[:1])
    f = r.analyse_instance(inst, TRUSTED)
    assert f.status is Status.WARNING
    assert "check_sender_access" in f.details and "permit_tls_all_clientcerts" in f.details


def test_unreadable_config_is_unknown():
    f = r.analyse_instance(r.Instance("x", Path("/nowhere"), error="postconf: fatal: open /nowhere/main.cf"), TRUSTED)
    assert f.status is Status.UNKNOWN and "/nowhere/main.cf" in f.details


# --------------------------------------------------------------------------- judging a probe


def _result(codes, source="127.0.0.2", failed_at="", error=""):
    tricks = r.relay_tricks("example.com", "lab.test")
    replies = tuple(r.RcptReply(label, path, code, "x") for (label, path), code in zip(tricks, codes, strict=False))
    return r.ProbeResult("127.0.0.1:2526", source, "220 hi", (250, "ok") if codes else None, replies,
                         failed_at, error, 0.05, ())


def test_probe_refused_everything_is_ok(safe):
    f = r.analyse_probe(_result([554] * 8), safe, safe.services[0], TRUSTED)
    assert f.status is Status.OK and "outside postfix's mynetworks" in f.details
    assert f.id == "relay.probe.127.0.0.1:2526"


def test_probe_accepted_from_outside_is_critical(safe):
    f = r.analyse_probe(_result([554, 250, 554]), safe, safe.services[0], TRUSTED)
    assert f.status is Status.CRITICAL and "percent hack" in f.summary
    assert f.data["accepted"] == ["<mailtop-relay-test%example.com@lab.test>"]
    assert [m.value for m in f.metrics if m.label == "relay_accepted"] == [1]


def test_probe_from_inside_mynetworks_proves_nothing(safe):
    f = r.analyse_probe(_result([250] * 8, source="127.0.0.1"), safe, safe.services[0], TRUSTED)
    assert f.status is Status.UNKNOWN and "proves nothing" in f.summary
    assert "inside postfix's mynetworks" in f.details


def test_probe_inside_a_too_wide_mynetworks_is_critical(open_):
    f = r.analyse_probe(_result([250] * 8), open_, open_.services[0], TRUSTED)
    assert f.status is Status.CRITICAL and "0.0.0.0/0" in f.details


def test_probe_unknown_target_uses_trusted_networks():
    assert r.analyse_probe(_result([250] * 8, source="127.0.0.5"), None, None, TRUSTED).status is Status.UNKNOWN
    assert r.analyse_probe(_result([250] * 8, source="192.0.2.9"), None, None, TRUSTED).status is Status.CRITICAL


def test_probe_that_failed_is_unknown():
    f = r.analyse_probe(_result([], failed_at="connect", error="no greeting within 1s"))
    assert f.status is Status.UNKNOWN and "failed at connect" in f.summary and "no greeting" in f.summary


def test_relay_tricks_cover_the_classics():
    tricks = dict(r.relay_tricks("example.com", "lab.test"))
    assert tricks["percent hack"] == "<mailtop-relay-test%example.com@lab.test>"
    assert tricks["bang path"] == "<example.com!mailtop-relay-test>"
    assert tricks["quoted local part via local domain"] == '<"mailtop-relay-test@example.com"@lab.test>'
    assert tricks["address literal"] == "<mailtop-relay-test@[192.0.2.1]>"
    assert tricks["source route"] == "<@lab.test:mailtop-relay-test@example.com>"
