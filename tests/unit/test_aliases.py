"""The aliases parser, validator and editor against the corpus in tests/data/aliases/ (no lab needed).

What Postfix itself makes of each corpus file was captured with postalias
(tests/data/aliases/capture_postalias.py); the parser must agree with it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailtop.ops.aliases import AliasError, AliasFile, Directory, Problem, classify_target, validate_text

DATA = Path(__file__).resolve().parent.parent / "data" / "aliases"
CORPUS = sorted(p for p in DATA.iterdir() if p.suffix in (".aliases", ".virtual"))


def lab_like_directory() -> Directory:
    """A fixed directory (no NSS, no postconf) so the expectations do not depend on this host's users."""
    return Directory(
        users={"root", "alice", "bob", "carol", "wayne", "mike", "cathy", "nobody"}, use_nss=False,
        local_domains={"localhost", "mail.lab.test"}, virtual_mailbox_domains={"lab.test"},
        virtual_mailboxes={"alice@lab.test", "bob@lab.test", "carol@lab.test"}, virtual_aliases=set(),
        local_aliases={"postmaster"},
    )


def load(path: Path, directory: Directory | None = None, check_files: bool = True) -> AliasFile:
    return AliasFile.load(path, dialect="virtual" if path.suffix == ".virtual" else "aliases",
                          directory=directory, check_files=check_files)


# (line, severity, code) for every corpus file, reviewed by hand: see docs/aliases.md for what each means
EXPECTED = {
    "01-lecture.aliases": [(9, "warning", "target.redirect")],
    "02-debian-default.aliases": [(0, "warning", "role.abuse")],
    "03-comments-continuations.aliases": [(12, "warning", "syntax.comment-inside-entry"),
                                          (17, "warning", "syntax.comment-inside-entry"),
                                          (20, "error", "target.inline-comment")],
    "04-quoted.aliases": [(6, "warning", "target.unquoted-command"), (9, "error", "syntax.quote")],
    "05-kinds.aliases": [(4, "warning", "target.include-missing"), (5, "warning", "target.file-folder"),
                         (11, "warning", "target.include-missing"), (12, "error", "target.include-relative"),
                         (13, "warning", "target.command-missing"), (16, "error", "target.bad-address")],
    "06-crlf.aliases": [(0, "info", "format.crlf")],
    "07-no-final-newline.aliases": [(0, "info", "format.no-final-newline")],
    "08-tabs.aliases": [],
    "09-duplicates.aliases": [(5, "error", "duplicate"), (6, "error", "duplicate")],
    "10-loops.aliases": [(3, "error", "loop"), (6, "error", "loop"), (8, "info", "target.self"), (9, "error", "loop")],
    "11-missing-roles.aliases": [(0, "error", "role.postmaster"), (0, "warning", "role.abuse")],
    "12-lists.aliases": [(8, "warning", "list.incomplete"), (11, "warning", "list.orphan"),
                         (14, "warning", "list.incomplete"), (14, "warning", "target.include-missing")],
    "13-garbage.aliases": [(2, "error", "target.space"), (3, "error", "target.space"),
                           (3, "warning", "syntax.indented-entry"), (4, "error", "syntax.no-colon"),
                           (5, "error", "syntax.empty-name"), (6, "error", "syntax.no-targets"),
                           (7, "warning", "syntax.empty-target"), (8, "error", "name.domain"),
                           (9, "error", "name.space"), (10, "error", "syntax.nul"),
                           (10, "error", "target.unknown-user"), (10, "warning", "target.odd-characters"),
                           (11, "error", "target.unknown-user"), (11, "warning", "format.not-utf8"),
                           (11, "warning", "target.odd-characters"), (12, "error", "target.space")],
    "14-orphan-continuation.aliases": [(1, "error", "syntax.orphan-continuation")],
    "15-mixed-newlines.aliases": [(0, "warning", "format.mixed-newlines")],
    "16-invisible.aliases": [(3, "warning", "name.odd-characters"), (4, "error", "target.unknown-user"),
                             (4, "warning", "target.odd-characters"), (5, "error", "target.unknown-user"),
                             (5, "warning", "target.odd-characters")],
    "17-sendmail.aliases": [(5, "warning", "target.error-mailer"), (6, "warning", "target.redirect"),
                            (7, "warning", "list.orphan")],
    "18-empty.aliases": [(0, "error", "role.postmaster"), (0, "warning", "role.abuse")],
    "19-only-comments.aliases": [(0, "error", "role.postmaster"), (0, "warning", "role.abuse")],
    "20-unknown-targets.aliases": [(3, "error", "target.unknown-user"), (4, "error", "target.nowhere"),
                                   (6, "error", "target.nowhere"), (9, "error", "target.unknown-user")],
    "30-virtual.virtual": [(9, "error", "name.colon"), (10, "error", "target.nowhere"),
                           (11, "error", "target.virtual-delivery"), (12, "error", "syntax.no-targets"),
                           (13, "error", "duplicate")],
    "31-virtual-loop.virtual": [(1, "error", "loop"), (3, "error", "target.nowhere")],
}


def test_every_corpus_file_has_expectations():
    assert sorted(EXPECTED) == [p.name for p in CORPUS]


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_round_trip_is_byte_for_byte(path):
    af = load(path)
    assert af.render_bytes() == path.read_bytes()
    assert not af.changed


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_validator_findings(path):
    got = [(p.line, p.severity, p.code) for p in load(path, lab_like_directory()).problems]
    assert got == EXPECTED[path.name]


@pytest.mark.parametrize("path", [p for p in CORPUS if p.suffix == ".aliases"], ids=lambda p: p.name)
def test_parser_agrees_with_postalias(path):
    """Keys exactly as postalias stores them (first of duplicates, lower case); values too, except
    on entries the validator flags (and ``\\user``, where postalias drops the backslash)."""
    dump = {}
    for line in (DATA / "postalias" / f"{path.name}.dump").read_bytes().decode("utf-8", "surrogateescape").splitlines():
        key, _, value = line.partition(":\t")
        dump[key] = value
    af = load(path, check_files=False)
    flagged_lines = {p.line for p in af.problems if p.severity in ("error", "warning")}
    ours: dict[str, tuple[str, range]] = {}
    for e in af.entries:
        if e.key in ours or "@" in e.key or not e.targets:
            continue  # postalias: first wins; 'name must be local'; 'need name:value pair'
        ours[e.key] = (", ".join(t.text for t in e.targets), range(e.line, e.end_line + 1))
    assert set(ours) == set(dump)
    for key, (value, lines) in ours.items():
        if value != dump[key]:
            backslash = value.replace("\\", "") == dump[key]
            assert backslash or flagged_lines & set(lines), (key, value, dump[key])


def test_lab_aliases_file_shape():
    text = (
        "postmaster: alice@lab.test\nabuse: postmaster\nsysadmins: alice@lab.test,\n\tbob@lab.test\n"
        'echo: "|/usr/bin/python3 /x/echo-responder.py --smtp 127.0.0.1:2525"\ndevnull: /dev/null\n'
    )
    af = AliasFile(text, directory=lab_like_directory(), check_files=False)
    assert af.problems == []
    assert [t.kind for t in af.get("echo").targets] == ["pipe"]
    assert af.get("echo").targets[0].value.startswith("|/usr/bin/python3 ")
    sysadmins = af.get("SysAdmins")
    assert [t.value for t in sysadmins.targets] == ["alice@lab.test", "bob@lab.test"]
    assert [t.line for t in sysadmins.targets] == [3, 4]
    assert (sysadmins.line, sysadmins.end_line) == (3, 4)


@pytest.mark.parametrize(("text", "kind", "value"), [
    ("bob", "local", "bob"),
    ("\\bob", "user", "\\bob"),
    ("bob@example.com", "address", "bob@example.com"),
    ('"bob smith"@example.com', "address", '"bob smith"@example.com'),
    ("Bob <bob@example.com>", "address", "bob@example.com"),
    ("/var/mail/x", "file", "/var/mail/x"),
    ('"/var/mail/a b"', "file", "/var/mail/a b"),
    ("|/bin/cat", "pipe", "|/bin/cat"),
    ('"|/bin/cat -n"', "pipe", "|/bin/cat -n"),
    (":include:/etc/l", "include", ":include:/etc/l"),
    (":INCLUDE:/etc/l", "include", ":INCLUDE:/etc/l"),
    ("error:nouser gone", "error", "error:nouser gone"),
])
def test_classify_target(text, kind, value):
    t = classify_target(text)
    assert (t.kind, t.value) == (kind, value)


# ---------------------------------------------------------------- validation of text being typed


def test_validate_text_loop_and_typo():
    d = lab_like_directory()
    probs = validate_text("postmaster: root\nabuse: root\na: b\nb: a\ntypo: alcie\n", directory=d)
    assert [(p.line, p.code) for p in probs] == [(3, "loop"), (5, "target.unknown-user")]
    assert "a -> b -> a" in probs[0].message
    assert all(isinstance(p, Problem) and p.is_error for p in probs)


def test_target_line_numbers_in_a_long_list():
    d = lab_like_directory()
    probs = validate_text("postmaster: root\nabuse: root\nstaff: alice,\n\tbob,\n\tbbo,\n\tcarol\n", directory=d)
    assert [(p.line, p.code) for p in probs] == [(5, "target.unknown-user")]


def test_without_directory_targets_are_not_judged():
    probs = validate_text("postmaster: root\nabuse: root\nx: nosuchuser\n")
    assert probs == []


def test_unknowable_users_are_warnings_not_errors():
    d = Directory(use_nss=False)
    probs = validate_text("postmaster: root\nabuse: root\nx: someone\n", directory=d)
    assert [(p.line, p.severity, p.code) for p in probs] == [(n, "warning", "target.unchecked") for n in (1, 2, 3)]


def test_messages_never_carry_raw_control_characters():
    probs = validate_text("postmaster: root\nabuse: root\nx: a\x1b[31mred\n", directory=lab_like_directory())
    assert probs and all("\x1b" not in p.message for p in probs)


# ---------------------------------------------------------------- editing


SAMPLE = """\
# header comment
postmaster: root
abuse: root

# sales team
sales: alice,
  # bob is away
  carol
devnull: /dev/null
"""


def test_set_changes_one_entry_and_keeps_everything_else():
    af = AliasFile(SAMPLE)
    af.set("devnull", ["/dev/null", "root"])
    assert af.render() == SAMPLE.replace("devnull: /dev/null\n", "devnull: /dev/null, root\n")
    assert af.changed and af.changed_names == ["devnull"]


def test_set_on_an_entry_with_an_inner_comment_keeps_the_comment():
    af = AliasFile(SAMPLE)
    af.set("Sales", ["alice", "bob"])
    assert "# bob is away\nSales: alice, bob\n" in af.render()
    assert "# sales team\n" in af.render()
    assert [e.name for e in af.entries] == ["postmaster", "abuse", "Sales", "devnull"]


def test_add_appends_at_the_end_and_refuses_existing_names():
    af = AliasFile(SAMPLE)
    af.add("support", ["alice", '|/usr/bin/logger -t mail'])
    assert af.render() == SAMPLE + 'support: alice, "|/usr/bin/logger -t mail"\n'
    assert af.get("support").targets[1].kind == "pipe"
    with pytest.raises(AliasError, match="already exists on line 2"):
        af.add("POSTMASTER", ["bob"])


def test_remove_keeps_comments_and_order():
    af = AliasFile(SAMPLE)
    assert af.remove("sales") == 1
    assert af.render() == SAMPLE.replace("sales: alice,\n  # bob is away\n  carol\n", "# bob is away\n")
    with pytest.raises(KeyError):
        af.remove("sales")


def test_remove_takes_every_duplicate():
    af = AliasFile("a: x\nb: y\nA: z\n")
    assert af.remove("a") == 2
    assert af.render() == "b: y\n"


def test_set_on_duplicates_changes_the_one_postfix_uses():
    af = AliasFile("a: x\nb: y\na: z\n")
    af.set("a", ["w"])
    assert af.render() == "a: w\nb: y\na: z\n"
    assert [p.code for p in af.problems if p.code == "duplicate"] == ["duplicate"]


def test_edits_follow_crlf_and_missing_final_newline():
    af = AliasFile("postmaster: root\r\nabuse: root\r\n")
    af.set("x", ["root"])
    assert af.render() == "postmaster: root\r\nabuse: root\r\nx: root\r\n"
    af = AliasFile("postmaster: root\nabuse: root")
    af.set("x", ["root"])
    assert af.render() == "postmaster: root\nabuse: root\nx: root\n"
    af = AliasFile("postmaster: root\nabuse: root")
    af.set("abuse", ["postmaster"])
    assert af.render() == "postmaster: root\nabuse: postmaster"


def test_long_target_lists_wrap_with_the_files_indent():
    af = AliasFile("postmaster: root\nstaff: a,\n    b\n")
    many = [f"user{i:02d}@example.com" for i in range(8)]
    af.set("big", many)
    big = af.render().split("big: ", 1)[1]
    assert all(len(line) <= 80 for line in ("big: " + big).splitlines())
    assert "\n    user" in big
    assert [t.value for t in af.get("big").targets] == many


def test_quoted_names_round_trip_through_set():
    af = AliasFile("postmaster: root\n")
    af.set("support desk", ["alice"])
    assert 'support desk": alice' in af.render()
    assert af.get("SUPPORT DESK").targets[0].value == "alice"


@pytest.mark.parametrize(("name", "targets"), [("", ["x"]), ("a\nb", ["x"]), ("a", []), ("a", ["x\ny"]),
                                               ("a", [""]), ("a", "x")])
def test_bad_edits_are_refused(name, targets):
    af = AliasFile(SAMPLE)
    with pytest.raises(AliasError):
        af.set(name, targets)
    assert af.render() == SAMPLE


def test_virtual_edits():
    af = AliasFile("# v\nexample.org anything\nsales@example.org\talice@lab.test\n", dialect="virtual")
    af.set("info@example.org", ["sales@example.org", "bob@lab.test"])
    af.set("sales@example.org", ["carol@lab.test"])
    assert af.render() == ("# v\nexample.org anything\nsales@example.org carol@lab.test\n"
                           "info@example.org sales@example.org, bob@lab.test\n")
    with pytest.raises(AliasError):
        af.set("two words", ["x"])


# ---------------------------------------------------------------- properties

_ALPHABET = st.sampled_from(list("ab:,#\" \t\r\n|/@\\") + ["\u00a0", "é", "\udce9", "\x00"])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_ALPHABET, max_size=120).map("".join))
def test_any_text_round_trips(text):
    af = AliasFile(text, check_files=False)
    assert af.render() == text
    for p in af.problems:  # every problem points into the file
        assert 0 <= p.line <= text.count("\n") + 1


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=200))
def test_any_bytes_round_trip(tmp_path_factory, data):
    path = tmp_path_factory.getbasetemp() / "round-trip.aliases"
    path.write_bytes(data)
    assert AliasFile.load(path, check_files=False).render_bytes() == data


_NAME = st.from_regex(r"[a-z][a-z0-9._-]{0,12}", fullmatch=True)
_TARGET = st.one_of(
    _NAME, _NAME.map(lambda n: n + "@example.com"), st.just("/dev/null"), st.just("|/usr/bin/logger -t x"),
    st.just(":include:/etc/mail/list"), _NAME.map(lambda n: "\\" + n),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_ALPHABET, max_size=80).map("".join), _NAME, st.lists(_TARGET, min_size=1, max_size=12))
def test_set_changes_only_that_entry(text, name, targets):
    af = AliasFile(text, check_files=False)
    before = [(e.key, [t.text for t in e.targets]) for e in af.entries if e.key != name]
    af.set(name, targets)
    assert [t.value for t in af.get(name).targets] == [classify_target(t).value for t in targets]
    after = [(e.key, [t.text for t in e.targets]) for e in af.entries if e.key != name]
    assert after == before
    assert AliasFile(af.render(), check_files=False).render() == af.render()


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_NAME, st.lists(_TARGET, min_size=1, max_size=4)), max_size=8), _NAME,
       st.lists(_TARGET, min_size=1, max_size=4))
def test_add_then_remove_gives_back_the_file(entries, name, targets):
    af = AliasFile("# generated\n")
    for n, ts in entries:
        af.set(n, ts)
    if name in af:
        return
    text = af.render()
    af.add(name, targets)
    af.remove(name)
    assert af.render() == text
