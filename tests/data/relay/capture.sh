#!/bin/sh
# Capture what mailtop's relay check reads from postconf, for both lab Postfix instances.
# Run from the repo root with the lab up (LAB = the lab's state dir, e.g. .lab-dns):
#   LAB=.lab-dns tests/data/relay/capture.sh
set -eu
LAB="${LAB:-.lab}"
OUT="$(dirname "$0")"
PARAMS="mynetworks smtpd_relay_restrictions smtpd_recipient_restrictions inet_interfaces"
for inst in postfix postfix-open; do
  postconf -c "$LAB/$inst" -n > "$OUT/$inst.n.txt"
  # shellcheck disable=SC2086
  postconf -c "$LAB/$inst" -x $PARAMS > "$OUT/$inst.x.txt"
  postconf -c "$LAB/$inst" -M > "$OUT/$inst.M.txt"
done
