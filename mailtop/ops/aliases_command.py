"""``mailtop aliases check|list|add|set|remove``: the aliases file (or the virtual alias table) from scripts.

Exit status: ``check`` 0 clean, 1 warnings, 2 errors, 3 the file cannot be read. ``list`` 0.
``add``/``set``/``remove``: 0 saved (or nothing to change), 1 refused (bad input, problems in the file,
the file changed on disk, read-only mode, not confirmed), 2 the rebuild failed and the previous file was
restored, 3 the save failed.

An edit shows the diff and the rebuild command and asks before writing (``mailtop.ops.confirm``, as
``mailtop queue``'s actions do): ``--yes`` goes ahead without asking; without it, a terminal is asked
and anything else is refused. ``--dry-run`` shows the change and writes nothing.

Cheap to import: the core is imported inside ``run``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--file", metavar="PATH", help="the file to work on (default: [aliases] path, "
                        "or [aliases] virtual_path with --virtual)")
    parser.add_argument("--virtual", action="store_true",
                        help="a Postfix virtual_alias_maps text file (key address, ...) instead of aliases(5)")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    sub = parser.add_subparsers(dest="aliases_action", metavar="ACTION", required=True)
    check = sub.add_parser("check", help="validate: syntax, duplicates, loops, targets, postmaster/abuse, lists")
    check.add_argument("--quiet", "-q", action="store_true", help="print only errors and warnings")
    sub.add_parser("list", help="every entry with its targets")
    for name, help_text in (("add", "add a new entry (refused when the name exists)"),
                            ("set", "add an entry or replace its targets")):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("name")
        p.add_argument("targets", nargs="+", metavar="TARGET",
                       help='user, user@domain, /file, "|command", :include:/file')
        p.add_argument("--dry-run", action="store_true", help="show the change and the problems, write nothing")
        p.add_argument("--yes", "-y", action="store_true", help="do not ask before saving")
    rm = sub.add_parser("remove", help="remove an entry (every duplicate of it)")
    rm.add_argument("name")
    rm.add_argument("--dry-run", action="store_true", help="show the change, write nothing")
    rm.add_argument("--yes", "-y", action="store_true", help="do not ask before saving")


def _problem_dict(p) -> dict:
    return {"line": p.line, "severity": p.severity, "code": p.code, "message": p.message, "name": p.name,
            "hint": p.hint}


def _print_problems(path: Path, problems, out, quiet: bool = False) -> None:
    for p in problems:
        if quiet and p.severity == "info":
            continue
        hint = f"\n    hint: {p.hint}" if p.hint else ""
        print(f"{path}:{p.line}: {p.severity}: {p.message}{hint}", file=out)


def run(args: argparse.Namespace, cfg) -> int:
    from mailtop.ops import aliases as core

    dialect = "virtual" if args.virtual else "aliases"
    if args.file:
        path = Path(args.file).expanduser()
    elif args.virtual:
        if cfg.aliases.virtual_path is None:
            print("mailtop aliases: no virtual alias file configured ([aliases] virtual_path); use --file",
                  file=sys.stderr)
            return 3 if args.aliases_action == "check" else 1
        path = cfg.aliases.virtual_path
    else:
        path = cfg.aliases.path
    directory = core.directory_for(cfg)
    try:
        af = core.AliasFile.load(path, dialect=dialect, directory=directory)
    except OSError as exc:
        print(f"mailtop aliases: cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return 3 if args.aliases_action == "check" else 1
    action = args.aliases_action
    if action == "check":
        return _check(af, path, args, cfg)
    if action == "list":
        return _list(af, args)
    return _edit(af, path, args, cfg, core)


def _check(af, path: Path, args, cfg) -> int:
    from mailtop.ops import aliases as core

    problems = list(af.problems)
    # beyond the text: does the configured Postfix read this file, and is its database up to date?
    plan = core.plan_rebuild(path, af.dialect, cfg.postfix.config_dir, cfg.postfix.bin_dir, cfg.aliases.rebuild)
    if not plan.used:
        problems.append(core.Problem(0, core.WARNING, "config.unused", plan.reason,
                                     hint="check [postfix] config_dir and [aliases] path"))
    if core.database_is_stale(path, plan):
        problems.append(core.Problem(0, core.WARNING, "database.stale",
                                     f"the database of {plan.table} is older than the text (or missing): "
                                     "the last edit was not rebuilt", hint=" ".join(plan.argv or ())))
    errors = sum(p.severity == "error" for p in problems)
    warnings = sum(p.severity == "warning" for p in problems)
    infos = sum(p.severity == "info" for p in problems)
    status = 2 if errors else 1 if warnings else 0
    if args.json:
        print(json.dumps({
            "path": str(path), "dialect": af.dialect, "entries": len(af.entries),
            "errors": errors, "warnings": warnings, "infos": infos,
            "problems": [_problem_dict(p) for p in problems],
            "directory": list(af.directory.sources) if af.directory else [],
        }, indent=2))
        return status
    _print_problems(path, problems, sys.stdout, args.quiet)
    verdict = "OK" if status == 0 else "WARNING" if status == 1 else "CRITICAL"
    print(f"{verdict} - {path}: {len(af.entries)} entries, {errors} error(s), {warnings} warning(s), "
          f"{infos} note(s)")
    return status


def _list(af, args) -> int:
    if args.json:
        print(json.dumps([{"name": e.name, "line": e.line,
                           "targets": [{"text": t.text, "kind": t.kind} for t in e.targets]}
                          for e in af.entries], indent=2))
        return 0
    width = max((len(e.name) for e in af.entries), default=0)
    for e in af.entries:
        print(f"{e.line:>5}  {e.name:<{width}}  {', '.join(t.text for t in e.targets)}")
    return 0


def _confirmed(af, path: Path, args, cfg, core) -> bool:
    """Show the diff, the problems and the rebuild command; ask (see ``mailtop.ops.confirm``)."""
    import io

    from mailtop.ops.confirm import confirm

    if args.yes:
        return True
    plan = core.plan_rebuild(path, af.dialect, cfg.postfix.config_dir, cfg.postfix.bin_dir, cfg.aliases.rebuild)
    change = io.StringIO()
    for line in af.diff().splitlines():  # control characters in the file shown as escapes; tabs kept
        print("\t".join(core.printable(part) for part in line.split("\t")), file=change)
    _print_problems(path, [p for p in af.problems if p.severity != "info"], change)
    if plan.argv:
        print(f"then run: {shlex.join(plan.argv)}", file=change)
    else:
        print(f"no rebuild: {plan.reason}", file=change)
    # with --json, stdout is for the JSON result: the question goes to stderr
    return confirm(change.getvalue(), yes=False, prog="mailtop aliases", out=sys.stderr if args.json else None)


def _edit(af, path: Path, args, cfg, core) -> int:
    try:
        if args.aliases_action == "add":
            af.add(args.name, args.targets)
        elif args.aliases_action == "set":
            af.set(args.name, args.targets)
        else:
            af.remove(args.name)
    except KeyError:
        print(f"mailtop aliases: {args.name!r} is not in {path}", file=sys.stderr)
        return 1
    except core.AliasError as exc:
        print(f"mailtop aliases: {exc}", file=sys.stderr)
        return 1
    if args.dry_run:
        diff = af.diff()
        problems = [p for p in af.problems if p.severity != "info"]
        if args.json:
            print(json.dumps({"status": "dry-run", "diff": diff, "problems": [_problem_dict(p) for p in problems]},
                             indent=2))
        else:
            sys.stdout.write(diff or "(no change)\n")
            _print_problems(path, problems, sys.stdout)
        return 1 if af.errors else 0
    # Ask first, unless the save will refuse anyway (read-only, errors: it says why) or there is nothing to save.
    if not cfg.general.read_only and not af.errors and af.diff() and not _confirmed(af, path, args, cfg, core):
        return 1
    result = core.save_with_config(af, cfg)
    if args.json:
        print(json.dumps({
            "status": result.status, "message": result.message, "path": str(result.path),
            "backup": str(result.backup) if result.backup else None,
            "rebuild": list(result.rebuild) if result.rebuild else None,
            "rebuild_output": result.rebuild_output, "rollback_rebuilt": result.rollback_rebuilt,
            "problems": [_problem_dict(p) for p in result.problems], "notes": list(result.notes),
        }, indent=2))
    else:
        out = sys.stdout if result.ok else sys.stderr
        if result.problems:
            _print_problems(path, result.problems, out)
        print(f"{result.status}: {result.message}", file=out)
        if result.backup:
            print(f"backup: {result.backup}", file=out)
        for note in result.notes:
            print(f"note: {note}", file=out)
    return {"saved": 0, "unchanged": 0, "refused": 1, "rolled-back": 2}.get(result.status, 3)
