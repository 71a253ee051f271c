"""The aliases file (aliases(5)) and Postfix virtual alias tables: parse, validate, edit, save safely.

The model is lossless: a file is kept as a list of chunks of its original text (entries with their
continuation lines, comments, blank lines, lines that do not parse). ``render()`` of an unchanged file
gives back the input byte for byte (invalid UTF-8 included, via ``surrogateescape``); an edit rewrites
only the entry it touches, so comments and order stay.

Reading rules (what Postfix's ``postalias`` and Sendmail's ``newaliases`` do):

- ``name: target, target, ...``. The name may be quoted (``"a b": ...``); Postfix folds it to lower
  case. The first colon outside double quotes ends the name.
- A line that starts with a space or tab continues the previous entry. Blank lines and lines whose
  first non-blank character is ``#`` are comments. Postfix keeps reading an entry across such lines
  (a continuation after a comment still belongs to the entry); Sendmail ends the entry there. mailtop
  follows Postfix and warns where the two disagree.
- Targets are separated by commas outside double quotes: ``user`` (a local user or another alias),
  ``\\user`` (the local user, no alias expansion), ``user@domain``, ``/file`` (append to a file),
  ``|command`` (quote it when it has spaces: ``"|/usr/bin/prog -x"``), ``:include:/file`` (more
  targets, one file). Postfix uses the *first* of duplicate names; Sendmail the last.

The Postfix ``virtual_alias_maps`` text format (virtual(5)) is the same model with another dialect:
``key<whitespace>address, address ...``; the key is ``user@domain``, ``@domain`` (catch-all),
``user`` or a bare ``domain`` (declares a virtual alias domain; its value is ignored).

Nothing here imports Textual. The dashboard's Aliases panel and ``mailtop aliases`` use this API:
``AliasFile.load(path)``, ``.problems``, ``.set(name, targets)``, ``.remove(name)``, ``.render()``,
``save(...) -> SaveResult`` and ``validate_text(text) -> list[Problem]`` for text being typed.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as _dt
import difflib
import fcntl
import hashlib
import os
import pwd
import re
import shutil
import stat
import subprocess
import tempfile
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Dialect = Literal["aliases", "virtual"]
ERROR = "error"
WARNING = "warning"
INFO = "info"
_SEVERITY_RANK = {ERROR: 0, WARNING: 1, INFO: 2}
_WS = " \t\r\n\v\f"  # what Postfix (ISSPACE) and Sendmail call whitespace: ASCII only, never U+00A0


class AliasError(ValueError):
    """Bad input to an edit (an empty name, a newline inside a target, a name that is not there)."""


# --------------------------------------------------------------------------- records


def printable(text: str) -> str:
    """``text`` with control, invisible and undecodable characters written as escapes (\\x00, \\u200b)."""
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch == " " or not (cat in ("Cc", "Cf", "Cs", "Co", "Zl", "Zp") or (cat == "Zs")):
            out.append(ch)
        elif "\udc80" <= ch <= "\udcff":
            out.append(f"\\x{ord(ch) - 0xDC00:02x}")
        elif ord(ch) < 256:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(f"\\u{ord(ch):04x}")
    return "".join(out)


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing the validator found. ``line`` is 1-based; 0 means the file as a whole."""

    line: int
    severity: str  # "error" | "warning" | "info"
    code: str  # stable id, e.g. "syntax.no-colon", "duplicate", "loop", "target.unknown-user"
    message: str
    name: str = ""
    hint: str = ""

    def __post_init__(self) -> None:
        # messages end up on terminals and in JSON: never raw control or invisible characters
        object.__setattr__(self, "message", printable(self.message))
        object.__setattr__(self, "name", printable(self.name))

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def __str__(self) -> str:
        where = f"line {self.line}" if self.line else "file"
        text = f"{where}: {self.severity}: {self.message}"
        return f"{text} ({self.hint})" if self.hint else text


@dataclass(frozen=True, slots=True)
class Target:
    """One target of an entry. ``text`` is as written; ``value`` is unquoted.

    ``kind``: local (a user or alias), user (``\\user``: the mailbox, no alias expansion), address
    (``user@domain``), pipe, file, include, error (Sendmail ``error:`` mailer).
    """

    text: str
    kind: str
    value: str
    line: int = field(default=0, compare=False)
    """The physical line the target is on (entries can span several lines); 0 when not from a file."""

    @property
    def domain(self) -> str:
        return self.value.rpartition("@")[2].lower() if self.kind == "address" else ""

    @property
    def local_part(self) -> str:
        if self.kind == "address":
            return self.value.rpartition("@")[0]
        if self.kind == "user":
            return self.value[1:]
        return self.value


@dataclass(frozen=True, slots=True)
class Entry:
    name: str  # as written, unquoted
    targets: tuple[Target, ...]
    line: int  # first line (1-based)
    end_line: int  # last line of the entry (continuations included)

    @property
    def key(self) -> str:
        """The lookup key: Postfix folds names to lower case."""
        return self.name.lower()


@dataclass
class _Chunk:
    kind: str  # entry | comment | blank | bad
    text: str  # raw text, line endings included
    line: int
    entry: Entry | None = None
    problems: list[Problem] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Fingerprint:
    """What the file on disk looked like when it was read: refuse to save over a newer version."""

    exists: bool
    mtime_ns: int = 0
    size: int = 0
    sha256: str = ""

    @classmethod
    def read(cls, path: Path) -> tuple[bytes, Fingerprint]:
        """The file's bytes and the fingerprint of exactly those bytes (one open). Raises FileNotFoundError."""
        with open(path, "rb") as fh:
            st = os.fstat(fh.fileno())
            data = fh.read()
        return data, cls(True, st.st_mtime_ns, st.st_size, hashlib.sha256(data).hexdigest())

    @classmethod
    def of(cls, path: Path) -> Fingerprint:
        try:
            return cls.read(path)[1]
        except FileNotFoundError:
            return cls(False)


# --------------------------------------------------------------------------- what mailtop knows about recipients


class Directory:
    """Who can receive mail here, to tell a target that goes nowhere from one that works.

    - local users: looked up one by one through NSS (``pwd.getpwnam``, the same source as
      ``getent passwd`` and Postfix's ``local_recipient_maps = proxy:unix:passwd.byname``), plus
      ``extra_users`` (``[aliases] extra_users``) for recipients NSS cannot show;
    - local domains: Postfix ``mydestination`` (expanded with ``postconf -x``);
    - virtual mailbox domains and mailboxes: ``virtual_mailbox_domains`` and the keys of
      ``virtual_mailbox_maps`` (``postmap -s``);
    - virtual alias addresses and domains: the keys of ``virtual_alias_maps``;
    - local alias names: the keys of ``alias_maps`` (``postalias -s``).

    A table mailtop cannot list (LDAP, SQL, ...) leaves that part unknown (``None``): targets that
    depend on it are reported as "cannot check" warnings, never as errors.
    """

    def __init__(
        self,
        *,
        local_domains: Iterable[str] = ("localhost",),
        virtual_mailbox_domains: Iterable[str] = (),
        virtual_mailboxes: Iterable[str] | None = (),
        virtual_alias_domains: Iterable[str] = (),
        virtual_aliases: Iterable[str] | None = (),
        local_aliases: Iterable[str] | None = (),
        extra_users: Iterable[str] = (),
        use_nss: bool = True,
        users: Iterable[str] | None = None,
        sources: Iterable[str] = (),
    ) -> None:
        self.local_domains = frozenset(d.lower() for d in local_domains)
        self.virtual_mailbox_domains = frozenset(d.lower() for d in virtual_mailbox_domains)
        self.virtual_mailboxes = None if virtual_mailboxes is None else frozenset(a.lower() for a in virtual_mailboxes)
        self.virtual_alias_domains = frozenset(d.lower() for d in virtual_alias_domains)
        self.virtual_aliases = None if virtual_aliases is None else frozenset(a.lower() for a in virtual_aliases)
        self.local_aliases = None if local_aliases is None else frozenset(a.lower() for a in local_aliases)
        self.extra_users = frozenset(u.lower() for u in extra_users)
        self.use_nss = use_nss
        self.users = None if users is None else frozenset(u.lower() for u in users)
        self.sources = tuple(sources)
        self._cache: dict[str, bool] = {}

    def is_local_user(self, name: str) -> bool | None:
        """True/False when known; None when mailtop has no way to tell."""
        key = name.lower()
        if key in self.extra_users:
            return True
        if self.users is not None:
            return key in self.users
        if not self.use_nss:
            return None
        if key not in self._cache:
            try:
                pwd.getpwnam(key)
                self._cache[key] = True
            except KeyError:
                self._cache[key] = False
        return self._cache[key]

    @classmethod
    def from_postfix(
        cls, config_dir: Path | None, bin_dir: Path = Path("/usr/sbin"), extra_users: Iterable[str] = (),
        timeout: float = 10.0,
    ) -> Directory:
        params = ["mydestination", "virtual_mailbox_domains", "virtual_mailbox_maps",
                  "virtual_alias_maps", "virtual_alias_domains", "alias_maps"]
        values = postconf(params, config_dir, bin_dir, expand=True, timeout=timeout)
        sources = ["NSS (pwd.getpwnam, as getent passwd)"]
        if values is None:
            return cls(extra_users=extra_users, sources=sources + ["no postconf: only 'localhost' is local"])

        def domains_and_maps(text: str) -> tuple[list[str], list[str]]:
            doms, maps = [], []
            for tok in _split_list(text):
                (maps if ":" in tok else doms).append(tok)
            return doms, maps

        def keys_of(specs: list[str], alias: bool) -> list[str] | None:
            out: list[str] = []
            for spec in specs:
                keys = map_keys(spec, config_dir, bin_dir, alias=alias, timeout=timeout)
                if keys is None:
                    return None
                out.extend(keys)
                sources.append(f"{'postalias' if alias else 'postmap'} -s {spec}")
            return out

        local_domains, dest_maps = domains_and_maps(values["mydestination"])
        for k in keys_of(dest_maps, False) or []:
            local_domains.append(k)
        vmd, vmd_maps = domains_and_maps(values["virtual_mailbox_domains"])
        vmailboxes = keys_of(domains_and_maps(values["virtual_mailbox_maps"])[1], False)
        if vmd_maps:
            vmd.extend(k for k in keys_of(vmd_maps, False) or [] if "@" not in k)
        valiases = keys_of(domains_and_maps(values["virtual_alias_maps"])[1], False)
        vad, vad_maps = domains_and_maps(values["virtual_alias_domains"])
        if vad_maps:
            vad.extend(k for k in keys_of(vad_maps, False) or [] if "@" not in k and "." in k)
        laliases = keys_of(domains_and_maps(values["alias_maps"])[1], True)
        return cls(
            local_domains=local_domains, virtual_mailbox_domains=vmd, virtual_mailboxes=vmailboxes,
            virtual_alias_domains=vad, virtual_aliases=valiases, local_aliases=laliases,
            extra_users=extra_users, sources=sources,
        )


def _split_list(text: str) -> list[str]:
    """A Postfix parameter list: commas and/or whitespace."""
    return [t for t in re.split(r"[\s,]+", text.strip()) if t]


def find_program(name: str, bin_dir: Path = Path("/usr/sbin")) -> str | None:
    for path in (str(bin_dir), None, "/usr/sbin:/usr/bin:/sbin:/bin"):
        found = shutil.which(name, path=path)
        if found:
            return found
    return None


def postconf(
    params: list[str], config_dir: Path | None, bin_dir: Path = Path("/usr/sbin"), expand: bool = False,
    timeout: float = 10.0,
) -> dict[str, str] | None:
    """Values of Postfix parameters (``postconf -h``), or None when postconf cannot run."""
    exe = find_program("postconf", bin_dir)
    if exe is None:
        return None
    argv = [exe]
    if config_dir is not None:
        argv += ["-c", str(config_dir)]
    argv += ["-x", "-h"] if expand else ["-h"]
    argv += params
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                             stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    lines = out.stdout.splitlines()
    if len(lines) != len(params):
        return None
    return dict(zip(params, (v.strip() for v in lines), strict=True))


_LISTABLE = {"hash", "btree", "texthash", "lmdb", "cdb", "dbm", "sdbm"}
_DB_SUFFIX = {"hash": ".db", "btree": ".db", "lmdb": ".lmdb", "cdb": ".cdb"}


def _table_type(spec: str) -> tuple[str, str]:
    """``proxy:hash:/x`` -> ("hash", "/x"); ``/x`` -> ("", "/x")."""
    while spec.startswith("proxy:"):
        spec = spec[len("proxy:"):]
    typ, colon, name = spec.partition(":")
    return (typ, name) if colon else ("", spec)


def map_keys(spec: str, config_dir: Path | None, bin_dir: Path = Path("/usr/sbin"), *, alias: bool = False,
             timeout: float = 10.0) -> list[str] | None:
    """The keys of a Postfix lookup table (``postmap -s`` / ``postalias -s``); None when it cannot be listed."""
    typ, name = _table_type(spec)
    if typ not in _LISTABLE:
        return None
    suffix = _DB_SUFFIX.get(typ)
    if suffix and not Path(name + suffix).exists():
        return None  # not built: postmap would retry opening it for seconds
    exe = find_program("postalias" if alias else "postmap", bin_dir)
    if exe is None:
        return None
    argv = [exe] + (["-c", str(config_dir)] if config_dir is not None else []) + ["-s", f"{typ}:{name}"]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False,
                             stdin=subprocess.DEVNULL, errors="surrogateescape")
    except (OSError, subprocess.TimeoutExpired):
        return None
    if out.returncode != 0:
        return None
    keys = []
    for line in out.stdout.splitlines():
        key = line.split(":\t" if alias else "\t", 1)[0].strip()
        if alias and (key in ("@",) or key.startswith("YP_")):
            continue
        if key:
            keys.append(key)
    return keys


# --------------------------------------------------------------------------- parsing


def _split_lines(text: str) -> list[str]:
    """Physical lines with their endings. Only ``\\n`` ends a line (never ``str.splitlines``)."""
    parts = text.split("\n")
    lines = [p + "\n" for p in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _content(line: str) -> str:
    if line.endswith("\r\n"):
        return line[:-2]
    if line.endswith("\n"):
        return line[:-1]
    return line


def _split_outside_quotes(text: str, seps: str) -> list[str]:
    if '"' not in text:  # the common case, fast
        return text.split(seps) if len(seps) == 1 else re.split("[" + re.escape(seps) + "]", text)
    out, cur, quoted, esc = [], [], False, False
    for ch in text:
        if esc:
            cur.append(ch)
            esc = False
        elif ch == "\\" and quoted:
            cur.append(ch)
            esc = True
        elif ch == '"':
            quoted = not quoted
            cur.append(ch)
        elif ch in seps and not quoted:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    out.append("".join(cur))
    return out


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        inner = text[1:-1]
        return re.sub(r"\\(.)", r"\1", inner)
    return text


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _quote_balanced(text: str) -> bool:
    if '"' not in text:
        return True
    n, esc = 0, False
    for ch in text:
        if esc:
            esc = False
        elif ch == "\\":
            esc = True
        elif ch == '"':
            n += 1
    return n % 2 == 0


def classify_target(text: str) -> Target:
    """What kind of target ``text`` is (already split from its neighbours and stripped)."""
    raw = text.strip(_WS)
    value = _unquote(raw)
    m = re.fullmatch(r"<([^<>]*)>", value) or re.fullmatch(r'[^<>"]*<([^<>]*)>\s*', value)
    if m and "@" in m.group(1):
        value = m.group(1).strip(_WS)
    if value.startswith("|"):
        kind = "pipe"
    elif value[:9].lower() == ":include:":
        kind = "include"
    elif value.startswith("/"):
        kind = "file"
    elif value.startswith("\\"):
        kind = "user"
    elif value[:6].lower() == "error:":
        kind = "error"
    elif "@" in value:
        kind = "address"
    else:
        kind = "local"
    return Target(raw, kind, value)


_NAME_SAFE = re.compile(r"[A-Za-z0-9._+\-=/!%&'*?^`{|}~$]+")


def _has_space(t: Target) -> bool:
    """An unquoted address with whitespace in it: almost always a missing comma."""
    return (t.kind in ("local", "address", "user") and not t.text.startswith('"')
            and bool(re.search(r"\s", t.value, re.ASCII)) and '"' not in t.value
            and not re.search(r"<[^<>]*>", t.text))


def _odd_chars(text: str) -> list[str]:
    """Invisible or look-alike characters that make a name or target silently different."""
    if text.isascii() and text.isprintable():
        return []
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch in "\t":
            continue
        if cat in ("Cc", "Cf", "Zs", "Zl", "Zp", "Co", "Cs") and ch != " ":
            out.append(f"U+{ord(ch):04X}")
        elif ord(ch) > 127 and cat.startswith("L"):
            out.append(f"{ch!r} (U+{ord(ch):04X})")
    return out


class _Parser:
    def __init__(self, text: str, dialect: Dialect) -> None:
        self.text = text
        self.dialect = dialect

    def chunks(self) -> list[_Chunk]:
        lines = _split_lines(self.text)
        out: list[_Chunk] = []
        i = 0
        n = len(lines)
        while i < n:
            line = lines[i]
            c = _content(line)
            lineno = i + 1
            if not c.strip(_WS):
                out.append(_Chunk("blank", line, lineno))
                i += 1
                continue
            if c.lstrip(_WS).startswith("#"):
                out.append(_Chunk("comment", line, lineno))
                i += 1
                continue
            if c[0] in " \t":
                ch = _Chunk("bad", line, lineno)
                ch.problems.append(Problem(
                    lineno, ERROR, "syntax.orphan-continuation",
                    "line starts with a space or tab but there is no entry before it to continue",
                    hint="remove the leading whitespace, or join it to the entry above"))
                out.append(ch)
                i += 1
                continue
            # an entry: this line, then continuation lines; comments/blanks in between belong to it
            # only when a continuation follows them (Postfix reads on; Sendmail stops)
            j = i + 1
            last = i
            while j < n:
                cj = _content(lines[j])
                if cj.strip(_WS) and not cj.lstrip(_WS).startswith("#") and cj[0] in " \t":
                    last = j
                    j += 1
                elif not cj.strip(_WS) or cj.lstrip(_WS).startswith("#"):
                    j += 1
                else:
                    break
            block = lines[i:last + 1]
            out.append(self._entry(block, lineno))
            i = last + 1
        return out

    def _entry(self, block: list[str], lineno: int) -> _Chunk:
        chunk = _Chunk("entry", "".join(block), lineno)
        probs = chunk.problems
        parts: list[tuple[int, str]] = []
        for k, line in enumerate(block):
            c = _content(line)
            if k and (not c.strip(_WS) or c.lstrip(_WS).startswith("#")):
                probs.append(Problem(
                    lineno + k, WARNING, "syntax.comment-inside-entry",
                    "comment or blank line inside an entry: Postfix continues the entry after it, "
                    "Sendmail ends the entry here",
                    hint="move the comment above the entry"))
                continue
            if k and self.dialect == "aliases" and re.match(r"[ \t]+[^\s:,\"#|/\\]+[ \t]*:", c):
                probs.append(Problem(
                    lineno + k, WARNING, "syntax.indented-entry",
                    f"continuation line looks like an entry of its own: {c.strip(_WS)[:40]!r}",
                    hint="an indented line continues the entry above; remove the indentation"))
            parts.append((lineno + k, c.strip(_WS)))
        end_line = lineno + len(block) - 1
        logical = " ".join(p for _, p in parts)
        if "\x00" in logical:
            probs.append(Problem(lineno, ERROR, "syntax.nul", "NUL byte in the entry"))
        if self.dialect == "aliases":
            pieces = _split_outside_quotes(logical, ":")
            if len(pieces) < 2:
                chunk.kind = "bad"
                probs.append(Problem(
                    lineno, ERROR, "syntax.no-colon",
                    f"not a 'name: targets' line: {logical[:60]!r}",
                    hint="an alias line is 'name: target, target'; a comment starts with #"))
                return chunk
            raw_name = pieces[0].strip(_WS)
            value = ":".join(pieces[1:]).strip(_WS)
        else:
            m = re.match(r"([^ \t]+)[ \t]*(.*)", logical)
            raw_name = m.group(1) if m else ""
            value = m.group(2).strip(_WS) if m else ""
        name = _unquote(raw_name)
        if not _quote_balanced(logical):
            probs.append(Problem(lineno, ERROR, "syntax.quote", "unbalanced double quote",
                                 hint='close the quote: "|/path/to/program args"'))
        if not raw_name:
            chunk.kind = "bad"
            probs.append(Problem(lineno, ERROR, "syntax.empty-name", "entry without a name before the colon"))
            return chunk
        if self.dialect == "aliases":
            if not (raw_name.startswith('"') and raw_name.endswith('"')) and re.search(r"\s", raw_name, re.ASCII):
                probs.append(Problem(lineno, ERROR, "name.space", f"name {raw_name!r} contains whitespace",
                                     name=name, hint='quote it ("a b": ...) or remove the space'))
            if "@" in name:
                probs.append(Problem(
                    lineno, ERROR, "name.domain",
                    f"alias name {name!r} has a domain: local aliases match local parts only, so it is never used",
                    name=name, hint="put user@domain keys in virtual_alias_maps (mailtop aliases --virtual)"))
        else:
            if raw_name.endswith(":"):
                probs.append(Problem(
                    lineno, ERROR, "name.colon",
                    f"key {raw_name!r} ends with a colon: postmap makes the key include it",
                    name=name, hint="a virtual table line is 'key<space>address'; is this an aliases file?"))
        odd = _odd_chars(name)
        if odd:
            probs.append(Problem(lineno, WARNING, "name.odd-characters",
                                 f"name {name!r} contains unusual characters: {', '.join(odd)}", name=name,
                                 hint="retype it in plain ASCII"))
        targets: list[Target] = []
        if not value:
            if self.dialect == "virtual" and "@" not in name and "." in name:
                value = ""  # a virtual alias domain declaration may have any value; none is still wrong
            probs.append(Problem(end_line, ERROR, "syntax.no-targets", f"{name!r} has no targets", name=name,
                                 hint="add at least one target, or remove the entry"))
        else:
            seps = "," if self.dialect == "aliases" else ", \t"
            raw_targets = _split_outside_quotes(value, seps)
            starts, pos = [], 0
            for _, part in parts:
                starts.append(pos)
                pos += len(part) + 1
            off = len(logical.rstrip(_WS)) - len(value)
            empties = 0
            for rt in raw_targets:
                here = off + len(rt) - len(rt.lstrip(_WS))
                off += len(rt) + 1
                rt = rt.strip(_WS)
                if not rt:
                    empties += 1
                    continue
                where = parts[max(0, bisect.bisect_right(starts, here) - 1)][0] if parts else lineno
                t = classify_target(rt)
                targets.append(Target(t.text, t.kind, t.value, where))
            if self.dialect == "aliases" and empties:
                trailing = not raw_targets[-1].strip(_WS)
                probs.append(Problem(
                    end_line if trailing else lineno, WARNING, "syntax.empty-target",
                    "a comma with nothing after it" if trailing else "two commas with nothing between them",
                    name=name, hint="remove the extra comma"))
            if self.dialect == "virtual" and "@" not in name and "." in name:
                targets = []  # 'domain anything': the value is not an address
        chunk.entry = Entry(name, tuple(targets), lineno, end_line)
        if not _quote_balanced(logical):
            return chunk  # the targets are not what the author meant: the quote error says enough
        for t in targets:
            probs.extend(self._target_problems(t, name, t.line or lineno))
        return chunk

    def _target_problems(self, t: Target, name: str, line: int) -> list[Problem]:
        out: list[Problem] = []
        quoted = t.text.startswith('"')
        if self.dialect == "virtual" and t.kind in ("pipe", "file", "include"):
            out.append(Problem(line, ERROR, "target.virtual-delivery",
                               f"{name}: a virtual alias cannot deliver to a {t.kind} ({t.text})", name=name,
                               hint="point the virtual alias at a local alias that does it"))
            return out
        if t.kind == "pipe" and not quoted and re.search(r"\s", t.value, re.ASCII):
            out.append(Problem(line, WARNING, "target.unquoted-command",
                               f"{name}: command with spaces is not quoted: {t.text}", name=name,
                               hint=f'write it as {_quote(t.value)}'))
        elif _has_space(t):
            if " #" in t.text or "\t#" in t.text:
                out.append(Problem(line, ERROR, "target.inline-comment",
                                   f"{name}: {t.text!r}: '#' after a target is not a comment, it becomes part of it",
                                   name=name, hint="put the comment on a line of its own"))
            else:
                out.append(Problem(line, ERROR, "target.space", f"{name}: target {t.text!r} contains a space",
                                   name=name, hint="separate targets with commas"))
        if t.kind == "address" and t.value.lower().endswith(".redirect"):
            out.append(Problem(line, WARNING, "target.redirect",
                               f"{name}: {t.text}: .REDIRECT is a Sendmail feature; Postfix sends to that address",
                               name=name, hint="Postfix: use relocated_maps"))
        if t.kind == "error":
            out.append(Problem(line, WARNING, "target.error-mailer",
                               f"{name}: {t.text}: the error: mailer is Sendmail only", name=name))
        if t.kind == "address" and (t.value.startswith("@") or t.value.endswith("@")):
            out.append(Problem(line, ERROR, "target.bad-address", f"{name}: {t.text!r} is not an address",
                               name=name))
        odd = _odd_chars(t.value)
        if odd:
            out.append(Problem(line, WARNING, "target.odd-characters",
                               f"{name}: target {t.text!r} contains unusual characters: {', '.join(odd)}",
                               name=name, hint="retype it in plain ASCII"))
        return out


# --------------------------------------------------------------------------- validation


def _validate(
    chunks: list[_Chunk], text: str, dialect: Dialect, directory: Directory | None, check_files: bool,
) -> list[Problem]:
    probs: list[Problem] = []
    for ch in chunks:
        probs.extend(ch.problems)
    entries = [ch.entry for ch in chunks if ch.entry is not None]
    first: dict[str, Entry] = {}
    for e in entries:
        if e.key in first:
            f = first[e.key]
            probs.append(Problem(
                e.line, ERROR, "duplicate",
                f"duplicate name {e.name!r} (first defined on line {f.line}); Postfix uses the first, "
                "Sendmail the last", name=e.name, hint=f"merge the targets into line {f.line} and remove this one"))
        else:
            first[e.key] = e
    probs.extend(_format_problems(text))
    if dialect == "aliases":
        probs.extend(_alias_semantics(first, directory, check_files))
    else:
        probs.extend(_virtual_semantics(first, directory))
    probs.sort(key=lambda p: (p.line if p.line else 10**9, _SEVERITY_RANK.get(p.severity, 3), p.code))
    return probs


def _format_problems(text: str) -> list[Problem]:
    out: list[Problem] = []
    crlf = text.count("\r\n")
    lf = text.count("\n") - crlf
    if crlf and lf:
        out.append(Problem(0, WARNING, "format.mixed-newlines",
                           f"mixed line endings: {crlf} CRLF and {lf} LF lines",
                           hint="Postfix strips the CR; Sendmail keeps it as part of the last target"))
    elif crlf:
        out.append(Problem(0, INFO, "format.crlf", "CRLF (DOS) line endings",
                           hint="Postfix strips the CR; Sendmail keeps it: convert to LF"))
    if text and not text.endswith("\n"):
        out.append(Problem(0, INFO, "format.no-final-newline", "the last line has no newline"))
    bad = next((i for i, ch in enumerate(text) if "\udc80" <= ch <= "\udcff"), None)
    if bad is not None:
        out.append(Problem(text.count("\n", 0, bad) + 1, WARNING, "format.not-utf8",
                           "bytes that are not UTF-8", hint="Postfix with smtputf8_enable=yes skips such lines"))
    return out


def _is_mailbox_reachable(addr: str, aliases: dict[str, Entry], directory: Directory | None,
                          virtual_keys: set[str] | None = None) -> tuple[bool | None, str]:
    """Whether a full address ends somewhere: (True/False/None=unknown, why)."""
    local, _, domain = addr.rpartition("@")
    domain = domain.lower()
    if directory is None:
        return None, "no directory"
    if domain in directory.local_domains:
        lp = local.lower().split("+", 1)[0] if "+" in local else local.lower()
        if aliases is not None and lp in aliases:
            return True, ""
        if aliases is None and directory.local_aliases is not None and lp in directory.local_aliases:
            return True, ""
        known = directory.is_local_user(lp)
        if known is None:
            return None, f"cannot tell whether local user {lp!r} exists"
        return known, f"{local!r} is neither an alias nor a local user ({domain} is a local domain)"
    if domain in directory.virtual_mailbox_domains or domain in directory.virtual_alias_domains:
        full = addr.lower()
        base = full
        if "+" in local:
            base = local.lower().split("+", 1)[0] + "@" + domain
        valiases = virtual_keys if virtual_keys is not None else directory.virtual_aliases
        maps = [m for m in (directory.virtual_mailboxes, valiases) if m is not None]
        if any(full in m or base in m or "@" + domain in m for m in maps):
            return True, ""
        if len(maps) < 2:
            return None, f"cannot list every mailbox of {domain}"
        return False, f"{domain} is a virtual domain here and {addr!r} is neither a mailbox nor a virtual alias"
    return True, ""  # a remote domain: not ours to check


def _alias_semantics(first: dict[str, Entry], directory: Directory | None, check_files: bool) -> list[Problem]:
    out: list[Problem] = []
    # targets that go nowhere, and the alias graph for loops
    graph: dict[str, list[str]] = {}
    for key, e in first.items():
        edges: list[str] = []
        for t in e.targets:
            if _has_space(t) or not _quote_balanced(t.text):
                continue  # already an error of its own
            if t.kind == "local":
                lk = t.value.lower()
                if lk in first:
                    if lk != key:
                        edges.append(lk)
                    else:
                        user = directory.is_local_user(lk) if directory else None
                        if user is False:
                            out.append(Problem(t.line or e.line, ERROR, "loop",
                                               f"{e.name} lists itself and is not a local user: mail loops",
                                               name=e.name, hint="remove the self-reference"))
                        else:
                            out.append(Problem(t.line or e.line, INFO, "target.self",
                                               f"{e.name} lists itself: delivers to the user's own mailbox too",
                                               name=e.name, hint=f"write \\{t.value} to make that explicit"))
                    continue
                out.extend(_unknown_user(e, t, t.value, directory))
            elif t.kind == "user":
                out.extend(_unknown_user(e, t, t.value[1:], directory, alias_ok=False))
            elif t.kind == "address":
                local, _, domain = t.value.rpartition("@")
                if directory is not None and domain.lower() in directory.local_domains:
                    lk = local.lower()
                    if lk in first:
                        if lk != key:
                            edges.append(lk)
                        continue
                ok, why = _is_mailbox_reachable(t.value, first, directory)
                if ok is False:
                    out.append(Problem(t.line or e.line, ERROR, "target.nowhere", f"{e.name}: {t.text} goes nowhere: {why}",
                                       name=e.name, hint="check the spelling"))
                elif ok is None and directory is not None:
                    out.append(Problem(t.line or e.line, INFO, "target.unchecked", f"{e.name}: {t.text}: {why}", name=e.name))
            elif check_files:
                out.extend(_file_target(e, t))
        graph[key] = edges
    for cycle in _cycles(graph):
        names = [first[k].name for k in cycle]
        lines = ", ".join(str(first[k].line) for k in cycle)
        path = " -> ".join(names + [names[0]])
        out.append(Problem(first[cycle[0]].line, ERROR, "loop", f"alias loop: {path} (lines {lines})",
                           name=names[0], hint="break the cycle: one of them must end at a user or address"))
    # the required roles
    for role, sev, why in (("postmaster", ERROR, "RFC 5321 requires a postmaster address"),
                           ("abuse", WARNING, "RFC 2142 asks for an abuse address")):
        if role in first:
            continue
        user = directory.is_local_user(role) if directory else None
        if user:
            continue
        out.append(Problem(0, sev if directory is not None else WARNING, f"role.{role}",
                           f"no {role} alias{'' if user is False else ' (and mailtop cannot tell whether a ' + role + ' user exists)'}: {why}",
                           name=role, hint=f"add '{role}: root' (or a person)"))
    out.extend(_list_triples(first))
    return out


def _unknown_user(e: Entry, t: Target, name: str, directory: Directory | None, alias_ok: bool = True) -> list[Problem]:
    if directory is None:
        return []
    known = directory.is_local_user(name)
    if known:
        return []
    if known is None:
        return [Problem(t.line or e.line, WARNING, "target.unchecked",
                        f"{e.name}: cannot tell whether local user {name!r} exists", name=e.name)]
    what = "neither an alias nor a local user" if alias_ok else "not a local user"
    return [Problem(t.line or e.line, ERROR, "target.unknown-user", f"{e.name}: {t.text} goes nowhere: {name!r} is {what}",
                    name=e.name, hint="check the spelling, or add the user to [aliases] extra_users if NSS cannot see it")]


def _file_target(e: Entry, t: Target) -> list[Problem]:
    if t.kind == "include":
        path = Path(t.value[9:].strip(_WS))
        if not path.is_absolute():
            return [Problem(t.line or e.line, ERROR, "target.include-relative", f"{e.name}: {t.text}: the path must be absolute",
                            name=e.name)]
        if not path.is_file():
            return [Problem(t.line or e.line, WARNING, "target.include-missing", f"{e.name}: include file {path} does not exist",
                            name=e.name, hint="mail to this alias is deferred until it exists")]
    elif t.kind == "file":
        path = Path(t.value)
        if not path.parent.is_dir():
            return [Problem(t.line or e.line, WARNING, "target.file-folder", f"{e.name}: folder {path.parent} does not exist",
                            name=e.name)]
    elif t.kind == "pipe":
        argv0 = t.value[1:].strip(_WS).split(" ", 1)[0].strip('"')
        if argv0.startswith("/"):
            p = Path(argv0)
            if not p.is_file() or not os.access(p, os.X_OK):
                return [Problem(t.line or e.line, WARNING, "target.command-missing",
                                f"{e.name}: command {argv0} is not an executable file", name=e.name)]
    return []


def _list_triples(first: dict[str, Entry]) -> list[Problem]:
    out: list[Problem] = []
    lists: set[str] = set()
    for k in first:
        if k.startswith("owner-") and len(k) > 6:
            lists.add(k[6:])
        if k.endswith("-request") and len(k) > 8:
            lists.add(k[:-8])
    for lst in sorted(lists):
        have = {"list": lst in first, "owner": f"owner-{lst}" in first, "request": f"{lst}-request" in first}
        present = [first[n] for n in (lst, f"owner-{lst}", f"{lst}-request") if n in first]
        line = min(e.line for e in present)
        if not have["list"]:
            which = [f"owner-{lst}"] if have["owner"] else []
            which += [f"{lst}-request"] if have["request"] else []
            if lst in ("mailer-daemon",):
                continue
            out.append(Problem(line, WARNING, "list.orphan",
                               f"{' and '.join(which)} but no list {lst!r}", name=lst,
                               hint=f"add the list '{lst}:' or remove what is left of it"))
            continue
        missing = [n for n, ok in ((f"owner-{lst}", have["owner"]), (f"{lst}-request", have["request"])) if not ok]
        if missing:
            out.append(Problem(line, WARNING, "list.incomplete",
                               f"mailing list {lst!r} has no {' and no '.join(missing)}", name=lst,
                               hint="a list needs list, owner-list (bounces) and list-request (admin requests)"))
    return out


def _virtual_semantics(first: dict[str, Entry], directory: Directory | None) -> list[Problem]:
    out: list[Problem] = []
    graph: dict[str, list[str]] = {}
    domains = {k for k in first if "@" not in k and "." in k}
    for key, e in first.items():
        edges = []
        for t in e.targets:
            if t.kind == "address":
                tk = t.value.lower()
                if tk in first:
                    if tk != key:
                        edges.append(tk)
                    continue
                dom = t.domain
                if dom in domains or ("@" + dom) in first:
                    if ("@" + dom) in first:
                        continue
                    out.append(Problem(t.line or e.line, ERROR, "target.nowhere",
                                       f"{e.name}: {t.text} goes nowhere: {dom} is a virtual alias domain in this "
                                       "table and there is no such key", name=e.name))
                    continue
                if directory is not None:
                    lp = t.local_part.lower()
                    if dom in directory.local_domains and directory.local_aliases is not None \
                            and lp in directory.local_aliases:
                        continue
                    ok, why = _is_mailbox_reachable(t.value, None, directory, set(first))
                    if ok is False:
                        out.append(Problem(t.line or e.line, ERROR, "target.nowhere", f"{e.name}: {t.text} goes nowhere: {why}",
                                           name=e.name, hint="check the spelling"))
                    elif ok is None:
                        out.append(Problem(t.line or e.line, INFO, "target.unchecked", f"{e.name}: {t.text}: {why}",
                                           name=e.name))
            elif t.kind in ("local", "user"):
                lk = t.local_part.lower()
                if directory is not None:
                    if directory.local_aliases is not None and lk in directory.local_aliases and t.kind == "local":
                        continue
                    out.extend(_unknown_user(e, t, lk, directory))
        graph[key] = edges
    for cycle in _cycles(graph):
        names = [first[k].name for k in cycle]
        path = " -> ".join(names + [names[0]])
        out.append(Problem(first[cycle[0]].line, ERROR, "loop", f"virtual alias loop: {path}", name=names[0]))
    # every domain this table serves needs a postmaster and should have an abuse address
    served = set(domains)
    served |= {k.rpartition("@")[2] for k in first if "@" in k and not k.endswith(":")}
    for dom in sorted(served):
        if not dom:
            continue
        if f"@{dom}" in first:
            continue
        for role, sev in (("postmaster", WARNING), ("abuse", INFO)):
            if f"{role}@{dom}" in first:
                continue
            if directory is not None and directory.virtual_mailboxes is not None \
                    and f"{role}@{dom}" in directory.virtual_mailboxes:
                continue
            out.append(Problem(0, sev, f"role.{role}", f"no {role}@{dom} in this table", name=f"{role}@{dom}",
                               hint=f"add '{role}@{dom} postmaster@localhost' (or a person)"))
    return out


def _cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan), each in a readable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def strong(v: str) -> None:
        # iterative Tarjan to survive very long alias chains
        work = [(v, iter(graph.get(v, ())))]
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        while work:
            node, it = work[-1]
            advanced = False
            for w in it:
                if w not in graph:
                    continue
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(graph.get(w, ()))))
                    advanced = True
                    break
                if w in on:
                    low[node] = min(low[node], index[w])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    out.append(_order_cycle(comp, graph))

    for v in graph:
        if v not in index:
            strong(v)
    return out


def _order_cycle(comp: list[str], graph: dict[str, list[str]]) -> list[str]:
    members = set(comp)
    start = min(comp, key=lambda k: list(graph).index(k))
    path = [start]
    seen = {start}
    cur = start
    while True:
        nxt = next((w for w in graph[cur] if w in members and w not in seen), None)
        if nxt is None:
            break
        path.append(nxt)
        seen.add(nxt)
        cur = nxt
    return path


# --------------------------------------------------------------------------- the file


class AliasFile:
    """An aliases file (or a virtual alias table) in memory, with edits and problems.

    Edits (``set``, ``remove``) change the text of the touched entry only and re-read the result, so
    ``entries``, ``problems`` and line numbers always describe what ``render()`` returns.
    """

    def __init__(self, text: str, *, path: Path | None = None, dialect: Dialect = "aliases",
                 directory: Directory | None = None, check_files: bool = True,
                 fingerprint: Fingerprint | None = None) -> None:
        if dialect not in ("aliases", "virtual"):
            raise ValueError(f"unknown dialect {dialect!r}")
        self.path = Path(path) if path is not None else None
        self.dialect: Dialect = dialect
        self.directory = directory
        self.check_files = check_files
        self.original_text = text
        self.fingerprint = fingerprint
        self.changed_names: list[str] = []
        self._set_text(text)

    # ---- construction

    @classmethod
    def load(cls, path: Path | str, *, dialect: Dialect = "aliases", directory: Directory | None = None,
             check_files: bool = True, missing_ok: bool = False) -> AliasFile:
        """Read ``path``. A missing file is an error unless ``missing_ok`` (then it starts empty)."""
        path = Path(path)
        try:
            data, fp = Fingerprint.read(path)
        except FileNotFoundError:
            if not missing_ok:
                raise
            return cls("", path=path, dialect=dialect, directory=directory, check_files=check_files,
                       fingerprint=Fingerprint(False))
        return cls(data.decode("utf-8", "surrogateescape"), path=path, dialect=dialect, directory=directory,
                   check_files=check_files, fingerprint=fp)

    @classmethod
    def from_text(cls, text: str, **kw) -> AliasFile:
        return cls(text, **kw)

    def _set_text(self, text: str) -> None:
        self._text = text
        self._chunks = _Parser(text, self.dialect).chunks()
        self._problems: list[Problem] | None = None

    # ---- reading

    @property
    def entries(self) -> list[Entry]:
        """Every entry in file order (duplicates included)."""
        return [c.entry for c in self._chunks if c.entry is not None]

    def get(self, name: str) -> Entry | None:
        """The entry the mail system uses for ``name`` (Postfix: the first one)."""
        key = name.lower()
        return next((e for e in self.entries if e.key == key), None)

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def names(self) -> list[str]:
        seen: dict[str, str] = {}
        for e in self.entries:
            seen.setdefault(e.key, e.name)
        return list(seen.values())

    @property
    def problems(self) -> list[Problem]:
        if self._problems is None:
            self._problems = _validate(self._chunks, self._text, self.dialect, self.directory, self.check_files)
        return self._problems

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def is_valid(self) -> bool:
        return not self.errors

    @property
    def changed(self) -> bool:
        return self._text != self.original_text

    def render(self) -> str:
        return self._text

    def render_bytes(self) -> bytes:
        return self._text.encode("utf-8", "surrogateescape")

    def diff(self) -> str:
        """A unified diff from the text as read to the text as it is now."""
        name = str(self.path or self.dialect)
        return "".join(difflib.unified_diff(
            _split_lines(self.original_text), _split_lines(self._text), fromfile=f"{name} (on disk)",
            tofile=f"{name} (edited)"))

    # ---- editing

    def _newline(self) -> str:
        return "\r\n" if self._text.count("\r\n") * 2 > self._text.count("\n") else "\n"

    def _indent(self) -> str:
        for c in self._chunks:
            if c.kind == "entry":
                for line in _split_lines(c.text)[1:]:
                    m = re.match(r"[ \t]+", line)
                    if m and _content(line).strip(_WS) and not _content(line).lstrip(_WS).startswith("#"):
                        return m.group(0)
        return "\t"

    def _separator(self) -> str:
        for c in self._chunks:
            if c.entry is not None:
                m = re.match(r"\S+(\s+)", _content(c.text))
                if m:
                    return m.group(1)
        return " "

    def format_entry(self, name: str, targets: Sequence[str]) -> str:
        """The text of one entry, in this file's style (line ending, continuation indent)."""
        nl = self._newline()
        if self.dialect == "aliases":
            shown = name if _NAME_SAFE.fullmatch(name) else _quote(name)
            head = f"{shown}: "
        else:
            if not name or re.search(r"\s", name):
                raise AliasError(f"virtual key {name!r} must be one word")
            head = f"{name}{self._separator()}"
        items = [self._format_target(t) for t in targets]
        line = head + ", ".join(items)
        if len(line) <= 78 or len(items) == 1:
            return line + nl
        indent = self._indent()
        rows, cur = [], head + items[0]
        for item in items[1:]:
            if len(cur) + 2 + len(item) > 78:
                rows.append(cur + ",")
                cur = indent + item
            else:
                cur += ", " + item
        rows.append(cur)
        return nl.join(rows) + nl

    def _format_target(self, target: str) -> str:
        t = target.strip()
        if t.startswith('"'):
            return t
        kind = classify_target(t).kind
        needs = kind in ("pipe", "file", "include") and re.search(r"[\s,#]", t)
        if self.dialect == "aliases" and (needs or (kind == "pipe" and "," in t)):
            return _quote(t)
        return t

    @staticmethod
    def _check_edit(name: str, targets: Sequence[str] | None) -> None:
        if not isinstance(name, str) or not name.strip():
            raise AliasError("the name must not be empty")
        if any(ch in name for ch in "\r\n\x00"):
            raise AliasError("the name must be one line")
        if targets is None:
            return
        if isinstance(targets, str):
            raise AliasError("targets must be a list of strings, not one string")
        if not targets:
            raise AliasError(f"{name}: give at least one target (or remove the entry)")
        for t in targets:
            if not isinstance(t, str) or not t.strip():
                raise AliasError(f"{name}: empty target")
            if any(ch in t for ch in "\r\n\x00"):
                raise AliasError(f"{name}: a target must be one line")

    def set(self, name: str, targets: Sequence[str]) -> None:
        """Add ``name`` (at the end) or replace its targets where it stands.

        With duplicate definitions only the first (the one Postfix uses) changes; the validator keeps
        reporting the others until they are removed. Comments inside a replaced entry move above it.
        """
        self._check_edit(name, targets)
        name = name.strip()
        new = self.format_entry(name, [t.strip() for t in targets])
        key = name.lower()
        parts: list[str] = []
        done = False
        for c in self._chunks:
            if not done and c.entry is not None and c.entry.key == key:
                nl = self._newline()
                for line in _split_lines(c.text)[1:]:
                    if _content(line).lstrip().startswith("#"):
                        parts.append(_content(line).lstrip() + nl)
                text = new
                if not c.text.endswith("\n"):
                    text = text.rstrip("\r\n")
                parts.append(text)
                done = True
            else:
                parts.append(c.text)
        if not done:
            if parts and not parts[-1].endswith("\n"):
                parts[-1] += self._newline()
            parts.append(new)
        self._set_text("".join(parts))
        self.changed_names.append(name)

    def add(self, name: str, targets: Sequence[str]) -> None:
        """Like ``set`` but refuse when ``name`` already exists."""
        self._check_edit(name, targets)
        if self.get(name) is not None:
            raise AliasError(f"{name!r} already exists on line {self.get(name).line}; use set to change it")
        self.set(name, targets)

    def remove(self, name: str) -> int:
        """Remove every entry for ``name`` (duplicates too); returns how many. KeyError when there is none."""
        self._check_edit(name, None)
        key = name.strip().lower()
        parts: list[str] = []
        removed = 0
        nl = self._newline()
        for c in self._chunks:
            if c.entry is not None and c.entry.key == key:
                removed += 1
                for line in _split_lines(c.text)[1:]:  # keep comments that sat inside the entry
                    if _content(line).lstrip().startswith("#"):
                        parts.append(_content(line).lstrip() + nl)
                continue
            parts.append(c.text)
        if not removed:
            raise KeyError(name)
        text = "".join(parts)
        if self._text.endswith("\n") is False and text.endswith("\n") and self._text:
            pass  # the removed entry was the unterminated last line: leave the rest as it is
        self._set_text(text)
        self.changed_names.append(name.strip())
        return removed

    def set_directory(self, directory: Directory | None) -> None:
        """Judge targets against ``directory`` from now on (the problems are recomputed)."""
        self.directory = directory
        self._problems = None

    def set_text(self, text: str) -> None:
        """Replace the whole text (the editor panel after free typing)."""
        self._set_text(text)
        self.changed_names.append("*")


def validate_text(text: str, dialect: Dialect = "aliases", directory: Directory | None = None,
                  check_files: bool = True) -> list[Problem]:
    """Every problem in ``text`` (for text being typed): syntax, duplicates, loops, targets, roles, lists."""
    return AliasFile(text, dialect=dialect, directory=directory, check_files=check_files).problems


# --------------------------------------------------------------------------- rebuild plan


@dataclass(frozen=True, slots=True)
class RebuildPlan:
    """The command that turns the text file into what Postfix reads. ``argv`` None: nothing to run."""

    argv: tuple[str, ...] | None
    reason: str
    table: str = ""  # e.g. "hash:/etc/aliases"
    used: bool = True  # whether the configured Postfix reads this file at all


def plan_rebuild(path: Path, dialect: Dialect, config_dir: Path | None, bin_dir: Path = Path("/usr/sbin"),
                 mode: str = "auto") -> RebuildPlan:
    """Pick the rebuild command from the Postfix configuration.

    aliases: when ``alias_database`` names only this file, ``newaliases -C DIR`` (the command an admin
    knows); when it names this file among others, ``postalias -c DIR type:FILE`` (only this one);
    when only ``alias_maps`` names it, postalias with that type; otherwise postalias with
    ``default_database_type`` and ``used=False``. virtual: ``postmap -c DIR type:FILE`` with the type
    ``virtual_alias_maps`` names; ``texthash:`` has no database (Postfix rereads it on reload).
    ``mode``: auto, newaliases, postalias, postmap, sendmail (plain ``newaliases``), none.
    """
    path = Path(path)
    real = os.path.realpath(path)
    if mode == "none":
        return RebuildPlan(None, "rebuild disabled ([aliases] rebuild = none)")
    if mode == "sendmail":
        exe = find_program("newaliases", bin_dir) or "newaliases"
        return RebuildPlan((exe,), "Sendmail: newaliases")
    names = ["alias_database", "alias_maps", "default_database_type"] if dialect == "aliases" \
        else ["virtual_alias_maps", "default_database_type"]
    values = postconf(names, config_dir, bin_dir) or {}
    default_type = values.get("default_database_type") or "hash"

    def specs(param: str) -> list[tuple[str, str]]:
        return [_table_type(tok) for tok in _split_list(values.get(param, ""))]

    def ours(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
        return [(t, n) for t, n in items if n and os.path.realpath(n) == real]

    cdir = ["-c", str(config_dir)] if config_dir is not None else []
    if dialect == "aliases":
        db = specs("alias_database")
        mine = ours(db)
        if mode == "newaliases" or (mode == "auto" and mine and len(db) == 1):
            exe = find_program("newaliases", bin_dir) or "newaliases"
            argv = (exe, "-C", str(config_dir)) if config_dir is not None else (exe,)
            typ = mine[0][0] if mine else default_type
            return RebuildPlan(argv, "alias_database names this file", f"{typ}:{path}")
        exe = find_program("postalias", bin_dir) or "postalias"
        if mine:
            typ, used, why = mine[0][0], True, "alias_database names this file among others: rebuild only it"
        elif ours(specs("alias_maps")):
            typ, used, why = ours(specs("alias_maps"))[0][0], True, "alias_maps names this file"
        else:
            typ, used = default_type, False
            why = f"the Postfix in {config_dir} does not read this file (not in alias_maps)"
        return RebuildPlan((exe, *cdir, f"{typ}:{path}"), why, f"{typ}:{path}", used)
    mine = ours(specs("virtual_alias_maps"))
    if mine:
        typ, used, why = mine[0][0], True, "virtual_alias_maps names this file"
    else:
        typ, used = default_type, False
        why = f"the Postfix in {config_dir} does not read this file (not in virtual_alias_maps)"
    if typ == "texthash":
        return RebuildPlan(None, "texthash: no database to build; Postfix reads the file when its processes "
                           f"restart (postfix -c {config_dir} reload)", f"texthash:{path}", used)
    if typ not in _LISTABLE:
        return RebuildPlan(None, f"{typ}: tables are not built by postmap", f"{typ}:{path}", used)
    exe = find_program("postmap", bin_dir) or "postmap"
    return RebuildPlan((exe, *cdir, f"{typ}:{path}"), why, f"{typ}:{path}", used)


# --------------------------------------------------------------------------- saving


@dataclass(frozen=True, slots=True)
class SaveResult:
    """What ``save`` did. ``status``:

    - ``saved``: the new file is in place and rebuilt (or needs no rebuild);
    - ``unchanged``: nothing to write;
    - ``refused``: nothing was written (problems, file changed on disk, read-only, audit log);
    - ``rolled-back``: the rebuild failed, the previous file is back (``rollback_rebuilt`` says whether
      the database was rebuilt from it again); ``message`` holds the tool's stderr;
    - ``failed``: something went wrong that could not be undone; ``message`` says what.
    """

    status: str
    message: str
    path: Path | None = None
    backup: Path | None = None
    rebuild: tuple[str, ...] | None = None
    rebuild_output: str = ""
    rollback_rebuilt: bool | None = None
    problems: tuple[Problem, ...] = ()
    changed_names: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.status in ("saved", "unchanged")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


TMP_PREFIX = ".mailtop-tmp."


def atomic_write(path: Path, data: bytes, like: os.stat_result | None = None) -> None:
    """Write ``data`` to ``path`` so a crash at any instant leaves the old file or the new one, whole:
    a temporary file in the same folder, fsync, rename over, fsync the folder. Mode and owner follow
    ``like`` (the file being replaced)."""
    folder = path.parent
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=TMP_PREFIX + path.name + ".")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            if like is not None:
                os.fchmod(fh.fileno(), stat.S_IMODE(like.st_mode))
                if os.geteuid() == 0:
                    os.fchown(fh.fileno(), like.st_uid, like.st_gid)
            else:
                os.fchmod(fh.fileno(), 0o644)
            os.fsync(fh.fileno())
        os.rename(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(folder)


def _clean_stale_temps(path: Path) -> list[str]:
    """Temporary files a killed save left behind (we hold the folder lock, so none is in use)."""
    removed = []
    for p in path.parent.glob(TMP_PREFIX + path.name + ".*"):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
            removed.append(p.name)
    return removed


@contextlib.contextmanager
def _folder_lock(folder: Path):
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _backup(path: Path, data: bytes, like: os.stat_result, backup_dir: Path | None, keep: int) -> Path:
    folder = backup_dir or path.parent
    folder.mkdir(parents=True, exist_ok=True)
    stamp = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    dest = folder / f"{path.name}.mailtop-{stamp}"
    atomic_write(dest, data, like)
    if keep > 0:
        olds = sorted(folder.glob(f"{path.name}.mailtop-*"))
        for old in olds[:-keep]:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
    return dest


def _run_rebuild(argv: tuple[str, ...], timeout: float) -> tuple[bool, str]:
    try:
        out = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout, check=False,
                             stdin=subprocess.DEVNULL, errors="replace")
    except FileNotFoundError:
        return False, f"{argv[0]}: program not found"
    except subprocess.TimeoutExpired:
        return False, f"{' '.join(argv)}: no answer after {timeout:g} s (stopped)"
    except OSError as exc:
        return False, f"{argv[0]}: {exc.strerror or exc}"
    text = (out.stderr.strip() + ("\n" + out.stdout.strip() if out.stdout.strip() else "")).strip()
    if out.returncode == 0:
        return True, text
    if out.returncode < 0:
        import signal as _signal

        try:
            sig = _signal.Signals(-out.returncode).name
        except ValueError:
            sig = str(-out.returncode)
        why = f"killed by signal {sig}"
        if sig == "SIGXFSZ":
            why += " (file size limit exceeded: the database did not fit)"
        return False, f"{' '.join(argv)}: {why}" + (f"\n{text}" if text else "")
    return False, text or f"{' '.join(argv)}: exit status {out.returncode}"


def save(
    af: AliasFile,
    *,
    config_dir: Path | None = None,
    bin_dir: Path = Path("/usr/sbin"),
    rebuild: str = "auto",
    audit_log: Path | None = None,
    backup_dir: Path | None = None,
    backup_keep: int = 10,
    timeout: float = 60.0,
    read_only: bool = False,
    allow_unused: bool = True,
) -> SaveResult:
    """Write ``af`` back to its path, rebuild, and roll back when the rebuild fails.

    Never writes a file with errors; never writes over a file that changed since ``af`` was read
    (mtime, size and SHA-256 compared under a lock on the folder); the new file replaces the old one
    by rename, so a crash leaves one or the other, whole. The previous file is kept as a dated backup
    (``<name>.mailtop-<UTC time>``, the last ``backup_keep``). Every attempt that gets past the checks
    is appended to ``audit_log``.
    """
    path = af.path
    changed = tuple(dict.fromkeys(af.changed_names))
    if path is None:
        return SaveResult("refused", "this text has no file to save to")
    if read_only:
        return SaveResult("refused", "read-only mode: saving is disabled", path)
    errors = af.errors
    if errors:
        first = errors[0]
        return SaveResult("refused", f"{len(errors)} error(s), fix them first; {first}", path,
                          problems=tuple(errors), changed_names=changed)
    plan = plan_rebuild(path, af.dialect, config_dir, bin_dir, rebuild)
    notes: list[str] = []
    if not plan.used:
        notes.append(plan.reason)
        if not allow_unused:
            return SaveResult("refused", plan.reason, path, notes=tuple(notes))
    if audit_log is not None:
        try:  # refuse rather than act without a trace
            audit_log = Path(audit_log).expanduser()
            audit_log.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(audit_log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))
        except OSError as exc:
            return SaveResult("refused", f"cannot write the audit log {audit_log}: {exc.strerror or exc}", path)
    new = af.render_bytes()
    old = af.original_text.encode("utf-8", "surrogateescape")

    def audit(result: str, detail: str) -> None:
        if audit_log is None:
            return
        from mailtop.ops.audit import append_audit

        try:
            append_audit(audit_log, f"{af.dialect}.save", list(plan.argv or ()), [str(path), *changed],
                         result, detail)
        except OSError as exc:
            notes.append(f"the audit log could not be written: {exc.strerror or exc}")

    try:
        with _folder_lock(path.parent):
            now = Fingerprint.of(path)
            fp = af.fingerprint or Fingerprint(False)
            if now != fp:
                what = "was created" if not fp.exists else ("was removed" if not now.exists else "changed")
                return SaveResult("refused", f"{path} {what} on disk since it was read; reload it and "
                                  "make the change again", path, changed_names=changed)
            if new == old and fp.exists:
                return SaveResult("unchanged", "nothing to save", path)
            stale = _clean_stale_temps(path)
            if stale:
                notes.append(f"removed {len(stale)} temporary file(s) an interrupted save left behind")
            like = os.stat(path) if fp.exists else None
            backup = _backup(path, old, like, backup_dir, backup_keep) if like is not None else None
            atomic_write(path, new, like)
            if plan.argv is None:
                notes.append(plan.reason)
                audit("ok", f"saved; {plan.reason}")
                af.original_text = af.render()
                af.fingerprint = Fingerprint.of(path)
                af.changed_names = []
                return SaveResult("saved", f"saved {path}; {plan.reason}", path, backup, None, "",
                                  None, (), changed, tuple(notes))
            ok, output = _run_rebuild(plan.argv, timeout)
            if ok:
                audit("ok", output[:500])
                af.original_text = af.render()
                af.fingerprint = Fingerprint.of(path)
                af.changed_names = []
                return SaveResult("saved", f"saved {path} and ran {' '.join(plan.argv)}", path, backup, plan.argv,
                                  output, None, (), changed, tuple(notes))
            # the rebuild failed: put the previous file back and rebuild from it
            if like is None:
                os.unlink(path)
                _fsync_dir(path.parent)
                again, again_out = True, ""
            else:
                atomic_write(path, old, like)
                again, again_out = _run_rebuild(plan.argv, timeout)
            af.fingerprint = Fingerprint.of(path)
            msg = (f"{' '.join(plan.argv)} failed, the previous {path.name} is back"
                   + ("" if again else " but rebuilding from it failed too") + f": {output}")
            if not again and again_out and again_out != output:
                msg += f"\nsecond rebuild: {again_out}"
            audit("failed", msg[:1000])
            return SaveResult("rolled-back", msg, path, backup, plan.argv, output, again, (), changed, tuple(notes))
    except OSError as exc:
        audit("failed", f"{exc.strerror or exc}")
        return SaveResult("failed", f"saving {path} failed: {exc.strerror or exc} ({exc.filename or path}); "
                          "the file on disk is the old one or the new one, whole", path, notes=tuple(notes))


def save_with_config(af: AliasFile, cfg) -> SaveResult:
    """``save`` with the settings of a ``mailtop.config.Config``. A file loaded without a recipient
    directory gets the configured one first, so targets that go nowhere are refused here too."""
    if af.directory is None:
        af.set_directory(directory_for(cfg))
    return save(
        af,
        config_dir=cfg.postfix.config_dir,
        bin_dir=cfg.postfix.bin_dir,
        rebuild=cfg.aliases.rebuild,
        audit_log=cfg.general.audit_log,
        backup_dir=cfg.aliases.backup_dir,
        backup_keep=cfg.aliases.backup_keep,
        timeout=cfg.aliases.rebuild_timeout,
        read_only=cfg.general.read_only,
    )


def directory_for(cfg) -> Directory:
    """The recipient directory for a ``Config``: its Postfix plus ``[aliases] extra_users``."""
    return Directory.from_postfix(cfg.postfix.config_dir, cfg.postfix.bin_dir, cfg.aliases.extra_users,
                                  timeout=cfg.general.timeout * 2)


def database_is_stale(path: Path, plan: RebuildPlan) -> bool | None:
    """True when the built database is older than the text file (a rebuild was forgotten or interrupted)."""
    typ = plan.table.partition(":")[0]
    suffix = _DB_SUFFIX.get(typ)
    if suffix is None:
        return None
    db = Path(str(path) + suffix)
    try:
        return db.stat().st_mtime_ns < Path(path).stat().st_mtime_ns
    except FileNotFoundError:
        return True
