#!/usr/bin/env python3
"""Check an Atom feed against RFC 4287's requirements (section 4): a
well-formed atom:feed with exactly one id, title and updated, an author
(on the feed or on every entry), absolute IRIs as ids and link hrefs,
RFC 3339 dates, unique entry ids, each entry with one id, title and
updated; then parse it with feedparser (which must not flag it as
malformed). Prints every problem and exits 1 if there is any."""
import re
import sys
import xml.etree.ElementTree as ET

A = "{http://www.w3.org/2005/Atom}"
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
IRI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:\S+$")


def one(el, name, where, problems):
    found = el.findall(A + name)
    if len(found) != 1:
        problems.append(f"{where}: {len(found)} atom:{name}, expected exactly one")
        return None
    return found[0]


def check(path):
    problems = []
    root = ET.parse(path).getroot()
    if root.tag != A + "feed":
        return [f"root element is {root.tag}, expected atom:feed"]
    for name in ("id", "title", "updated"):
        one(root, name, "feed", problems)
    entries = root.findall(A + "entry")
    if not root.findall(A + "author") and any(not e.findall(A + "author") for e in entries):
        problems.append("no atom:author on the feed nor on every entry")
    ids = set()
    for el in root.iter():
        if el.tag in (A + "updated", A + "published") and not DATE.match((el.text or "").strip()):
            problems.append(f"{el.tag}: `{el.text}` is not an RFC 3339 date")
        if el.tag == A + "id" and not IRI.match((el.text or "").strip()):
            problems.append(f"atom:id `{el.text}` is not an absolute IRI")
        if el.tag == A + "link" and not IRI.match(el.get("href", "")):
            problems.append(f"atom:link href `{el.get('href')}` is not an absolute IRI")
    for i, e in enumerate(entries):
        where = f"entry {i + 1}"
        for name in ("title", "updated"):
            one(e, name, where, problems)
        eid = one(e, "id", where, problems)
        if eid is not None:
            if eid.text in ids:
                problems.append(f"{where}: duplicate id {eid.text}")
            ids.add(eid.text)
        if not e.findall(A + "content") and not e.findall(A + "summary") and not e.findall(A + "link"):
            problems.append(f"{where}: no content, summary nor alternate link")
    try:
        import feedparser
        d = feedparser.parse(path)
        if d.bozo:
            problems.append(f"feedparser: {d.bozo_exception}")
        if d.version != "atom10":
            problems.append(f"feedparser reads version `{d.version}`, expected atom10")
    except ImportError:
        problems.append("feedparser is not installed (pip install feedparser; see .ci/install-observatory.sh)")
    return problems


if __name__ == "__main__":
    bad = check(sys.argv[1])
    for p in bad:
        print(p)
    sys.exit(1 if bad else 0)
