#!/usr/bin/env python3
"""How fast mailtop reads and validates an aliases file, against Postfix's own postalias on the same file.

    .venv/bin/python tests/bench/bench_aliases.py [N ...]      (default: 1000 10000 50000 aliases)

For each size: mailtop parse + full validation (AliasFile + .problems, fixed directory, no NSS), one edit
(set + render), and the peer, ``postalias -c CONF hash:FILE`` (a temporary config dir), best of 3 runs each.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from mailtop.ops.aliases import AliasFile, Directory  # noqa: E402


def make(n: int) -> str:
    lines = ["# generated for the benchmark", "postmaster: root", "abuse: root"]
    for i in range(n):
        kind = i % 5
        if kind == 0:
            lines.append(f"user{i}: alice")
        elif kind == 1:
            lines.append(f"role{i}: user{i - 1}, bob@example.com")
        elif kind == 2:
            lines.append(f"list{i}: alice,\n\tbob,\n\tcarol@example.net")
        elif kind == 3:
            lines.append(f"# comment {i}\narchive{i}: /var/mail/archive{i}")
        else:
            lines.append(f'pipe{i}: "|/usr/bin/logger -t alias{i}"')
    return "\n".join(lines) + "\n"


def best(fn, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main(sizes: list[int]) -> None:
    directory = Directory(users={"root", "alice", "bob", "carol"}, use_nss=False)
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "conf"
        conf.mkdir()
        (conf / "main.cf").write_text("compatibility_level = 3.6\n")
        print(f"{'aliases':>8} {'bytes':>9} {'mailtop parse+validate':>23} {'edit+render':>12} "
              f"{'postalias build':>16} {'ratio mailtop/postalias':>24}")
        for n in sizes:
            text = make(n)
            path = Path(tmp) / f"aliases{n}"
            path.write_text(text)

            def ours(text=text):
                af = AliasFile(text, directory=directory, check_files=False)
                return af.problems

            def edit(text=text):
                af = AliasFile(text, check_files=False)
                af.set("user0", ["bob"])
                return af.render()

            def peer(path=path):
                subprocess.run(["postalias", "-c", str(conf), f"hash:{path}"], check=True, capture_output=True)

            problems = ours()
            assert not [p for p in problems if p.severity == "error"], problems[:3]
            t_ours, t_edit, t_peer = best(ours), best(edit), best(peer)
            print(f"{n:>8} {len(text):>9} {t_ours * 1000:>20.1f} ms {t_edit * 1000:>9.1f} ms "
                  f"{t_peer * 1000:>13.1f} ms {t_ours / t_peer:>24.2f}")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [1000, 10000, 50000])
