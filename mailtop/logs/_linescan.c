/* The report's chunk reader, first step, in C: what ``fast._LINE_V.match`` gives for each line.
 *
 * ``scan(lines) -> (ms, ks, stamps)``: for each line, ``ms[i]`` holds the values of the pattern's
 * groups (a tuple indexed by group number, as ``m[i]`` of a match object; index 0 unused) and
 * ``ks[i]`` its ``lastindex``; ``stamps[i]`` is ``line[:15]``. Only lines of printable ASCII whose
 * kind is one of the common ones (a delivery, ``from=<..>, size=``, ``client=``, ``message-id=``, a
 * bounce notice, ``removed``, ``NOQUEUE: reject:``, a line that only counts, a Dovecot line, a
 * Dovecot ``*-login`` line's ``Login:``) are read here, and only when the pattern's first path through
 * its alternatives and quantifiers matches: a regular expression returns the first path that
 * matches, in a fixed order (alternatives left to right, greedy quantifiers longest first, optional
 * groups taken first), so where the path followed here is the pattern's first path and it matches,
 * the pattern's match is this one. Every other line (another kind, a path that fails here, a
 * character outside printable ASCII) gets the pattern's own match object (``pattern.match(line)``).
 * tests/unit/test_log_linescan.py compares both on every line of the lab captures, generated logs
 * and mutated lines.
 *
 * ``configure(pattern)`` reads the group numbers from ``pattern.groupindex`` first.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static Py_ssize_t NGROUPS = 0;
static Py_ssize_t G_NAME, G_QID, G_TO, G_RELAY, G_DELAY, G_STATUS, G_REST, G_SENDER, G_SIZE, G_CLIENT,
    G_FEED, G_REMOVED, G_RJ, G_PLAIN, G_DOVECOT, G_DLOGIN, G_RIP;
static PyObject *MATCH = NULL;      /* pattern.match */
static int SCANNING = 0;            /* scans under way: configure() is refused then */
static PyObject *EMPTY = NULL;      /* "" */
static PyObject *DOVECOT_T = NULL;  /* the groups of every Dovecot line read here */
static PyObject *KINDS[9];          /* lastindex objects */

enum { K_DELIVERY, K_QUEUED, K_CLIENT, K_FEED, K_REMOVED, K_REJECT, K_PLAIN, K_DOVECOT, K_LOGIN };

static inline int is_hex(unsigned char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); }

static inline int is_safe52(unsigned char c) {
    /* [0-9B-DF-HJ-NP-TV-Zb-df-hj-np-tv-z]: digits and letters but vowels */
    if (c >= '0' && c <= '9') return 1;
    if (c >= 'A' && c <= 'Z') return c != 'A' && c != 'E' && c != 'I' && c != 'O' && c != 'U';
    if (c >= 'a' && c <= 'z') return c != 'a' && c != 'e' && c != 'i' && c != 'o' && c != 'u';
    return 0;
}

static inline int is_safe51(unsigned char c) { return c != 'z' && is_safe52(c); }

static inline int is_word(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

static inline int starts(const unsigned char *s, Py_ssize_t n, Py_ssize_t i, const char *lit, Py_ssize_t len) {
    return i + len <= n && memcmp(s + i, lit, (size_t)len) == 0;
}
#define STARTS(i, lit) starts(s, n, (i), (lit), (Py_ssize_t)(sizeof(lit) - 1))

static inline int colon_space(const unsigned char *s, Py_ssize_t n, Py_ssize_t i) {
    return i + 1 < n && s[i] == ':' && s[i + 1] == ' ';
}

/* _QID followed by ": " at p: its length, or 0. [0-9A-F]{6,21} first, then
 * [safe52]{10,11}z[safe51]{1,12} (11 first). At most one of them can be followed by ": ". */
static Py_ssize_t qid_len(const unsigned char *s, Py_ssize_t n, Py_ssize_t p) {
    Py_ssize_t h = 0;
    while (p + h < n && h <= 21 && is_hex(s[p + h])) h++;
    if (h >= 6 && h <= 21 && colon_space(s, n, p + h)) return h;
    for (Py_ssize_t j = 11; j >= 10; j--) {
        if (p + j >= n) continue;
        Py_ssize_t k = 0;
        while (k < j && is_safe52(s[p + k])) k++;
        if (k < j || s[p + j] != 'z') continue;
        Py_ssize_t r = 0;
        while (p + j + 1 + r < n && r <= 12 && is_safe51(s[p + j + 1 + r])) r++;
        if (r >= 1 && r <= 12 && colon_space(s, n, p + j + 1 + r)) return j + 1 + r;
    }
    return 0;
}

/* _QID_ANY followed by ": " at p: (?:[0-9A-F]{6,}|[safe52]{10,}z) */
static int qid_any(const unsigned char *s, Py_ssize_t n, Py_ssize_t p) {
    Py_ssize_t h = 0;
    while (p + h < n && is_hex(s[p + h])) h++;
    if (h >= 6 && colon_space(s, n, p + h)) return 1;
    Py_ssize_t r = 0;
    while (p + r < n && is_safe52(s[p + r])) r++;
    return r >= 11 && s[p + r - 1] == 'z' && colon_space(s, n, p + r);
}

/* [^,]+ then ", " at i: the end of the run (the comma), or -1 */
static inline Py_ssize_t field(const unsigned char *s, Py_ssize_t n, Py_ssize_t i) {
    const unsigned char *c = memchr(s + i, ',', (size_t)(n - i));
    if (c == NULL) return -1;
    Py_ssize_t e = c - s;
    if (e == i || e + 1 >= n || s[e + 1] != ' ') return -1;
    return e;
}

/* [^>]* then ">, " at i: the position of the '>', or -1 */
static inline Py_ssize_t angle(const unsigned char *s, Py_ssize_t n, Py_ssize_t i) {
    const unsigned char *c = memchr(s + i, '>', (size_t)(n - i));
    if (c == NULL) return -1;
    Py_ssize_t e = c - s;
    if (e + 2 >= n || s[e + 1] != ',' || s[e + 2] != ' ') return -1;
    return e;
}

typedef struct {
    int kind;
    Py_ssize_t name0, name1, qid0, qid1;
    Py_ssize_t a0, a1, b0, b1, c0, c1, d0, d1, e0, e1;   /* the kind's fields */
} Parsed;

/* 1 when the line is read here (its fields in *o), 0 when the pattern must read it */
static int parse(const unsigned char *s, Py_ssize_t n, Parsed *o) {
    if (n < 17 || s[15] != ' ') return 0;
    Py_ssize_t p = 16, h = 16;
    while (h < n && s[h] != ' ' && s[h] != ':') h++;
    if (h == p || h >= n || s[h] != ' ') return 0;
    p = h + 1;                                   /* after "host " */
    if (STARTS(p, "dovecot: ")) {
        Py_ssize_t q = p + 9, w = q;
        while (w < n && (is_word(s[w]) || s[w] == '-')) w++;
        if (w == q) return 0;
        int login = w - q >= 6 && memcmp(s + w - 6, "-login", 6) == 0;
        q = w;
        if (q < n && s[q] == '(') {
            Py_ssize_t r = 0;
            while (q + 1 + r < n && r <= 200 && s[q + 1 + r] != ')' && s[q + 1 + r] != ':') r++;
            if (r <= 200 && q + 1 + r < n && s[q + 1 + r] == ')') q += r + 2;
        }
        if (q < n && s[q] == '<') {
            Py_ssize_t d = 0;
            while (q + 1 + d < n && d <= 20 && s[q + 1 + d] >= '0' && s[q + 1 + d] <= '9') d++;
            if (d >= 1 && d <= 20 && q + 1 + d < n && s[q + 1 + d] == '>') q += d + 2;
        }
        if (q < n && s[q] == '<') {
            Py_ssize_t d = 0;
            while (q + 1 + d < n && d < 21 && s[q + 1 + d] >= '0' && s[q + 1 + d] <= '9') d++;
            if (d < 21) {
                Py_ssize_t r = 0;
                while (q + 1 + r < n && s[q + 1 + r] != '>' && s[q + 1 + r] != ':') r++;
                if (q + 1 + r < n && s[q + 1 + r] == '>') q += r + 2;
            }
        }
        if (!colon_space(s, n, q)) return 0;
        if (!login) {
            o->kind = K_DOVECOT;
            return 1;
        }
        /* (?:Info: )?Login: user=<[^>]*>, (?:[a-z_]+=[^,<>=]*, )*?rip=(?!<)(?P<rip>[^,\s]*) */
        q += 2;
        if (STARTS(q, "Info: ")) q += 6;
        if (!STARTS(q, "Login: user=<")) return 0;
        Py_ssize_t g = angle(s, n, q + 13);
        if (g < 0) return 0;
        q = g + 3;
        for (;;) {
            if (STARTS(q, "rip=") && !(q + 4 < n && s[q + 4] == '<')) {
                Py_ssize_t r = q + 4;
                while (r < n && s[r] != ',' && s[r] != ' ') r++;
                o->a0 = q + 4;
                o->a1 = r;
                o->kind = K_LOGIN;
                return 1;
            }
            Py_ssize_t k = q;
            while (k < n && ((s[k] >= 'a' && s[k] <= 'z') || s[k] == '_')) k++;
            if (k == q || k >= n || s[k] != '=') return 0;
            k++;
            while (k < n && s[k] != ',' && s[k] != '<' && s[k] != '>' && s[k] != '=') k++;
            if (!(k + 1 < n && s[k] == ',' && s[k + 1] == ' ')) return 0;
            q = k + 2;
        }
    }
    /* (?P<name>[^ \[]+)\[[0-9]{1,20}\]: */
    Py_ssize_t e = p;
    while (e < n && s[e] != ' ' && s[e] != '[') e++;
    if (e == p || e >= n || s[e] != '[') return 0;
    o->name0 = p;
    o->name1 = e;
    Py_ssize_t d = 0;
    while (e + 1 + d < n && d <= 20 && s[e + 1 + d] >= '0' && s[e + 1 + d] <= '9') d++;
    if (d < 1 || d > 20 || !starts(s, n, e + 1 + d, "]: ", 3)) return 0;
    p = e + 1 + d + 3;                           /* the message */
    Py_ssize_t ql = qid_len(s, n, p);
    if (ql) {
        Py_ssize_t i = p + ql + 2;
        o->qid0 = p;
        o->qid1 = p + ql;
        if (STARTS(i, "to=<")) {
            Py_ssize_t g = angle(s, n, i + 4);
            if (g < 0) return 0;
            o->a0 = i + 4;
            o->a1 = g;                           /* to */
            i = g + 3;
            if (STARTS(i, "orig_to=<")) {
                Py_ssize_t g2 = angle(s, n, i + 9);
                if (g2 >= 0) i = g2 + 3;
            }
            if (!STARTS(i, "relay=")) return 0;
            Py_ssize_t f = field(s, n, i + 6);
            if (f < 0) return 0;
            o->b0 = i + 6;
            o->b1 = f;                           /* relay */
            i = f + 2;
            if (STARTS(i, "conn_use=")) {
                Py_ssize_t f2 = field(s, n, i + 9);
                if (f2 >= 0) i = f2 + 2;
            }
            if (!STARTS(i, "delay=")) return 0;
            f = field(s, n, i + 6);
            if (f < 0) return 0;
            o->c0 = i + 6;
            o->c1 = f;                           /* delay */
            i = f + 2;
            if (STARTS(i, "delays=")) {
                Py_ssize_t f2 = field(s, n, i + 7);
                if (f2 >= 0) i = f2 + 2;
            }
            if (STARTS(i, "dsn=")) {
                Py_ssize_t f2 = field(s, n, i + 4);
                if (f2 >= 0) i = f2 + 2;
            }
            if (!STARTS(i, "status=")) return 0;
            i += 7;
            Py_ssize_t t = i;
            while (t < n && s[t] != ' ') t++;
            if (t == i) return 0;
            o->d0 = i;
            o->d1 = t;                           /* status */
            o->e0 = t;
            o->e1 = n;                           /* rest */
            o->kind = K_DELIVERY;
            return 1;
        }
        if (STARTS(i, "from=<")) {
            const unsigned char *c = memchr(s + i + 6, '>', (size_t)(n - i - 6));
            if (c == NULL) return 0;
            Py_ssize_t g = c - s;
            if (!starts(s, n, g, ">, size=", 8)) return 0;
            Py_ssize_t z = 0;
            while (g + 8 + z < n && z <= 300 && s[g + 8 + z] >= '0' && s[g + 8 + z] <= '9') z++;
            if (z < 1 || z > 300) return 0;
            o->a0 = i + 6;
            o->a1 = g;                           /* sender */
            o->b0 = g + 8;
            o->b1 = g + 8 + z;                   /* size */
            o->kind = K_QUEUED;
            return 1;
        }
        if (STARTS(i, "client=")) {
            o->a0 = i + 7;
            o->a1 = n;
            o->kind = K_CLIENT;
            return 1;
        }
        if (STARTS(i, "message-id=")) {
            o->kind = K_FEED;
            return 1;
        }
        if (STARTS(i, "sender ")) {
            const unsigned char *c = memchr(s + i + 7, ':', (size_t)(n - i - 7));
            if (c == NULL) return 0;
            Py_ssize_t k = c - s;
            if (k - 12 < i + 7 || !starts(s, n, k - 12, "notification: ", 14)) return 0;
            o->kind = K_FEED;
            return 1;
        }
        if (n - i == 7 && memcmp(s + i, "removed", 7) == 0) {
            o->kind = K_REMOVED;
            return 1;
        }
        return 0;
    }
    if (STARTS(p, "NOQUEUE: ")) {
        if (!STARTS(p, "NOQUEUE: reject: ")) return 0;
        o->a0 = p + 17;
        o->a1 = n;
        o->kind = K_REJECT;
        return 1;
    }
    if (STARTS(p, "disconnect from ")) {
        o->kind = K_PLAIN;
        return 1;
    }
    if (p >= n || qid_any(s, n, p) || strchr("rhdmwfpe", s[p]) != NULL) return 0;
    o->kind = K_PLAIN;
    return 1;
}

/* 2 when s[:n] is printable ASCII (0x20-0x7e), 1 when ASCII, 0 else (a loop the compiler vectorizes) */
static int char_class(const unsigned char *s, Py_ssize_t n) {
    unsigned char hi = 0, ctl = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        hi |= c & 0x80;
        ctl |= (unsigned char)((c < 0x20) | (c == 0x7f));
    }
    return hi ? 0 : ctl ? 1 : 2;
}

static PyObject *groups_tuple(void) {
    PyObject *t = PyTuple_New(NGROUPS + 1);
    if (t == NULL) return NULL;
    for (Py_ssize_t i = 0; i <= NGROUPS; i++) {
        Py_INCREF(Py_None);
        PyTuple_SET_ITEM(t, i, Py_None);
    }
    return t;
}

/* an ASCII str of s[a:b] */
static inline PyObject *ascii(const unsigned char *s, Py_ssize_t a, Py_ssize_t b) {
    PyObject *v = PyUnicode_New(b - a, 127);
    if (v != NULL) memcpy(PyUnicode_1BYTE_DATA(v), s + a, (size_t)(b - a));
    return v;
}

static inline int put(PyObject *t, Py_ssize_t g, const unsigned char *s, Py_ssize_t a, Py_ssize_t b) {
    PyObject *v = ascii(s, a, b);
    if (v == NULL) return -1;
    PyObject *old = PyTuple_GET_ITEM(t, g);
    PyTuple_SET_ITEM(t, g, v);
    Py_DECREF(old);
    return 0;
}

static inline void put_obj(PyObject *t, Py_ssize_t g, PyObject *v) {
    PyObject *old = PyTuple_GET_ITEM(t, g);
    Py_INCREF(v);
    PyTuple_SET_ITEM(t, g, v);
    Py_DECREF(old);
}

typedef struct {
    PyObject *ms, *ks, *stamps;
    PyObject *prev_stamp, *prev_name, *plain;   /* borrowed: held by the lists */
} Out;

/* The pattern's own answer for ``line`` (a str) at ``li`` */
static int by_pattern(Out *out, Py_ssize_t li, PyObject *line) {
    PyObject *m = PyObject_CallOneArg(MATCH, line);
    if (m == NULL) return -1;
    if (m == Py_None) {
        Py_DECREF(m);
        PyErr_SetString(PyExc_ValueError, "the pattern must match every line");
        return -1;
    }
    PyObject *k = PyObject_GetAttrString(m, "lastindex");
    if (k == NULL) {
        Py_DECREF(m);
        return -1;
    }
    PyList_SET_ITEM(out->ms, li, m);
    PyList_SET_ITEM(out->ks, li, k);
    return 0;
}

/* Line ``li``: ``s``/``n`` its characters when it is ASCII (else NULL), ``line`` the str when there
 * is one (scan) or NULL (scan_bytes: made here when needed; ``raw``/``rawn`` its bytes). */
static int one_line(Out *out, Py_ssize_t li, const unsigned char *s, Py_ssize_t n, PyObject *line,
                    const char *raw, Py_ssize_t rawn, int printable) {
    PyObject *made = NULL;
    if (line == NULL && s == NULL) {              /* not ASCII: decoded as follow._decode does */
        made = line = PyUnicode_DecodeUTF8(raw, rawn, "replace");
        if (line == NULL) return -1;
    }
    /* the stamp: line[:15], the previous line's object when equal */
    PyObject *stamp;
    if (s != NULL && n >= 15 && out->prev_stamp != NULL && PyUnicode_GET_LENGTH(out->prev_stamp) == 15 &&
        memcmp(PyUnicode_DATA(out->prev_stamp), s, 15) == 0) {
        stamp = out->prev_stamp;
        Py_INCREF(stamp);
    } else {
        stamp = s != NULL ? ascii(s, 0, n < 15 ? n : 15) : PyUnicode_Substring(line, 0, 15);
        if (stamp == NULL) {
            Py_XDECREF(made);
            return -1;
        }
        if (PyUnicode_IS_ASCII(stamp)) out->prev_stamp = stamp;
    }
    PyList_SET_ITEM(out->stamps, li, stamp);
    Parsed o = {0};
    if (s == NULL || !printable || !parse(s, n, &o)) {
        if (line == NULL) {
            made = line = ascii(s, 0, n);
            if (line == NULL) return -1;
        }
        int r = by_pattern(out, li, line);
        Py_XDECREF(made);
        return r;
    }
    Py_INCREF(KINDS[o.kind]);
    PyList_SET_ITEM(out->ks, li, KINDS[o.kind]);
    if (o.kind == K_DOVECOT) {
        Py_INCREF(DOVECOT_T);
        PyList_SET_ITEM(out->ms, li, DOVECOT_T);
        return 0;
    }
    if (o.kind == K_LOGIN) {
        PyObject *t = groups_tuple();
        if (t == NULL) return -1;
        PyList_SET_ITEM(out->ms, li, t);
        put_obj(t, G_DLOGIN, EMPTY);
        return put(t, G_RIP, s, o.a0, o.a1);
    }
    Py_ssize_t nl = o.name1 - o.name0;
    if (o.kind == K_PLAIN && out->plain != NULL) {   /* the previous plain line's tuple, same tag */
        PyObject *pn = PyTuple_GET_ITEM(out->plain, G_NAME);
        if (PyUnicode_GET_LENGTH(pn) == nl && memcmp(PyUnicode_DATA(pn), s + o.name0, (size_t)nl) == 0) {
            Py_INCREF(out->plain);
            PyList_SET_ITEM(out->ms, li, out->plain);
            return 0;
        }
    }
    /* the tag name: the previous one's object when equal */
    PyObject *name, *prev = out->prev_name;
    if (prev != NULL && PyUnicode_GET_LENGTH(prev) == nl && memcmp(PyUnicode_DATA(prev), s + o.name0, (size_t)nl) == 0) {
        name = prev;
        Py_INCREF(name);
    } else {
        name = ascii(s, o.name0, o.name1);
        if (name == NULL) return -1;
    }
    PyObject *t = groups_tuple();
    if (t == NULL) {
        Py_DECREF(name);
        return -1;
    }
    put_obj(t, G_NAME, name);
    out->prev_name = name;                       /* the tuple holds it */
    Py_DECREF(name);
    PyList_SET_ITEM(out->ms, li, t);
    int bad = 0;
    switch (o.kind) {
    case K_PLAIN:
        put_obj(t, G_PLAIN, EMPTY);
        out->plain = t;
        break;
    case K_DELIVERY:
        bad = put(t, G_QID, s, o.qid0, o.qid1) || put(t, G_TO, s, o.a0, o.a1) || put(t, G_RELAY, s, o.b0, o.b1) ||
              put(t, G_DELAY, s, o.c0, o.c1) || put(t, G_STATUS, s, o.d0, o.d1) || put(t, G_REST, s, o.e0, o.e1);
        break;
    case K_QUEUED:
        bad = put(t, G_QID, s, o.qid0, o.qid1) || put(t, G_SENDER, s, o.a0, o.a1) || put(t, G_SIZE, s, o.b0, o.b1);
        break;
    case K_CLIENT:
        bad = put(t, G_QID, s, o.qid0, o.qid1) || put(t, G_CLIENT, s, o.a0, o.a1);
        break;
    case K_FEED:
        bad = put(t, G_QID, s, o.qid0, o.qid1);
        put_obj(t, G_FEED, EMPTY);
        break;
    case K_REMOVED:
        bad = put(t, G_QID, s, o.qid0, o.qid1);
        put_obj(t, G_REMOVED, EMPTY);
        break;
    case K_REJECT:
        bad = put(t, G_RJ, s, o.a0, o.a1);
        break;
    }
    return bad ? -1 : 0;
}

static int out_new(Out *out, Py_ssize_t count) {
    memset(out, 0, sizeof(*out));
    out->ms = PyList_New(count);
    out->ks = PyList_New(count);
    out->stamps = PyList_New(count);
    return out->ms != NULL && out->ks != NULL && out->stamps != NULL ? 0 : -1;
}

static PyObject *out_done(Out *out, int ok) {
    if (ok) return Py_BuildValue("(NNN)", out->ms, out->ks, out->stamps);
    Py_XDECREF(out->ms);
    Py_XDECREF(out->ks);
    Py_XDECREF(out->stamps);
    return NULL;
}

static PyObject *scan(PyObject *self, PyObject *arg) {
    if (MATCH == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_linescan.configure(pattern) first");
        return NULL;
    }
    if (!PyList_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "scan() takes a list of str");
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(arg);
    Out out;
    if (out_new(&out, count) < 0) return out_done(&out, 0);
    /* pattern.match runs Python code (a pattern object of another type, a finalizer the collector
     * calls) that may change the list: its size is checked before each line, and the line is held */
    SCANNING++;
    int ok = 1;
    for (Py_ssize_t li = 0; ok && li < count; li++) {
        if (PyList_GET_SIZE(arg) != count) {
            PyErr_SetString(PyExc_RuntimeError, "scan(): the list changed size during the scan");
            ok = 0;
            break;
        }
        PyObject *line = PyList_GET_ITEM(arg, li);
        if (!PyUnicode_Check(line)) {
            PyErr_SetString(PyExc_TypeError, "scan() takes a list of str");
            ok = 0;
            break;
        }
        Py_INCREF(line);
        const unsigned char *s = PyUnicode_IS_ASCII(line) ? (const unsigned char *)PyUnicode_DATA(line) : NULL;
        Py_ssize_t n = PyUnicode_GET_LENGTH(line);
        ok = one_line(&out, li, s, n, line, NULL, 0, s != NULL && char_class(s, n) == 2) == 0;
        Py_DECREF(line);
    }
    SCANNING--;
    return out_done(&out, ok);
}

/* scan_bytes(block, max_line): the lines of ``block`` (bytes split on "\n", each decoded as
 * follow._decode decodes) scanned as ``scan`` does, without making a str of every line; None when
 * the block holds a "\r" or a line of more than ``max_line`` bytes (the caller decodes and splits
 * it then, as follow.iter_line_batches does). */
static PyObject *scan_bytes(PyObject *self, PyObject *args) {
    Py_buffer buf;
    Py_ssize_t max_line;
    if (MATCH == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_linescan.configure(pattern) first");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "y*n", &buf, &max_line)) return NULL;
    if (max_line < 0) {
        PyBuffer_Release(&buf);
        PyErr_SetString(PyExc_ValueError, "scan_bytes(): max_line must be 0 or more");
        return NULL;
    }
    const char *data = buf.buf;
    Py_ssize_t len = buf.len, count = 1;
    if (memchr(data, '\r', (size_t)len) != NULL) {
        PyBuffer_Release(&buf);
        Py_RETURN_NONE;
    }
    for (const char *p = data, *end = data + len; (p = memchr(p, '\n', (size_t)(end - p))) != NULL; p++) count++;
    Out out;
    if (out_new(&out, count) < 0) {
        PyBuffer_Release(&buf);
        return out_done(&out, 0);
    }
    const char *p = data, *end = data + len;
    int ok = 1;
    SCANNING++;
    for (Py_ssize_t li = 0; li < count; li++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL) nl = end;
        Py_ssize_t n = nl - p;
        if (n > max_line) {
            ok = -1;
            break;
        }
        const unsigned char *s = (const unsigned char *)p;
        int cls = char_class(s, n);
        if (one_line(&out, li, cls ? s : NULL, n, NULL, p, n, cls == 2) < 0) {
            ok = 0;
            break;
        }
        p = nl + 1;
    }
    SCANNING--;
    PyBuffer_Release(&buf);
    if (ok < 0) {
        out_done(&out, 0);
        Py_RETURN_NONE;
    }
    return out_done(&out, ok);
}

/* fast_split's queue-ID hashes: FNV-1a (64 bits) of the ID's bytes, the same for prescan and qhash */
static inline uint64_t fnv(const unsigned char *s, Py_ssize_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 1099511628211ULL;
    }
    return h;
}

static inline int is_alnum(unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

/* prescan(data, bitmap): for every ": " + 6..24 letters and digits + ": " in data (what
 * fast_split._PRESCAN finds), set the bit of its hash (modulo the bitmap's size in bits, a power of
 * two) in bitmap. */
static PyObject *prescan(PyObject *self, PyObject *args) {
    Py_buffer data, bm;
    if (!PyArg_ParseTuple(args, "y*w*", &data, &bm)) return NULL;
    uint64_t bits = (uint64_t)bm.len * 8;
    if (bits == 0 || (bits & (bits - 1)) != 0) {
        PyBuffer_Release(&data);
        PyBuffer_Release(&bm);
        PyErr_SetString(PyExc_ValueError, "the bitmap's size in bits must be a power of two");
        return NULL;
    }
    const unsigned char *s = data.buf;
    unsigned char *b = bm.buf;
    Py_ssize_t n = data.len;
    const unsigned char *p = s, *end = s + n;
    while ((p = memchr(p, ':', (size_t)(end - p))) != NULL) {
        Py_ssize_t i = p - s;
        if (i + 1 < n && s[i + 1] == ' ') {
            Py_ssize_t r = 0;
            while (i + 2 + r < n && r <= 24 && is_alnum(s[i + 2 + r])) r++;
            if (r >= 6 && r <= 24 && i + 3 + r < n && s[i + 2 + r] == ':' && s[i + 3 + r] == ' ') {
                uint64_t h = fnv(s + i + 2, r) & (bits - 1);
                b[h >> 3] |= (unsigned char)(1u << (h & 7));
            }
        }
        p++;
    }
    PyBuffer_Release(&data);
    PyBuffer_Release(&bm);
    Py_RETURN_NONE;
}

/* qhash(qid) -> the hash prescan uses for it (of its UTF-8 bytes) */
static PyObject *qhash(PyObject *self, PyObject *arg) {
    Py_ssize_t n;
    if (!PyUnicode_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "qhash() takes a str");
        return NULL;
    }
    const char *u = PyUnicode_AsUTF8AndSize(arg, &n);
    if (u == NULL) return NULL;
    return PyLong_FromUnsignedLongLong(fnv((const unsigned char *)u, n) & 0x7fffffffffffffffULL);
}

static Py_ssize_t group(PyObject *index, const char *name) {
    PyObject *v = PyDict_GetItemString(index, name);   /* borrowed */
    if (v == NULL) {
        PyErr_Format(PyExc_ValueError, "the pattern has no group %s", name);
        return -1;
    }
    return PyLong_AsSsize_t(v);
}

/* configure(pattern): everything is read and made first, then stored at once: a pattern that fails
 * (a group missing, an attribute that is not there) leaves the previous configuration as it was
 * (it had left the group numbers half changed: the next scan wrote outside its tuples). */
static PyObject *configure(PyObject *self, PyObject *pattern) {
    if (SCANNING) {   /* from pattern.match: the scan under way holds tuples of the group count it began with */
        PyErr_SetString(PyExc_RuntimeError, "configure() during a scan");
        return NULL;
    }
    PyObject *index = PyObject_GetAttrString(pattern, "groupindex");
    if (index == NULL) return NULL;
    PyObject *d = PyDict_New();
    if (d == NULL || PyDict_Update(d, index) < 0) {
        Py_DECREF(index);
        Py_XDECREF(d);
        return NULL;
    }
    Py_DECREF(index);
    PyObject *ng = PyObject_GetAttrString(pattern, "groups");
    if (ng == NULL) {
        Py_DECREF(d);
        return NULL;
    }
    Py_ssize_t ngroups = PyLong_AsSsize_t(ng);
    Py_DECREF(ng);
    if (ngroups == -1 && PyErr_Occurred()) {
        Py_DECREF(d);
        return NULL;
    }
    enum { NSLOTS = 17 };
    Py_ssize_t *slots[NSLOTS] = {&G_NAME, &G_QID, &G_TO, &G_RELAY, &G_DELAY, &G_STATUS, &G_REST, &G_SENDER,
                                 &G_SIZE, &G_CLIENT, &G_FEED, &G_REMOVED, &G_RJ, &G_PLAIN, &G_DOVECOT, &G_DLOGIN, &G_RIP};
    const char *names[NSLOTS] = {"name", "qid", "to", "relay", "delay", "status", "rest", "sender", "size",
                                 "client", "K_FEED", "K_REMOVED", "rj", "K_PLAIN", "K_DOVECOT", "dlogin", "rip"};
    Py_ssize_t g[NSLOTS];
    for (size_t i = 0; i < NSLOTS; i++) {
        g[i] = group(d, names[i]);
        if (g[i] < 1 || g[i] > ngroups) {
            Py_DECREF(d);
            if (!PyErr_Occurred()) PyErr_Format(PyExc_ValueError, "bad group number for %s", names[i]);
            return NULL;
        }
    }
    Py_DECREF(d);
    /* the lastindex of each kind: the group that closes last (rest, size, client, K_FEED, K_REMOVED,
     * rj, K_PLAIN, K_DOVECOT, rip) */
    const int last[9] = {6, 8, 9, 10, 11, 12, 13, 14, 16};
    PyObject *kinds[9] = {NULL};
    PyObject *match = NULL, *dovecot_t = NULL;
    for (int i = 0; i < 9; i++) {
        kinds[i] = PyLong_FromSsize_t(g[last[i]]);
        if (kinds[i] == NULL) goto fail;
    }
    match = PyObject_GetAttrString(pattern, "match");
    if (match == NULL) goto fail;
    dovecot_t = PyTuple_New(ngroups + 1);
    if (dovecot_t == NULL) goto fail;
    for (Py_ssize_t i = 0; i <= ngroups; i++) {
        PyObject *v = i == g[14] ? EMPTY : Py_None;   /* K_DOVECOT */
        Py_INCREF(v);
        PyTuple_SET_ITEM(dovecot_t, i, v);
    }
    /* all made: store */
    NGROUPS = ngroups;
    for (size_t i = 0; i < NSLOTS; i++) *slots[i] = g[i];
    for (int i = 0; i < 9; i++) Py_XSETREF(KINDS[i], kinds[i]);
    Py_XSETREF(MATCH, match);
    Py_XSETREF(DOVECOT_T, dovecot_t);
    Py_RETURN_NONE;
fail:
    for (int i = 0; i < 9; i++) Py_XDECREF(kinds[i]);
    Py_XDECREF(match);
    return NULL;
}

static PyMethodDef methods[] = {
    {"scan", scan, METH_O, "scan(lines) -> (groups per line, lastindex per line, line[:15] per line)"},
    {"prescan", prescan, METH_VARARGS, "prescan(data, bitmap): set the bit of every queue ID's hash"},
    {"qhash", qhash, METH_O, "qhash(qid) -> the hash prescan sets a bit for"},
    {"scan_bytes", scan_bytes, METH_VARARGS, "scan_bytes(block, max_line) -> scan(lines of block), or None"},
    {"configure", configure, METH_O, "configure(pattern): read the pattern's group numbers"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_linescan",
                                    "The report's line classifier in C (see mailtop/logs/_linescan.c).", -1,
                                    methods};

PyMODINIT_FUNC PyInit__linescan(void) {
    EMPTY = PyUnicode_FromStringAndSize("", 0);
    if (EMPTY == NULL) return NULL;
    return PyModule_Create(&module);
}
