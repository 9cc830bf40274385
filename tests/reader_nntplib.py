#!/usr/bin/env python3
"""Drives a newsmesh reader service with Python's nntplib, as a real newsreader would.

Usage: reader_nntplib.py HOST PORT [plain|starttls|nntps CERT]. The node must carry
mesh.test with articles (tests/reader.rs starts one). With starttls the session is
upgraded with STARTTLS (RFC 4642) before anything else; with nntps PORT is an
implicit-TLS port; either way the server must present the certificate in the PEM file
CERT (the node's self-signed reader certificate, trusted as is). Exits 0 when everything checks, 77 when this Python has
no nntplib (removed in 3.13), 1 with a message otherwise. Prints "posted <id>" for the
article it posted, so the caller can check the stored copy.
"""

import datetime
import ssl
import sys
import warnings

warnings.filterwarnings("ignore", category=DeprecationWarning)
try:
    import nntplib  # noqa: E402  (deprecated in 3.11, removed in 3.13)
except ImportError:
    print("nntplib is not available in this Python")
    sys.exit(77)


def check(cond, what):
    if not cond:
        print("FAILED:", what)
        sys.exit(1)


def main():
    host, port = sys.argv[1], int(sys.argv[2])
    mode = sys.argv[3] if len(sys.argv) > 3 else "plain"
    if mode != "plain":
        # What the README tells readers: trust the node's reader.crt; the name
        # dialled (127.0.0.1 here) is checked against it like any other.
        context = ssl.create_default_context(cafile=sys.argv[4])
    if mode == "nntps":
        s = nntplib.NNTP_SSL(host, port, ssl_context=context, readermode=True, timeout=30)
        check(s.sock.version() == "TLSv1.3", f"TLS version {s.sock.version()}")
    else:
        s = nntplib.NNTP(host, port, readermode=True, timeout=30)
    if mode == "starttls":
        check("STARTTLS" in s.getcapabilities(), "STARTTLS advertised")
        s.starttls(context)
        check(s.sock.version() == "TLSv1.3", f"TLS version {s.sock.version()}")
        check("STARTTLS" not in s.getcapabilities(), "STARTTLS gone after it")
    caps = s.getcapabilities()
    check("READER" in caps and "POST" in caps, f"capabilities {caps}")
    check("HDR" in caps and "OVER" in caps, f"capabilities {caps}")

    # Groups.
    _, groups = s.list()
    names = {g.group: g for g in groups}
    check("mesh.test" in names, f"LIST: {groups}")
    check(names["mesh.test"].flag == "y", f"flag {names['mesh.test']}")
    _, descriptions = s.descriptions("mesh.*")
    check("mesh.test" in descriptions, f"descriptions {descriptions}")
    _, count, first, last, name = s.group("mesh.test")
    check(name == "mesh.test" and count >= 3 and first == 1, f"GROUP {count} {first} {last}")

    # Overview.
    _, overviews = s.over((first, last))
    check(len(overviews) == count, f"OVER gave {len(overviews)} of {count}")
    subjects = [ov["subject"] for _, ov in overviews]
    check(subjects[:3] == ["first", "second", "third"], f"subjects {subjects}")
    for number, ov in overviews:
        check(ov["message-id"].startswith("<"), f"message-id of {number}: {ov}")
        check(int(ov[":bytes"]) > 0 and int(ov[":lines"]) >= 1, f"metadata {ov}")
    _, hdrs = s.xhdr("subject", f"{first}-{last}")
    check([h[1] for h in hdrs][:3] == subjects[:3], f"XHDR {hdrs}")

    # Articles.
    _, info = s.article(2)
    check(info.number == 2, f"ARTICLE number {info.number}")
    lines = info.lines
    sep = lines.index(b"")
    check(any(l.startswith(b"Newsmesh-Signature: ") for l in lines[:sep]), "signature header")
    check(lines[sep + 1:] == [b"two", b".dot", b"..dots"], f"body {lines[sep + 1:]}")
    _, number, _ = s.stat()
    check(number == 2, "ARTICLE n made n current")
    _, number, _ = s.next()
    check(number == 3, "NEXT")
    _, number, msgid3 = s.last()
    check(number == 2 and msgid3.startswith("<"), "LAST")
    _, info = s.head(1)
    check(b"Subject: first" in info.lines, f"HEAD {info.lines}")

    # Post an article whose body has lines starting with "." and "..", read it back.
    body = [b".leading dot", b"..two leading dots", b".", b"last line"]
    article = [
        b"From: Py Reader <py@example.org>",
        b"Newsgroups: mesh.test",
        b"Subject: posted by nntplib",
        b"",
    ] + body
    resp = s.post(article)
    check(resp.startswith("240"), f"POST {resp}")
    msgid = resp.split()[1]
    check(msgid.startswith("<") and msgid.endswith(">"), f"POST response {resp}")
    print("posted", msgid)
    _, info = s.body(msgid)
    check(info.lines == body, f"BODY back {info.lines}")
    _, info = s.article(msgid)
    sep = info.lines.index(b"")
    headers = info.lines[:sep]
    check(info.lines[sep + 1:] == body, "ARTICLE body back")
    check(any(h.startswith(b"Newsmesh-Signature: ") for h in headers), f"headers {headers}")
    check(f"Message-ID: {msgid}".encode() in headers, f"headers {headers}")
    _, ov = s.over(msgid)
    check(ov[0][1]["subject"] == "posted by nntplib", f"OVER msgid {ov}")

    # NEWNEWS / NEWGROUPS / DATE.
    since = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)
    _, new = s.newnews("mesh.test", since)
    check(msgid in new, f"NEWNEWS {new}")
    _, newgroups = s.newgroups(since)
    check("mesh.test" in [g.group for g in newgroups], f"NEWGROUPS {newgroups}")
    _, date = s.date()
    check(abs((datetime.datetime.utcnow() - date).total_seconds()) < 120, f"DATE {date}")

    # Errors surface as nntplib exceptions, and the session goes on.
    try:
        s.group("no.such.group")
        check(False, "GROUP of a missing group succeeded")
    except nntplib.NNTPTemporaryError as e:
        check(str(e).startswith("411"), f"GROUP error {e}")
    try:
        s.article("<no-such@article>")
        check(False, "ARTICLE of a missing id succeeded")
    except nntplib.NNTPTemporaryError as e:
        check(str(e).startswith("430"), f"ARTICLE error {e}")
    _, count2, _, _, _ = s.group("mesh.test")
    check(count2 == count + 1, f"count after posting {count2}")
    s.quit()
    print(f"nntplib ({mode}): all checks passed")


if __name__ == "__main__":
    main()
