"""mailtop.ops.confirm: the one "ask before a destructive action" rule of mailtop queue and mailtop aliases."""

from __future__ import annotations

import io

import pytest

from mailtop.ops.confirm import confirm

CHANGE = "-sales: bob@lab.test\nthen run: newaliases -C /etc/postfix"


def _ask(typed: str, *, yes: bool = False, can_ask: bool = True) -> tuple[bool, str, str]:
    out, err = io.StringIO(), io.StringIO()
    go = confirm(CHANGE, yes=yes, prog="mailtop aliases", can_ask=can_ask, stdin=io.StringIO(typed), out=out, err=err)
    return go, out.getvalue(), err.getvalue()


@pytest.mark.parametrize("typed", ["y\n", "yes\n", " Y \n", "YES\n"])
def test_only_yes_goes_ahead(typed):
    go, out, err = _ask(typed)
    assert go and out == CHANGE + "\nproceed? [y/N] " and err == ""


@pytest.mark.parametrize("typed", ["\n", "n\n", "no\n", "yep\n", "", "y"])  # "" and "y" without \n: end of input
def test_anything_else_and_end_of_input_are_no(typed):
    go, out, err = _ask(typed)
    assert not go and out.startswith(CHANGE) and err == "nothing done\n"


def test_not_a_terminal_refuses_and_shows_what_would_change():
    go, out, err = _ask("y\n", can_ask=False)  # an answer on a pipe is not a confirmation
    assert not go and out == ""
    assert err == CHANGE + "\nmailtop aliases: refusing without --yes (not a terminal); nothing done\n"


def test_yes_goes_ahead_without_asking_or_printing():
    assert _ask("", yes=True, can_ask=False) == (True, "", "")


def test_can_ask_defaults_to_stdin_being_a_terminal():
    err = io.StringIO()
    assert not confirm(CHANGE, yes=False, prog="p", stdin=io.StringIO("y\n"), out=io.StringIO(), err=err)
    assert "not a terminal" in err.getvalue()
