#!/usr/bin/env python3
"""Capture what Postfix's own postalias makes of every *.aliases file here: postalias/<name>.dump
(`postalias -s`, sorted, without the @ and YP_ bookkeeping keys) and postalias/<name>.warnings (its stderr).

Run from the repo root:  python3 tests/data/aliases/capture_postalias.py   (needs postfix installed)
"""

import shutil
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "postalias"


def main() -> None:
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        conf = Path(tmp) / "conf"
        conf.mkdir()
        (conf / "main.cf").write_text("compatibility_level = 3.6\nsmtputf8_enable = no\n")
        for src in sorted(HERE.glob("*.aliases")):
            copy = Path(tmp) / src.name
            shutil.copyfile(src, copy)
            built = subprocess.run(["postalias", "-c", str(conf), f"hash:{copy}"], capture_output=True, check=True)
            dump = subprocess.run(["postalias", "-c", str(conf), "-s", f"hash:{copy}"], capture_output=True,
                                  check=True)
            rows = [line for line in dump.stdout.split(b"\n") if line and not line.startswith((b"@:", b"YP_"))]
            (OUT / f"{src.name}.dump").write_bytes(b"".join(r + b"\n" for r in sorted(rows)))
            (OUT / f"{src.name}.warnings").write_bytes(built.stderr.replace(str(tmp).encode(), b"TMP"))


if __name__ == "__main__":
    main()
