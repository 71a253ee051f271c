"""Start ``postqueue -j`` for ``mailtop queue`` before the rest of the CLI is imported.

At 10,000 messages ``postqueue -j`` takes about 0.19 s; importing the CLI, argparse and the config
code and building the parser took about 40 ms before the listing could start. So ``mailtop queue``
(the summary view only) guesses the listing command from the few settings it depends on
(``[postfix] config_dir``, ``bin_dir``, ``queue_format``, ``mailq_command``: flag ``--set``, env
``MAILTOP_POSTFIX__*``, the ``[postfix]`` table of the config file) and starts it at once; the CLI is
imported and the config loaded while it runs.

The guess is only a head start, never a decision: once the real configuration is loaded,
``PostfixQueue.summarize`` uses the started process only when its command is exactly the one the
configuration gives (``listing_argv("json")``); otherwise the process is killed and the listing
started again. Every error, warning and config check is the normal path's. ``postqueue -j`` only
reads, so a wasted guess costs time, nothing else. The guess gives up (nothing is started) at
anything it does not understand: another option, a ``[postfix]`` line that is not ``key = "text"``,
a multi-line string, a path it cannot compare without ``pathlib``.

Only ``os``, ``io`` and ``time`` (loaded with the interpreter anyway) are used before the process
starts: no ``subprocess`` (9 ms with ``locale``/``re``/``enum``), no ``re``, no ``pathlib``, no
``tomllib`` (14 ms with ``typing``/``datetime``).
"""

from __future__ import annotations

import os
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

DEFAULT_CONFIG_DIR = "/etc/postfix"
DEFAULT_BIN_DIR = "/usr/sbin"
_KEYS = ("config_dir", "bin_dir", "queue_format", "mailq_command")

# Options the early start understands; any other word and it leaves the work to the normal path.
_GLOBAL_VALUE = ("--config", "--set")
_GLOBAL_FLAGS = ("--read-only",)
_QUEUE_VALUE = ("--queue", "--top")
_QUEUE_FLAGS = ("--json", "--shape", "--reasons")

PIPE_SIZE = 1 << 20  # the listing runs ahead of the CLI's imports: ~80 ms of postqueue's output at 10k


def _executable(path: str) -> bool:
    return os.access(path, os.X_OK) and os.path.isfile(path)


def find_program(name: str, bin_dir: str | Path) -> str | None:
    """``bin_dir/name`` when executable, else ``name`` on PATH, else None (``shutil.which``'s rule,
    without importing shutil and its compression modules on the start-up path)."""
    cand = os.path.join(bin_dir, name)
    if _executable(cand):
        return cand
    if os.path.dirname(name):
        return name if _executable(name) else None
    for folder in os.environ.get("PATH", os.defpath).split(os.pathsep):
        cand = os.path.join(folder or os.curdir, name)
        if _executable(cand):
            return cand
    return None


class EarlyListing:
    """A listing command started by ``start()``: the small part of ``subprocess.Popen`` that
    ``mailtop.mta.postfix._Listing`` uses (``stdout``, ``poll``, ``wait``, ``kill``, ``returncode``),
    plus ``argv``, ``started`` (``time.time()`` at the start: the listing's reference time) and the
    stderr file descriptor (a memfd)."""

    def __init__(self, argv: list[str], pid: int, stdout_fd: int, err_fd: int, started: float) -> None:
        self.argv = argv
        self.pid = pid
        self.stdout = open(stdout_fd, "rb", buffering=0)  # noqa: SIM115 - closed by finish()/discard()
        self.err_fd = err_fd
        self.started = started
        self.returncode: int | None = None
        self.adopted = False

    def _reaped(self, status: tuple[int, int]) -> int | None:
        pid, st = status
        if pid == 0:
            return None
        self.returncode = os.waitstatus_to_exitcode(st)
        return self.returncode

    def poll(self) -> int | None:
        if self.returncode is None:
            return self._reaped(os.waitpid(self.pid, os.WNOHANG))
        return self.returncode

    def wait(self) -> int:
        if self.returncode is None:
            self._reaped(os.waitpid(self.pid, 0))
        assert self.returncode is not None
        return self.returncode

    def kill(self) -> None:
        if self.returncode is None:  # never signal a PID that was reaped (and may be reused)
            try:
                os.kill(self.pid, 9)
            except ProcessLookupError:
                pass

    def adopt(self) -> int:
        """Hand the process over (``_Listing`` reaps it and closes its files); returns the stderr fd."""
        self.adopted = True
        return self.err_fd

    def discard(self) -> None:
        """Kill, reap and close, unless it was adopted. Idempotent."""
        if self.adopted:
            return
        self.adopted = True
        self.kill()
        self.wait()
        self.stdout.close()
        os.close(self.err_fd)


def start(argv: list[str]) -> EarlyListing | None:
    """Run ``argv`` with stdout to a pipe (enlarged to ``PIPE_SIZE``), stdin from /dev/null, stderr to
    an anonymous file, the way ``_Listing`` runs it with ``subprocess.Popen`` (SIGPIPE and SIGXFSZ at
    their defaults in the child). None when it cannot be started here (the normal path then runs it
    and reports any error)."""
    if not hasattr(os, "posix_spawn") or not hasattr(os, "memfd_create"):
        return None
    try:
        import _signal  # the C module under ``signal``: its constants without importing enum

        defaults = tuple(getattr(_signal, n) for n in ("SIGPIPE", "SIGXFSZ") if hasattr(_signal, n))
    except ImportError:
        defaults = ()
    try:
        err = os.memfd_create("mailtop-stderr", os.MFD_CLOEXEC)
    except OSError:
        return None
    try:
        r, w = os.pipe()  # both close-on-exec; the child gets w as its stdout through dup2
    except OSError:
        os.close(err)
        return None
    _grow_pipe(r)
    started = time.time()
    try:
        pid = os.posix_spawn(argv[0], argv, os.environ, file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_DUP2, w, 1),
            (os.POSIX_SPAWN_DUP2, err, 2),
        ], setsigdef=defaults)
    except OSError:
        for fd in (r, w, err):
            os.close(fd)
        return None
    os.close(w)
    return EarlyListing(argv, pid, r, err, started)


def _grow_pipe(fd: int) -> None:
    try:
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE)
    except (ImportError, AttributeError, OSError):  # not Linux, or above /proc/sys/fs/pipe-max-size
        pass


# --------------------------------------------------------------------------- the guess


def _options(words: Sequence[str], value_opts: tuple[str, ...], flag_opts: tuple[str, ...],
             stop: str | None) -> tuple[dict[str, list[str]], int] | None:
    """``--opt VALUE``/``--opt=VALUE`` and flags up to the word ``stop`` (or the end): ({opt: values},
    index of ``stop``); None at any other word."""
    found: dict[str, list[str]] = {}
    i = 0
    while i < len(words):
        word = words[i]
        if word == stop:
            return found, i
        name, eq, value = word.partition("=") if word.startswith("--") else (word, "", "")
        if name in value_opts:
            if not eq:
                i += 1
                if i >= len(words):
                    return None
                value = words[i]
            found.setdefault(name, []).append(value)
        elif word not in flag_opts:
            return None
        i += 1
    return (found, i) if stop is None else None


def queue_summary_options(argv: Sequence[str]) -> dict[str, list[str]] | None:
    """The global options of ``argv`` when it asks for the queue summary (``mailtop [--config F]
    [--set K=V] [--read-only] queue [summary] [--json] [--shape] [--reasons] [--queue Q] [--top N]``),
    else None."""
    head = _options(argv, _GLOBAL_VALUE, _GLOBAL_FLAGS, "queue")
    if head is None:
        return None
    found, at = head
    rest = list(argv[at + 1:])
    if rest[:1] == ["summary"]:
        rest = rest[1:]
    if _options(rest, _QUEUE_VALUE, _QUEUE_FLAGS, None) is None:
        return None
    return found


def _toml_string(value: str) -> str | None:
    """A TOML basic string without escapes or a literal string, optionally followed by a comment."""
    if value[:1] not in ('"', "'"):
        return None
    end = value.find(value[0], 1)
    if end < 0:
        return None
    text = value[1:end]
    rest = value[end + 1:].strip()
    if (value[0] == '"' and "\\" in text) or (rest and not rest.startswith("#")):
        return None
    return text


def _bare(key: str) -> bool:
    return key != "" and key.replace("_", "").replace("-", "").isalnum() and key.isascii()


def scan_postfix_table(text: str) -> dict[str, str] | None:
    """The string values of ``_KEYS`` in the ``[postfix]`` table of a TOML text, read line by line;
    None when the text has anything that could hide or change them from this simple reading
    (multi-line strings, dotted ``postfix.`` keys or tables, a ``[postfix]`` line that is not
    ``key = value``, a value of these keys that is not a plain string)."""
    if '"""' in text or "'''" in text:
        return None
    found: dict[str, str] = {}
    table: str | None = ""  # "" the root table; None an array of tables
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            if line.startswith("[["):
                name, table = line[2:line.find("]]")].strip(), None
            else:
                name = line[1:line.find("]")].strip()
                table = name
            unquoted = name.replace('"', "").replace("'", "").replace(" ", "")
            if unquoted.startswith("postfix.") or (unquoted == "postfix" and table != "postfix"):
                return None  # [postfix.x], [[postfix]], [ "postfix" ]: the normal path reads those
            continue
        key, eq, value = line.partition("=")
        key = key.strip()
        if table == "":
            if key.replace('"', "").replace("'", "").replace(" ", "").split(".")[0] == "postfix":
                return None  # postfix.config_dir = ... or postfix = {...} at the root
            continue
        if table != "postfix":
            continue
        if not eq or not _bare(key):
            return None
        if key in _KEYS:
            text_value = _toml_string(value.strip())
            if text_value is None:
                return None
            found[key] = text_value
    return found


def _config_file(config_flag: str | None, environ: Mapping[str, str]) -> str | None:
    """The file ``load_config`` reads (flag, MAILTOP_CONFIG, default locations)."""
    if config_flag is not None:
        return os.path.expanduser(config_flag)
    if environ.get("MAILTOP_CONFIG"):
        return os.path.expanduser(environ["MAILTOP_CONFIG"])
    xdg = os.path.expanduser(environ.get("XDG_CONFIG_HOME", "~/.config"))
    for candidate in (os.path.join(xdg, "mailtop", "mailtop.toml"), "/etc/mailtop/mailtop.toml"):
        if os.path.isfile(candidate):
            return candidate
    return None


def guess_postfix(options: dict[str, list[str]], environ: Mapping[str, str]) -> dict[str, str] | None:
    """The ``[postfix]`` settings of ``_KEYS`` as ``load_config`` would set them (file < env <
    ``--set``), as text; None when they cannot be read cheaply."""
    settings = {"config_dir": DEFAULT_CONFIG_DIR, "bin_dir": DEFAULT_BIN_DIR, "queue_format": "auto",
                "mailq_command": ""}
    path = _config_file((options.get("--config") or [None])[-1], environ)
    if path is not None:
        try:
            with open(path, "rb") as fh:
                table = scan_postfix_table(fh.read().decode("utf-8"))
        except (OSError, UnicodeDecodeError):
            return None
        if table is None:
            return None
        settings.update(table)
    for name, value in environ.items():
        if name.startswith("MAILTOP_") and "__" in name:
            sec, _, key = name[len("MAILTOP_"):].partition("__")
            if sec.lower() == "postfix" and key.lower() in _KEYS:
                settings[key.lower()] = value
    for pair in options.get("--set", ()):
        key, eq, value = pair.partition("=")
        sec, dot, name = key.strip().partition(".")
        if not eq or not dot:
            return None  # load_config reports it
        if sec == "postfix" and name in _KEYS:
            settings[name] = value
    return settings


def _plain_path(path: str) -> bool:
    """A path ``str(pathlib.Path(path))`` gives back unchanged (so it can be compared as text)."""
    return (path.startswith("/") and "//" not in path and "/./" not in path and not path.endswith("/.")
            and (path == "/" or not path.endswith("/")))


def listing_argv(settings: dict[str, str]) -> list[str] | None:
    """``postqueue [-c DIR] -j`` as ``PostfixQueue.listing_argv("json")`` would build it, or None."""
    if settings["queue_format"] not in ("auto", "json"):
        return None
    if settings["mailq_command"] and settings["queue_format"] == "auto":
        return None
    config_dir = os.path.expanduser(settings["config_dir"])
    bin_dir = os.path.expanduser(settings["bin_dir"])
    if not _plain_path(config_dir) or not _plain_path(bin_dir):
        return None
    exe = find_program("postqueue", bin_dir)
    if exe is None:
        return None  # the normal path says what is missing
    if os.path.realpath(config_dir) == DEFAULT_CONFIG_DIR:
        return [exe, "-j"]
    return [exe, "-c", config_dir, "-j"]


def start_queue_summary(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> EarlyListing | None:
    """For ``mailtop ARGV`` asking for the queue summary: ``postqueue -j`` started now, or None."""
    options = queue_summary_options(argv)
    if options is None:
        return None
    settings = guess_postfix(options, os.environ if environ is None else environ)
    if settings is None:
        return None
    cmd = listing_argv(settings)
    return start(cmd) if cmd is not None else None
