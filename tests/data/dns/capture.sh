#!/bin/sh
# Capture the lab NSD's answers to every question mailtop's DNS checks ask for lab.test and the
# faulty.test zones (services/zones/), as plain dig output. Run with the lab up, from the repo root:
#   ip netns exec mt-NAME tests/data/dns/capture.sh > tests/data/dns/lab.dig
# (or without the netns prefix against the default lab). The unit tests replay this file.
set -eu
NS="${NS:-127.0.0.1}"
PORT="${PORT:-5353}"
q() { dig @"$NS" -p "$PORT" +norec +nocookie +noidnout "$1" "$2"; }
q lab.test SOA
for d in lab.test faulty.test deep.faulty.test literal.faulty.test nomx.faulty.test syntax.faulty.test \
         missing.faulty.test; do
  q "$d" MX
  q "$d" TXT
  q "_dmarc.$d" TXT
  q "_mta-sts.$d" TXT
  q "_smtp._tls.$d" TXT
done
for s in lab2026 short revoked broken; do
  q "$s._domainkey.lab.test" TXT
  q "$s._domainkey.faulty.test" TXT
done
for h in mail.lab.test mx2.lab.test ns1.lab.test mail.faulty.test deep.faulty.test; do
  q "$h" A
  q "$h" AAAA
done
for t in _s1.faulty.test _s2.faulty.test _s3.faulty.test; do
  q "$t" TXT
done
for a in 1 2 3 4 10 11; do
  q "$a.0.0.127.in-addr.arpa" PTR
done
for a in 1 2 4; do
  q "$a.0.0.127.dnsbl.test" A
  q "$a.0.0.127.dnsbl.test" TXT
done
# A zone the lab does not serve: NSD answers REFUSED.
q example.com MX
