#!/bin/sh
# Capture real Postfix and Dovecot log lines from a running lab (see README.md here).
#   ip netns exec mt-logs env MAILTOP_LAB_DIR=/work/main/.lab-logs tests/data/logs/capture.sh
# Run from the repo root, on a freshly started lab (its logs then hold only this run).
set -eu
LAB=${MAILTOP_LAB_DIR:-.lab}
PY=.venv/bin/python
services/lab traffic 150 --seed 7
# pickup: a local submission through sendmail (postdrop -> pickup)
printf 'Subject: local test\n\nhello from cron\n' | /usr/sbin/sendmail -C "$LAB/postfix" -f root alice@lab.test
# SASL failure and success on the submission port
$PY - "$LAB" <<'PYEOF'
import json, smtplib, ssl, sys
lab = json.load(open(sys.argv[1] + "/lab.json"))
port = lab["ports"]["submission"]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
for pw in ("wrong-1", "wrong-2"):
    try:
        with smtplib.SMTP("127.0.0.1", port, local_hostname="attacker.example", timeout=30) as s:
            s.starttls(context=ctx)
            s.login("alice", pw)
    except smtplib.SMTPException as exc:
        print("expected failure:", type(exc).__name__)
PYEOF
# expire the deferred mail now (postsuper -e) and retry it: qmgr logs "status=expired, returned to sender"
/usr/sbin/postsuper -c "$LAB/postfix" -e ALL deferred
/usr/sbin/postqueue -c "$LAB/postfix" -f
sleep 4
/usr/sbin/postqueue -c "$LAB/postfix" -f
sleep 3
cp "$LAB/log/postfix.log" tests/data/logs/lab-postfix.log
cp "$LAB/log/dovecot.log" tests/data/logs/lab-dovecot.log
cp "$LAB/log/postfix-open.log" tests/data/logs/lab-postfix-open.log
