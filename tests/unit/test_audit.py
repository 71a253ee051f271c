import json
import os

from mailtop.ops.audit import append_audit, read_audit


def test_append_and_read_back(tmp_path):
    log = tmp_path / "sub" / "audit.log"
    append_audit(log, "queue.hold", ["/usr/sbin/postsuper", "-h", "-"], ["ABC123"], "ok")
    append_audit(log, "aliases.save", ["/usr/bin/newaliases"], [], "failed", "exit 75")
    recs = read_audit(log)
    assert [r.action for r in recs] == ["queue.hold", "aliases.save"]
    assert recs[0].targets == ("ABC123",)
    assert recs[1].result == "failed" and recs[1].detail == "exit 75"
    assert oct(os.stat(log).st_mode & 0o777) == "0o600"
    # one JSON object per line
    assert all(json.loads(line) for line in log.read_text().splitlines())


def test_garbage_lines_are_skipped(tmp_path):
    log = tmp_path / "audit.log"
    log.write_text("not json\n")
    append_audit(log, "queue.delete", ["postsuper", "-d", "-"], ["X"], "ok")
    assert [r.action for r in read_audit(log)] == ["queue.delete"]
