"""A small DER and X.509 reader, standard library only: the fields an operator looks at in a certificate.

Python's ``ssl`` gives nothing but the DER bytes of a peer certificate when verification is off (which is
what ``allow_self_signed`` needs), and DKIM keys in DNS are DER too, so the TLS check, the login test and
the DKIM check all read DER here:

- :func:`read_tlv` / :func:`children` / :func:`read_element`: one DER element (tag, length, value);
- :func:`oid_text`: an OBJECT IDENTIFIER in dotted form;
- :func:`parse_certificate`: a :class:`Certificate` (subject and issuer names and CNs, validity,
  subjectAltName DNS names and IP addresses, self-issued).

Anything that is not the DER we expect (truncated, a bad length, a missing field, a bad time) raises
:class:`DerError`, a ``ValueError``, and nothing else.
"""

from __future__ import annotations

import datetime as _dt
import ipaddress
from dataclasses import dataclass

OID_CN = "2.5.4.3"
OID_SAN = "2.5.29.17"
OID_RSA = "1.2.840.113549.1.1.1"

OID_NAMES = {
    OID_CN: "CN",
    "2.5.4.6": "C",
    "2.5.4.7": "L",
    "2.5.4.8": "ST",
    "2.5.4.10": "O",
    "2.5.4.11": "OU",
    "1.2.840.113549.1.9.1": "emailAddress",
}
"""Short names of the attribute types seen in certificate names (others print as dotted OIDs)."""

SEQUENCE = 0x30
INTEGER = 0x02
BIT_STRING = 0x03
OID = 0x06
UTC_TIME = 0x17
GENERALIZED_TIME = 0x18
_BMP_STRING = 0x1E
_UNIVERSAL_STRING = 0x1C
_VERSION = 0xA0  # [0] EXPLICIT in TBSCertificate
_EXTENSIONS = 0xA3  # [3] EXPLICIT in TBSCertificate
_SAN_DNS = 0x82  # GeneralName dNSName [2] IMPLICIT
_SAN_IP = 0x87  # GeneralName iPAddress [7] IMPLICIT


class DerError(ValueError):
    """The bytes are not the DER (or the X.509 certificate) we can read: truncated, bad length, wrong shape."""


Tlv = tuple[int, int, int]
"""(tag, start of the value, end of the value): offsets into the buffer the element was read from."""


def read_tlv(data: bytes, pos: int = 0) -> Tlv:
    """(tag, start of value, end of value) of the DER element at ``pos``."""
    if pos + 2 > len(data):
        raise DerError("truncated DER")
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        n = length & 0x7F
        if n == 0 or n > 4 or pos + n > len(data):
            raise DerError("bad DER length")
        length = int.from_bytes(data[pos : pos + n], "big")
        pos += n
    if pos + length > len(data):
        raise DerError("truncated DER")
    return tag, pos, pos + length


def read_element(data: bytes, pos: int = 0) -> tuple[int, bytes, int]:
    """The DER element at ``pos`` as (tag, its value's bytes, position after it)."""
    tag, start, end = read_tlv(data, pos)
    return tag, data[start:end], end


def children(data: bytes, start: int, end: int) -> list[Tlv]:
    """The elements inside a constructed value that spans ``data[start:end]``."""
    out = []
    pos = start
    while pos < end:
        tlv = read_tlv(data, pos)
        if tlv[2] > end:
            raise DerError("DER element runs past its container")
        out.append(tlv)
        pos = tlv[2]
    return out


def oid_text(raw: bytes) -> str:
    """An OBJECT IDENTIFIER's value bytes in dotted form (``2.5.4.3``)."""
    if not raw:
        return ""
    if raw[-1] & 0x80:
        raise DerError("truncated OBJECT IDENTIFIER")
    arcs = []
    value = 0
    for b in raw:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            arcs.append(value)
            value = 0
    first = arcs[0]  # the first two arcs share one number: 40 * a + b (a is 0, 1 or 2)
    parts = [min(first // 40, 2), first - 40 * min(first // 40, 2), *arcs[1:]]
    return ".".join(str(p) for p in parts)


def _text(tag: int, raw: bytes) -> str:
    if tag == _BMP_STRING:
        return raw.decode("utf-16-be", "replace")
    if tag == _UNIVERSAL_STRING:
        return raw.decode("utf-32-be", "replace")
    return raw.decode("utf-8", "replace")


def _name(data: bytes, tlv: Tlv) -> tuple[tuple[str, str], ...]:
    """A Name (SEQUENCE OF SET OF {type, value}) as ((short name or dotted OID, value), ...) in DER order."""
    out = []
    for _set_tag, rs, re_ in children(data, tlv[1], tlv[2]):
        for _seq_tag, as_, ae in children(data, rs, re_):
            parts = children(data, as_, ae)
            if len(parts) < 2 or parts[0][0] != OID:
                raise DerError("bad attribute in a certificate name")
            (_otag, os_, oe), (vtag, vs, ve) = parts[:2]
            oid = oid_text(data[os_:oe])
            out.append((OID_NAMES.get(oid, oid), _text(vtag, data[vs:ve])))
    return tuple(out)


def _time(data: bytes, tlv: Tlv) -> _dt.datetime:
    """UTCTime (YYMMDDHHMMSSZ; RFC 5280: YY >= 50 is 19YY) or GeneralizedTime (YYYYMMDDHHMMSSZ), in UTC."""
    tag, start, end = tlv
    text = data[start:end].decode("ascii", "replace")
    if tag == UTC_TIME and len(text) == 13:
        yy = text[:2]
        text = ("19" if yy.isdigit() and int(yy) >= 50 else "20") + text
    elif tag != GENERALIZED_TIME:
        raise DerError(f"unexpected time tag {tag:#x}")
    if len(text) != 15 or not text.endswith("Z"):
        raise DerError(f"bad certificate time {text!r}")
    try:
        return _dt.datetime.strptime(text, "%Y%m%d%H%M%SZ").replace(tzinfo=_dt.UTC)
    except ValueError as exc:
        raise DerError(f"bad certificate time {text!r}") from exc


@dataclass(frozen=True, slots=True)
class Certificate:
    """What an operator reads from a certificate."""

    subject_cn: str
    issuer_cn: str
    not_before: _dt.datetime
    not_after: _dt.datetime
    dns_names: tuple[str, ...]
    ip_addresses: tuple[str, ...]
    self_issued: bool
    """Issuer equals subject, byte for byte (a self-signed certificate)."""
    subject: str = ""
    """The whole subject, ``CN=mail.lab.test, O=...`` in DER order."""
    issuer: str = ""
    san: tuple[str, ...] = ()
    """subjectAltName DNS names and IP addresses in the certificate's order."""

    def days_left(self, now: _dt.datetime | None = None) -> float:
        now = now or _dt.datetime.now(_dt.UTC)
        return (self.not_after - now).total_seconds() / 86400.0

    def names(self) -> list[str]:
        """The names it is valid for: DNS then IP subjectAltNames, or (no SAN at all) the subject CN."""
        return list(self.dns_names) + list(self.ip_addresses) or ([self.subject_cn] if self.subject_cn else [])


def _subject_alt_names(data: bytes, extensions: Tlv) -> list[tuple[int, str]]:
    """(GeneralName tag, text) of the DNS and IP entries of the subjectAltName extension, in order."""
    out: list[tuple[int, str]] = []
    inner = children(data, extensions[1], extensions[2])
    if len(inner) != 1 or inner[0][0] != SEQUENCE:
        raise DerError("bad extensions")
    for _tag, es, ee in children(data, inner[0][1], inner[0][2]):
        ext = children(data, es, ee)
        if len(ext) < 2 or ext[0][0] != OID:
            raise DerError("bad extension")
        if oid_text(data[ext[0][1] : ext[0][2]]) != OID_SAN:
            continue
        _, ns, ne = read_tlv(data, ext[-1][1])  # the OCTET STRING holds GeneralNames
        for gtag, gs, ge in children(data, ns, ne):
            if gtag == _SAN_DNS:
                out.append((gtag, data[gs:ge].decode("ascii", "replace")))
            elif gtag == _SAN_IP:
                try:
                    out.append((gtag, str(ipaddress.ip_address(data[gs:ge]))))
                except ValueError:
                    continue  # a malformed address cannot match anything
    return out


def parse_certificate(der: bytes) -> Certificate:
    """Subject, issuer, validity and subjectAltName (DNS and IP) of an X.509 certificate (DER)."""
    tag, cs, ce = read_tlv(der, 0)
    if tag != SEQUENCE:
        raise DerError("not a certificate")
    top = children(der, cs, ce)
    if not top or top[0][0] != SEQUENCE:
        raise DerError("not a certificate")
    items = children(der, top[0][1], top[0][2])
    if items and items[0][0] == _VERSION:
        items = items[1:]
    if len(items) < 6:
        raise DerError("certificate has too few fields")
    _serial, _sig, issuer, validity, subject, _spki = items[:6]
    times = children(der, validity[1], validity[2])
    if len(times) != 2:
        raise DerError("bad validity")
    san: list[tuple[int, str]] = []
    for ext in items[6:]:
        if ext[0] == _EXTENSIONS:
            san += _subject_alt_names(der, ext)
    subject_rdns, issuer_rdns = _name(der, subject), _name(der, issuer)
    return Certificate(
        subject_cn=next((v for k, v in subject_rdns if k == "CN"), ""),
        issuer_cn=next((v for k, v in issuer_rdns if k == "CN"), ""),
        not_before=_time(der, times[0]),
        not_after=_time(der, times[1]),
        dns_names=tuple(v for t, v in san if t == _SAN_DNS),
        ip_addresses=tuple(v for t, v in san if t == _SAN_IP),
        self_issued=der[issuer[1] : issuer[2]] == der[subject[1] : subject[2]],
        subject=", ".join(f"{k}={v}" for k, v in subject_rdns),
        issuer=", ".join(f"{k}={v}" for k, v in issuer_rdns),
        san=tuple(v for _, v in san),
    )
