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


def _cum(n: int, s: float = 1.05) -> list[float]:
    """Cumulative Zipf weights for ranks 1..n: a few keys are common, most are rare (as in a real log)."""
    out, tot = [], 0.0
    for i in range(1, n + 1):
        tot += 1.0 / i ** s
        out.append(tot)
    return out


FIRST = ("anna", "ben", "carla", "dmitri", "eve", "farid", "greta", "hugo", "ines", "jonas", "kim", "lena",
         "marco", "nadia", "oscar", "petra", "quentin", "rosa", "sami", "tara", "ugo", "vera", "wei", "xena",
         "yusuf", "zoe", "alice", "bob", "chen", "diego", "emma", "felix", "gina", "hans", "ivan", "julia")
LAST = ("meyer", "smith", "garcia", "nguyen", "kowalski", "rossi", "dubois", "jensen", "silva", "novak",
        "schmidt", "lopez", "tanaka", "okafor", "berg", "moreau", "costa", "fischer", "kaya", "larsen")
SYL = ("an", "bel", "cor", "dan", "el", "fin", "gar", "hol", "ist", "jor", "kal", "lum", "mar", "nor", "ost",
       "pel", "quo", "ran", "sol", "tek", "ul", "ver", "wes", "xan", "yor", "zen")
TLDS = ("com", "net", "org", "de", "fr", "nl", "io", "co.uk", "example")
ROLES = ("news", "info", "noreply", "billing", "alerts", "support", "orders", "hello", "team", "updates")


class Gen:
    """The log of a mid-sized mail host: many senders (some with VERP addresses used once), clients,
    recipients, remote domains and delays, each drawn with a Zipf-like skew; the line shapes are the
    lab's."""

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
        self._population()

    def _population(self) -> None:
        rng = self.rng

        def domain() -> str:
            return "".join(rng.choice(SYL) for _ in range(rng.randint(2, 3))) + "." + rng.choice(TLDS)

        def ip() -> str:                # text only: shared address space 100.64.0.0/10
            return f"100.{rng.randint(64, 127)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"

        self.local_domains = ["lab.test"] * 6 + ["shop.lab.test", "lists.lab.test"]
        users = sorted({f"{rng.choice(FIRST)}.{rng.choice(LAST)}{rng.choice(('', '', str(rng.randint(1, 99))))}"
                        for _ in range(1800)})
        rng.shuffle(users)
        self.users = ["alice", "bob", "probe", *users]
        self.users_cw = _cum(len(self.users))
        self.full_users = rng.sample(users, 20)           # over quota
        self.remote = sorted({domain() for _ in range(4000)})
        rng.shuffle(self.remote)
        self.remote_cw = _cum(len(self.remote))
        self.mx = {d: (f"mx{rng.randint(1, 2)}.{d}", ip()) for d in self.remote}
        self.clients = {d: [f"{rng.choice(('mail', 'mx', 'out', 'smtp'))}{k}.{d}[{ip()}]"
                            for k in range(rng.randint(1, 4))] for d in self.remote}
        senders = sorted({f"{rng.choice(ROLES + FIRST)}@{self.remote[int(rng.paretovariate(0.8)) % len(self.remote)]}"
                          for _ in range(25000)})
        rng.shuffle(senders)
        self.senders = senders + ["Promo@Shop.Example"]
        self.senders_cw = _cum(len(self.senders))
        self.helos = [domain() for _ in range(500)]
        self.attackers = [ip() for _ in range(60)]
        self.attackers_cw = _cum(len(self.attackers), 1.3)
        self.homes = {u: [ip() for _ in range(rng.randint(1, 3))] for u in self.users}
        self.ip = ip

    def user(self) -> str:
        return self.rng.choices(self.users, cum_weights=self.users_cw)[0]

    def local_rcpt(self) -> str:
        u = self.user()
        dom = "lab.test" if u in ("alice", "bob", "probe") else self.rng.choice(self.local_domains)
        return f"{u}@{dom}"

    def remote_domain(self) -> str:
        return self.rng.choices(self.remote, cum_weights=self.remote_cw)[0]

    def sender(self) -> tuple[str, str]:
        """(sender address, client=) of a message from outside."""
        rng = self.rng
        r = rng.random()
        if r < 0.15:            # VERP: a new address per message
            d = self.remote_domain()
            s = f"bounces+{rng.getrandbits(40):x}-{rng.choice(FIRST)}={rng.choice(self.local_domains)}@em.{d}"
        elif r < 0.17:
            d, s = self.remote_domain(), ""
        else:
            s = rng.choices(self.senders, cum_weights=self.senders_cw)[0]
            d = s.split("@")[1].lower()
        clients = self.clients.get(d)
        if not clients or rng.random() < 0.25:
            return s, f"unknown[{self.ip()}]"
        return s, rng.choice(clients)

    def outside_rcpt(self) -> str:
        return f"{self.rng.choice(ROLES + FIRST + LAST)}@{self.remote_domain()}"

    @staticmethod
    def delay_text(x: float) -> str:
        """How Postfix prints a delay (delay_logging_resolution_limit=2): 0.07, 0.76, 1.8, 21, 4415."""
        if x < 0.01:
            return "0"
        if x >= 10:
            return str(int(x))
        out = f"{x:.2f}" if x < 1 else f"{x:.1f}"
        return out.rstrip("0").rstrip(".")

    def delay(self, median: float) -> float:
        return self.rng.lognormvariate(0, 1.1) * median

    def size(self) -> int:
        return max(300, min(30_000_000, int(self.rng.lognormvariate(9.3, 1.4))))

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
        host = client.split("[")[0]
        mid_host = "traffic.lab.test" if host == "unknown" else host
        self.pf(t, "cleanup", pid + 1, f"{q}: message-id=<{int(t * 1e9)}.{self.rng.randint(0, 1 << 30)}@{mid_host}>")
        self.pf(t + 0.01, "qmgr", 695, f"{q}: from=<{sender}>, size={size}, nrcpt={len(rcpts)} (queue active)")
        cmds = "ehlo=2 starttls=1 auth=1 mail=1 rcpt=1 data=1 quit=1 commands=8" if sub else \
            f"ehlo=1 mail=1 rcpt={len(rcpts)} data=1 quit=1 commands={4 + len(rcpts)}"
        self.pf(t + 0.02, "smtpd", pid, f"disconnect from {client} {cmds}", sub)
        return q, t + 0.02

    def deliver_local(self, t: float, q: str, rcpts: list[str], size: int) -> None:
        for r in rcpts:
            d = self.delay(0.05)
            dt = self.delay_text(d)
            sess = self.session_id()
            user = r.split("@")[0]
            if user in self.full_users and size > 100000:
                self.pf(t + d, "lmtp", self.newpid(), f"{q}: to=<{r}>, relay=127.0.0.1[127.0.0.1]:2424, delay={dt}, "
                        f"delays=0/0/0.02/0.01, dsn=5.2.2, status=bounced (host 127.0.0.1[127.0.0.1] said: 552 5.2.2 "
                        f"<{r}> Quota exceeded (mailbox for user is full) (in reply to end of DATA command))")
                self.dc(t + d, f"lmtp({user})<{self.pid}><{sess}>: msgid=<{q}@traffic.lab.test>: save failed to "
                               "INBOX: Quota exceeded (mailbox for user is full)")
                self.notify(t + d, q)
            elif user.startswith("nobody"):
                self.pf(t + d, "lmtp", self.newpid(), f"{q}: to=<{r}>, relay=127.0.0.1[127.0.0.1]:2424, delay={dt}, "
                        f"delays=0/0/0/0, dsn=5.1.1, status=bounced (host 127.0.0.1[127.0.0.1] said: 550 5.1.1 <{r}> "
                        f"User doesn't exist: {r} (in reply to RCPT TO command))")
                self.notify(t + d, q)
            else:
                conn = ", conn_use=2" if self.rng.random() < 0.3 else ""
                self.pf(t + d, "lmtp", self.newpid(), f"{q}: to=<{r}>, relay=127.0.0.1[127.0.0.1]:2424{conn}, "
                        f"delay={dt}, delays=0/0/0/{dt}, dsn=2.0.0, status=sent (250 2.0.0 <{r}> {sess[:22]} Saved)")
                self.dc(t + d, f"lmtp({user})<{self.pid}><{sess}>: msgid=<{q}@traffic.lab.test>: saved mail to INBOX")
        self.pf(t + 0.3, "qmgr", 695, f"{q}: removed")

    def notify(self, t: float, q: str) -> None:
        nq = self.qid()
        self.pf(t, "cleanup", self.newpid(), f"{nq}: message-id=<20251124.{nq}@mail.lab.test>")
        self.pf(t, "bounce", self.newpid(), f"{q}: sender non-delivery notification: {nq}")
        self.pf(t + 0.01, "qmgr", 695, f"{nq}: from=<>, size={self.rng.randint(2000, 4000)}, nrcpt=1 (queue active)")
        d = self.delay_text(self.delay(0.3))
        to = self.outside_rcpt()
        mx, ip = self.mx[to.split("@")[1]]
        self.pf(t + 0.02, "smtp", self.newpid(), f"{nq}: to=<{to}>, relay={mx}[{ip}]:25, "
                f"delay={d}, delays=0/0/0.1/{d}, dsn=2.0.0, status=sent (250 2.0.0 Ok: queued as {self.qid()})")
        self.pf(t + 0.03, "qmgr", 695, f"{nq}: removed")

    def deliver_remote(self, t: float, q: str, rcpt: str) -> None:
        d = self.delay(0.6)
        dt = self.delay_text(d)
        mx, ip = self.mx[rcpt.split("@")[1]]
        self.pf(t + d, "smtp", self.newpid(), f"{q}: to=<{rcpt}>, relay={mx}[{ip}]:25, delay={dt}, "
                f"delays=0.01/0/{self.delay_text(d / 3)}/{self.delay_text(d / 2)}, dsn=2.0.0, status=sent "
                f"(250 2.0.0 Ok: queued as {self.qid()})")
        self.pf(t + d + 0.01, "qmgr", 695, f"{q}: removed")

    def defer_attempt(self, t: float, q: str, rcpt: str, first: float, tries: int, size: int, sender: str) -> None:
        delay = t - first
        dt = self.delay_text(delay)
        mx, ip = self.mx[rcpt.split("@")[1]]
        if tries > 0:
            self.pf(t, "qmgr", 695, f"{q}: from=<{sender}>, size={size}, nrcpt=1 (queue active)")
        if tries >= 3 and self.rng.random() < 0.5:
            # the remote end came back
            self.pf(t + 0.4, "smtp", self.newpid(), f"{q}: to=<{rcpt}>, relay={mx}[{ip}]:25, "
                    f"delay={self.delay_text(delay + 0.4)}, delays={dt}/0/0.2/0.2, dsn=2.0.0, status=sent "
                    f"(250 2.0.0 Ok: queued as {self.qid()})")
            self.pf(t + 0.5, "qmgr", 695, f"{q}: removed")
            return
        if tries >= 5:
            self.pf(t, "qmgr", 695, f"{q}: from=<{sender}>, status=expired, returned to sender")
            self.notify(t, q)
            self.pf(t + 0.1, "qmgr", 695, f"{q}: removed")
            return
        pid = self.newpid()
        r = self.rng.random()
        if tries == 0 or r < 0.3:
            self.pf(t, "smtp", pid, f"connect to {mx}[{ip}]:25: Connection refused")
            reason = f"connect to {mx}[{ip}]:25: Connection refused"
        elif r < 0.6:
            reason = f"delivery temporarily suspended: connect to {mx}[{ip}]:25: Connection refused"
        elif r < 0.8:
            reason = (f"host {mx}[{ip}] said: 450 4.2.0 <{rcpt}>: Recipient address rejected: Greylisted, "
                      "see https://postgrey.schweikert.ch/ (in reply to RCPT TO command)")
        else:
            reason = f"conversation with {mx}[{ip}] timed out while receiving the initial server greeting"
        self.pf(t, "smtp", pid, f"{q}: to=<{rcpt}>, relay={'none' if r < 0.6 or tries == 0 else f'{mx}[{ip}]:25'}, "
                f"delay={dt}, delays={dt}/0/0/0, dsn=4.4.1, status=deferred ({reason})")
        self.seq += 1
        heapq.heappush(self.pending, (t + 300 * (2 ** tries), self.seq, (q, rcpt, first, tries + 1, size, sender)))

    # ------------------------------------------------------------------ main loop
    def run(self) -> None:
        rng = self.rng
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
                sender, client = self.sender()
                if kind == "deliver":
                    rcpts = list(dict.fromkeys(self.local_rcpt() for _ in range(rng.choice([1, 1, 1, 2, 3]))))
                    size = self.size()
                elif kind == "bounce":
                    rcpts = [f"nobody{rng.randint(1, 9999)}@{rng.choice(self.local_domains)}"]
                    size = self.size()
                else:
                    rcpts = [f"{rng.choice(self.full_users)}@lab.test"]
                    size = 100001 + self.size()
                q, t2 = self.smtp_in(t, sender, rcpts, size, client=client)
                self.deliver_local(t2, q, rcpts, size)
            elif kind == "defer":
                sender, client = self.sender()
                rcpt = self.outside_rcpt()
                size = self.size()
                q, t2 = self.smtp_in(t, sender, [rcpt], size, client=client)
                self.defer_attempt(t2, q, rcpt, t, 0, size, sender)
            elif kind == "submit":
                user = self.user()
                dom = "lab.test" if user in ("alice", "bob", "probe") else rng.choice(self.local_domains)
                q, t2 = self.smtp_in(t, f"{user}@{dom}", [rcpt := (self.outside_rcpt() if rng.random() < 0.6
                                                                   else self.local_rcpt())],
                                     self.size(), sub="submission", sasl=user,
                                     client=f"unknown[{rng.choice(self.homes[user])}]")
                if rcpt.split("@")[1] in self.mx:
                    self.deliver_remote(t2, q, rcpt)
                else:
                    self.deliver_local(t2, q, [rcpt], 500)
            elif kind == "pickup":
                q = self.qid()
                self.pf(t, "pickup", 694, f"{q}: uid=0 from=<root>")
                self.pf(t, "cleanup", self.newpid(), f"{q}: message-id=<{int(t)}.{q}@mail.lab.test>")
                self.pf(t, "qmgr", 695, f"{q}: from=<root@lab.test>, size={rng.randint(278, 4000)}, nrcpt=1 "
                                        "(queue active)")
                self.deliver_local(t, q, ["alice@lab.test"], 278)
            elif kind in ("reject", "relay"):
                pid = self.newpid()
                client = f"unknown[{self.ip()}]"
                helo = rng.choice(self.helos)
                self.pf(t, "smtpd", pid, f"connect from {client}")
                if kind == "relay":
                    to = self.outside_rcpt()
                    self.pf(t, "smtpd", pid, f"NOQUEUE: reject: RCPT from {client}: 554 5.7.1 <{to}>: Relay access "
                            f"denied; from=<{rng.choice(FIRST)}@{helo}> to=<{to}> proto=ESMTP helo=<{helo}>")
                else:
                    to = f"{rng.choice(FIRST)}{rng.randint(1, 9999)}@{rng.choice(self.local_domains)}"
                    self.pf(t, "smtpd", pid, f"NOQUEUE: reject: RCPT from {client}: 550 5.1.1 <{to}>: Recipient "
                            "address rejected: User unknown in virtual mailbox table; "
                            f"from=<{self.sender()[0]}> to=<{to}> proto=ESMTP helo=<{helo}>")
                self.pf(t + 0.01, "smtpd", pid, f"disconnect from {client} ehlo=1 mail=1 rcpt=0/1 rset=1 quit=1 "
                        "commands=4/5")
            elif kind in ("login", "authfail"):
                proto = rng.choice(["imap", "pop3"])
                sess = self.session_id()
                if kind == "login":
                    user = self.user()
                    ip = rng.choice(self.homes[user])
                    mpid = self.newpid()
                    self.dc(t, f"{proto}-login: Login: user=<{user}>, method=PLAIN, rip={ip}, lip=127.0.0.1, "
                               f"mpid={mpid}, secured, session=<{sess}>")
                    self.dc(t + 0.2, f"{proto}({user})<{mpid}><{sess}>: Disconnected: Logged out in=32 out=825 "
                                     "deleted=0 expunged=0 trashed=0 hdr_count=0 hdr_bytes=0 body_count=0 body_bytes=0")
                else:
                    if rng.random() < 0.7:      # guessing from a few addresses
                        ip = rng.choices(self.attackers, cum_weights=self.attackers_cw)[0]
                        user = rng.choice(("admin", "test", "info", "webmaster", "sales", *FIRST))
                    else:                       # a user who mistyped
                        user = self.user()
                        ip = rng.choice(self.homes[user])
                    self.dc(t, f"auth: passwd-file({user},{ip},<{sess}>): Password mismatch")
                    self.dc(t + 1, f"{proto}-login: Disconnected: Aborted login by logging out (auth failed, 1 "
                                   f"attempts in 1 secs): user=<{user}>, method=PLAIN, rip={ip}, lip=127.0.0.1, "
                                   f"secured, session=<{sess}>")
                    if rng.random() < 0.2:
                        pid = self.newpid()
                        self.pf(t, "smtpd", pid, f"warning: unknown[{ip}]: SASL PLAIN authentication failed: "
                                f"(reason unavailable), sasl_username={user}", "submission")
            else:
                pid = self.newpid()
                client = f"unknown[{self.ip()}]"
                self.pf(t, "smtpd", pid, f"connect from {client}")
                self.pf(t, "smtpd", pid, f"lost connection after CONNECT from {client}")
                self.pf(t, "smtpd", pid, f"disconnect from {client} commands=0/0")


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
