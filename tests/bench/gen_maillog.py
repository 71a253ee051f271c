#!/usr/bin/env python3
"""Write a realistic mail log (Postfix + Dovecot, one syslog file) for benchmarks and report tests.

    .venv/bin/python tests/bench/gen_maillog.py OUT.log [--lines 1000000] [--seed 1] [--syslog-name postfix-lab]

Every line shape is copied from the lab capture (tests/data/logs/lab-*.log; test_log_report checks
that each generated shape parses to the same kind as its lab original): smtpd sessions with
connect/client/disconnect, submission with SASL, pickup, cleanup message-id, qmgr from/size,
lmtp deliveries, remote deliveries deferred and retried (then sent, bounced or expired),
unknown-user and quota bounces with their non-delivery notifications, NOQUEUE rejects (relay denied,
unknown user), SASL failures, and Dovecot logins, failed logins and LMTP saves in syslog form.
Time runs forward from 2025-11-24 00:00:00 at the rate needed to spread the lines over about a day.
"""

from __future__ import annotations

import argparse
import heapq
import random
import time

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


class Gen:
    def __init__(self, out, lines: int, seed: int, name: str, host: str = "mail") -> None:
        self.out = out
        self.target = lines
        self.n = 0
        self.rng = random.Random(seed)
        self.name = name
        self.host = host
        self.t = time.mktime((2025, 11, 24, 0, 0, 0, 0, 0, -1))
        self.step = 86400.0 / max(lines, 1) * 9     # seconds per message (about 9 lines each)
        self.qn = 0x2FB90514000
        self.pid = 10000
        self.pending: list[tuple[float, int, tuple]] = []   # (time, seq, deferred message)
        self.seq = 0
        self._stamp_t = -1
        self._stamp = ""

    # ------------------------------------------------------------------ helpers
    def stamp(self, t: float) -> str:
        it = int(t)
        if it != self._stamp_t:
            lt = time.localtime(it)
            self._stamp = f"{MONTHS[lt.tm_mon - 1]} {lt.tm_mday:2d} {lt.tm_hour:02d}:{lt.tm_min:02d}:{lt.tm_sec:02d}"
            self._stamp_t = it
        return self._stamp

    def pf(self, t: float, svc: str, pid: int, text: str, sub: str = "") -> None:
        inst = f"{self.name}/{sub}" if sub else self.name
        self.out.write(f"{self.stamp(t)} {self.host} {inst}/{svc}[{pid}]: {text}\n")
        self.n += 1

    def dc(self, t: float, text: str) -> None:
        self.out.write(f"{self.stamp(t)} {self.host} dovecot: {text}\n")
        self.n += 1

    def qid(self) -> str:
        self.qn += self.rng.randint(1, 9)
        return f"{self.qn:011X}"

    def newpid(self) -> int:
        self.pid = self.pid + 1 if self.pid < 99000 else 10000
        return self.pid

    def session_id(self) -> str:
        return "".join(self.rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
                       for _ in range(16))

    # ------------------------------------------------------------------ message kinds
    def smtp_in(self, t: float, sender: str, rcpts: list[str], size: int, sub: str = "", sasl: str = "",
                client: str = "unknown[127.0.0.1]") -> tuple[str, float]:
        pid = self.newpid()
        q = self.qid()
        self.pf(t, "smtpd", pid, f"connect from {client}", sub)
        if sub:
            self.pf(t, "smtpd", pid, f"Anonymous TLS connection established from {client}: TLSv1.3 with cipher "
                                     "TLS_AES_256_GCM_SHA384 (256/256 bits) key-exchange X25519 server-signature "
                                     "RSA-PSS (2048 bits) server-digest SHA256", sub)
        extra = f", sasl_method=PLAIN, sasl_username={sasl}" if sasl else ""
        self.pf(t, "smtpd", pid, f"{q}: client={client}{extra}", sub)
        self.pf(t, "cleanup", pid + 1, f"{q}: message-id=<{int(t * 1e9)}.{self.rng.randint(0, 1 << 30)}@traffic.lab.test>")
        self.pf(t + 0.01, "qmgr", 695, f"{q}: from=<{sender}>, size={size}, nrcpt={len(rcpts)} (queue active)")
        cmds = "ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8" if sub else \
            f"ehlo=1 mail=1 rcpt={len(rcpts)} data=1 quit=1 commands={4 + len(rcpts)}"
        self.pf(t + 0.02, "smtpd", pid, f"disconnect from {client} {cmds}", sub)
        return q, t + 0.02

    def deliver_local(self, t: float, q: str, rcpts: list[str], size: int) -> None:
        for r in rcpts:
            d = round(self.rng.choice([0.01, 0.02, 0.03, 0.05, 0.08, 0.2, 1.1]), 2)
            sess = self.session_id()
            user = r.split("@")[0]
            if user == "carol" and size > 100000:
                self.pf(t + d, "lmtp", self.newpid(), f"{q}: to=<{r}>, relay=127.0.0.1[127.0.0.1]:2424, delay={d}, "
                        f"delays=0/0/0.02/0.01, dsn=5.2.2, status=bounced (host 127.0.0.1[127.0.0.1] said: 552 5.2.2 "
                        f"<{r}> Quota exceeded (mailbox for user is full) (in reply to end of DATA command))")
                self.dc(t + d, f"lmtp(carol)<{self.pid}><{sess}>: msgid=<{q}@traffic.lab.test>: save failed to "
                               "INBOX: Quota exceeded (mailbox for user is full)")
                self.notify(t + d, q)
            elif user == "ghost":
                self.pf(t + d, "lmtp", self.newpid(), f"{q}: to=<{r}>, relay=127.0.0.1[127.0.0.1]:2424, delay={d}, "
                        f"delays=0/0/0/0, dsn=5.1.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <{r}> "
                        f"User doesn't exist: {r} (in reply to RCPT TO command))")
                self.notify(t + d, q)
            else:
                conn = ", conn_use=2" if self.rng.random() < 0.3 else ""
                self.pf(t + d, "lmtp", self.newpid(), f"{q}: to=<{r}>, relay=127.0.0.1[127.0.0.1]:2424{conn}, "
                        f"delay={d}, delays=0/0/0/{d}, dsn=2.0.0, status=sent (250 2.0.0 <{r}> {sess[:22]} Saved)")
                self.dc(t + d, f"lmtp({user})<{self.pid}><{sess}>: msgid=<{q}@traffic.lab.test>: saved mail to INBOX")
        self.pf(t + 0.3, "qmgr", 695, f"{q}: removed")

    def notify(self, t: float, q: str) -> None:
        nq = self.qid()
        self.pf(t, "cleanup", self.newpid(), f"{nq}: message-id=<20251124.{nq}@mail.lab.test>")
        self.pf(t, "bounce", self.newpid(), f"{q}: sender non-delivery notification: {nq}")
        self.pf(t + 0.01, "qmgr", 695, f"{nq}: from=<>, size={self.rng.randint(2000, 4000)}, nrcpt=1 (queue active)")
        d = 0.01
        self.pf(t + 0.02, "lmtp", self.newpid(), f"{nq}: to=<bob@lab.test>, relay=127.0.0.1[127.0.0.1]:2424, "
                f"delay={d}, delays=0/0/0/0.01, dsn=2.0.0, status=sent (250 2.0.0 <bob@lab.test> x Saved)")
        self.pf(t + 0.03, "qmgr", 695, f"{nq}: removed")

    def defer_attempt(self, t: float, q: str, rcpt: str, first: float, tries: int, size: int, sender: str) -> None:
        delay = round(t - first, 2)
        if tries > 0:
            self.pf(t, "qmgr", 695, f"{q}: from=<{sender}>, size={size}, nrcpt=1 (queue active)")
        if tries >= 3 and self.rng.random() < 0.5:
            # the remote end came back
            self.pf(t + 0.4, "smtp", self.newpid(), f"{q}: to=<{rcpt}>, relay=mx.{rcpt.split('@')[1]}[192.0.2.25]:25, "
                    f"delay={delay + 0.4:.1f}, delays={delay:.1f}/0/0.2/0.2, dsn=2.0.0, status=sent "
                    f"(250 2.0.0 Ok: queued as {self.qid()})")
            self.pf(t + 0.5, "qmgr", 695, f"{q}: removed")
            return
        if tries >= 5:
            self.pf(t, "qmgr", 695, f"{q}: from=<{sender}>, status=expired, returned to sender")
            self.notify(t, q)
            self.pf(t + 0.1, "qmgr", 695, f"{q}: removed")
            return
        pid = self.newpid()
        if tries == 0 or self.rng.random() < 0.5:
            self.pf(t, "smtp", pid, "connect to 127.0.0.1[127.0.0.1]:2999: Connection refused")
            reason = "connect to 127.0.0.1[127.0.0.1]:2999: Connection refused"
        else:
            reason = "delivery temporarily suspended: connect to 127.0.0.1[127.0.0.1]:2999: Connection refused"
        self.pf(t, "smtp", pid, f"{q}: to=<{rcpt}>, relay=none, delay={delay}, delays={delay}/0/0/0, dsn=4.4.1, "
                f"status=deferred ({reason})")
        self.seq += 1
        heapq.heappush(self.pending, (t + 300 * (2 ** tries), self.seq, (q, rcpt, first, tries + 1, size, sender)))

    # ------------------------------------------------------------------ main loop
    def run(self) -> None:
        rng = self.rng
        senders = ["news@client.example", "billing@shop.example", "friend@mail.example", "alerts@monitor.example",
                   "Promo@Shop.Example"]
        outside = ["someone@example.com", "user@example.net", "info@example.org", "ops@remote.example"]
        while self.n < self.target:
            self.t += rng.expovariate(1.0 / self.step)
            t = self.t
            while self.pending and self.pending[0][0] <= t:
                pt, _, args = heapq.heappop(self.pending)
                self.defer_attempt(pt, *args)
            kind = rng.choices(["deliver", "defer", "bounce", "quota", "reject", "relay", "submit", "pickup",
                                "login", "authfail", "probe"],
                               weights=[40, 8, 4, 2, 7, 5, 10, 2, 12, 4, 6])[0]
            if kind in ("deliver", "bounce", "quota"):
                sender = rng.choice(senders)
                if kind == "deliver":
                    rcpts = rng.sample(["alice@lab.test", "bob@lab.test", "probe@lab.test", "Alice@LAB.test"],
                                       rng.choice([1, 1, 1, 2]))
                else:
                    rcpts = ["ghost@lab.test"] if kind == "bounce" else ["carol@lab.test"]
                size = 300356 if kind == "quota" else rng.choice([344, 920, 3100, 20346, 52000])
                q, t2 = self.smtp_in(t, sender, rcpts, size)
                self.deliver_local(t2, q, rcpts, size)
            elif kind == "defer":
                sender = rng.choice(senders)
                rcpt = rng.choice(outside)
                size = rng.choice([500, 3000, 20000])
                q, t2 = self.smtp_in(t, sender, [rcpt], size)
                self.defer_attempt(t2, q, rcpt, t, 0, size, sender)
            elif kind == "submit":
                user = rng.choice(["alice", "bob"])
                rcpt = rng.choice(["alice@lab.test", "bob@lab.test"])
                q, t2 = self.smtp_in(t, f"{user}@lab.test", [rcpt], rng.randint(400, 9000), sub="submission",
                                     sasl=user)
                self.deliver_local(t2, q, [rcpt], 500)
            elif kind == "pickup":
                q = self.qid()
                self.pf(t, "pickup", 694, f"{q}: uid=0 from=<root>")
                self.pf(t, "cleanup", self.newpid(), f"{q}: message-id=<{int(t)}.{q}@mail.lab.test>")
                self.pf(t, "qmgr", 695, f"{q}: from=<root@lab.test>, size=278, nrcpt=1 (queue active)")
                self.deliver_local(t, q, ["alice@lab.test"], 278)
            elif kind in ("reject", "relay"):
                pid = self.newpid()
                client = "unknown[127.0.0.2]" if kind == "relay" else "unknown[127.0.0.1]"
                self.pf(t, "smtpd", pid, f"connect from {client}")
                if kind == "relay":
                    to = rng.choice(outside)
                    self.pf(t, "smtpd", pid, f"NOQUEUE: reject: RCPT from {client}: 554 5.7.1 <{to}>: Relay access "
                            f"denied; from=<spammer@outside.example> to=<{to}> proto=ESMTP helo=<outside.example>")
                else:
                    to = f"nobody{rng.randint(1, 99)}@lab.test"
                    self.pf(t, "smtpd", pid, f"NOQUEUE: reject: RCPT from {client}: 550 5.1.1 <{to}>: Recipient "
                            "address rejected: User unknown in virtual mailbox table; "
                            f"from=<{rng.choice(senders)}> to=<{to}> proto=ESMTP helo=<client.lab.test>")
                self.pf(t + 0.01, "smtpd", pid, f"disconnect from {client} ehlo=1 mail=1 rcpt=0/1 rset=1 quit=1 "
                        "commands=4/5")
            elif kind in ("login", "authfail"):
                user = rng.choice(["alice", "bob", "carol", "probe"])
                proto = rng.choice(["imap", "pop3"])
                ip = "127.0.0.1" if kind == "login" else rng.choice(["127.0.0.1", "203.0.113.66", "203.0.113.66"])
                sess = self.session_id()
                if kind == "login":
                    mpid = self.newpid()
                    self.dc(t, f"{proto}-login: Login: user=<{user}>, method=PLAIN, rip={ip}, lip=127.0.0.1, "
                               f"mpid={mpid}, secured, session=<{sess}>")
                    self.dc(t + 0.2, f"{proto}({user})<{mpid}><{sess}>: Disconnected: Logged out in=32 out=825 "
                                     "deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0")
                else:
                    self.dc(t, f"auth: passwd-file({user},{ip},<{sess}>): Password mismatch")
                    self.dc(t + 1, f"{proto}-login: Disconnected: Aborted login by logging out (auth failed, 1 "
                                   f"attempts in 1 secs): user=<{user}>, method=PLAIN, rip={ip}, lip=127.0.0.1, "
                                   f"secured, session=<{sess}>")
                    if rng.random() < 0.2:
                        pid = self.newpid()
                        self.pf(t, "smtpd", pid, "warning: unknown[127.0.0.1]: SASL PLAIN authentication failed: "
                                "(reason unavailable), sasl_username=alice", "submission")
            else:
                pid = self.newpid()
                self.pf(t, "smtpd", pid, "connect from unknown[127.0.0.1]")
                self.pf(t, "smtpd", pid, "lost connection after CONNECT from unknown[127.0.0.1]")
                self.pf(t, "smtpd", pid, "disconnect from unknown[127.0.0.1] commands=0/0")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out")
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--syslog-name", default="postfix-lab")
    args = ap.parse_args()
    with open(args.out, "w", buffering=1 << 20) as fh:
        g = Gen(fh, args.lines, args.seed, args.syslog_name)
        g.run()
    print(f"wrote {g.n} lines to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
