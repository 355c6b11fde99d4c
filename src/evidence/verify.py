#!/usr/bin/env python3
"""Check a vigie evidence bundle without vigie (Python 3.8+, standard library).

    python3 verify.py preuves.zip      (the zip file as exported)
    python3 verify.py .                (inside the extracted folder)

Checks that each page matches the SHA-256 in its record, that each record
names the hash of the one before it (the chain), that the records follow
each other without gaps, and that every file matches manifest.json, which
itself matches the SHA-256 it carries; and, when the bundle holds RFC 3161
time stamps (timestamps.jsonl), their chain, that each stamps a hash of the
chain, and (with the openssl command) each token's signature and imprint.
Exit status 0 when all holds.
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile

GENESIS = "0" * 64


def sha256(data):
    return hashlib.sha256(data).hexdigest()


class Folder:
    """An extracted bundle: the same reads as a zip file, from a directory."""

    def __init__(self, root):
        self.root = root

    def read(self, name):
        with open(os.path.join(self.root, *name.split("/")), "rb") as f:
            return f.read()

    def namelist(self):
        names = []
        for top, dirs, files in os.walk(self.root):
            dirs.sort()
            for f in sorted(files):
                rel = os.path.relpath(os.path.join(top, f), self.root)
                names.append(rel.replace(os.sep, "/"))
        return names


def open_bundle(path):
    if os.path.isdir(path):
        return Folder(path)
    return zipfile.ZipFile(path)


def openssl_verify(reply, digest, ca_pem):
    """`openssl ts -verify`: None when it says OK, else its reason."""
    with tempfile.TemporaryDirectory() as d:
        tsr = os.path.join(d, "token.tsr")
        with open(tsr, "wb") as f:
            f.write(reply)
        cmd = ["openssl", "ts", "-verify", "-digest", digest, "-in", tsr]
        if ca_pem is not None:
            ca = os.path.join(d, "ca.pem")
            with open(ca, "wb") as f:
                f.write(ca_pem)
            cmd += ["-CAfile", ca]
        else:
            cmd += ["-CApath", "/etc/ssl/certs"]
        r = subprocess.run(cmd, capture_output=True)
    if r.returncode == 0 and b"Verification: OK" in r.stdout:
        return None
    return (r.stderr.decode("utf-8", "replace").strip().splitlines() or ["failed"])[-1]


def check_stamps(z, hashes, problems):
    """The RFC 3161 tokens: their chain, what they stamp, their signature."""
    if "timestamps.jsonl" not in z.namelist():
        return None
    names = z.namelist()
    ca_pem = z.read("timestamps/tsa-ca.pem") if "timestamps/tsa-ca.pem" in names else None
    has_openssl = shutil.which("openssl") is not None
    prev, last = None, None
    for line in [l for l in z.read("timestamps.jsonl").split(b"\n") if l]:
        s = json.loads(line)
        seq = s["seq"]
        if prev is not None and s["prev"] != prev:
            problems.append("time stamp #%d: the chain of time stamps is broken" % seq)
        name = "timestamps/%06d.tsr" % seq
        reply = z.read(name) if name in names else b""
        if sha256(reply) != s["reply_sha256"]:
            problems.append("time stamp #%d: its token %s was altered or removed" % (seq, name))
        if hashes.get(s["chain_seq"]) != s["chain_hash"]:
            problems.append("time stamp #%d: stamps a hash record #%d does not have" % (seq, s["chain_seq"]))
        if has_openssl:
            why = openssl_verify(reply, s["chain_hash"], ca_pem)
            if why:
                problems.append("time stamp #%d: openssl ts -verify failed: %s" % (seq, why))
        prev, last = sha256(line), s
    if has_openssl and ca_pem is None and any("openssl ts -verify failed" in p for p in problems):
        problems.append("the bundle holds no copy of the TSA's CA (timestamps/tsa-ca.pem): check each token with "
                        "openssl ts -verify ... -CAfile THE-TSA-CA.pem")
    if not has_openssl:
        print("NOTE: the openssl command was not found: the time stamps' signatures were not checked (install openssl)")
    return last


def main(path):
    z = open_bundle(path)
    problems = []
    lines = [line for line in z.read("chain.jsonl").split(b"\n") if line]
    prev_hash, prev_seq, full = None, None, 0
    hashes = {}
    for line in lines:
        rec = json.loads(line)
        seq = rec["seq"]
        if rec.get("stub"):
            h = rec["hash"]  # a record of another probe, left out: only its hash
        else:
            full += 1
            h = sha256(line)  # a record's hash is the SHA-256 of its line
            if rec["file"] and sha256(z.read(rec["file"])) != rec["body_sha256"]:
                problems.append("record #%d: its page %s was altered" % (seq, rec["file"]))
            shot = rec.get("screenshot")
            if shot and sha256(z.read(shot["file"])) != shot["sha256"]:
                problems.append("record #%d: its screenshot %s was altered" % (seq, shot["file"]))
        if prev_seq is not None and seq != prev_seq + 1:
            problems.append("record #%d: follows #%d (records deleted or reordered)" % (seq, prev_seq))
        expected_prev = GENESIS if seq == 1 else prev_hash
        if expected_prev is not None and rec["prev"] != expected_prev:
            problems.append("record #%d: the chain is broken (the record before it was altered, deleted or moved)" % seq)
        prev_hash, prev_seq = h, seq
        hashes[seq] = h

    manifest = json.loads(z.read("manifest.json"))
    claimed = manifest["manifest_sha256"]
    manifest["manifest_sha256"] = ""
    if sha256(json.dumps(manifest, indent=2, ensure_ascii=False).encode("utf-8")) != claimed:
        problems.append("manifest.json was altered")
    listed = {f["path"]: f["sha256"] for f in manifest["files"]}
    for name in z.namelist():
        if name.endswith("/"):
            continue  # a folder entry (zip -r), not a file
        if name != "manifest.json" and name not in listed:
            problems.append("%s was added to the bundle" % name)
    for name, digest in listed.items():
        if name not in z.namelist():
            problems.append("%s is missing" % name)
        elif sha256(z.read(name)) != digest:
            problems.append("%s was altered" % name)
    if prev_hash != manifest["chain_last_hash"]:
        problems.append("the chain does not end where manifest.json says")

    stamp = check_stamps(z, hashes, problems)

    for p in problems:
        print("PROBLEM: " + p)
    if problems:
        return 1
    print("OK: %d captures, chain #%d to #%d intact, last hash %s" % (full, manifest["chain_first"], manifest["chain_last"], prev_hash))
    if stamp:
        print("time stamp #%d (RFC 3161) dates record #%d and all before it at %s" % (stamp["seq"], stamp["chain_seq"], stamp["gen_time"]))
    return 0


if __name__ == "__main__":
    if len(sys.argv) > 2:
        sys.exit(__doc__)
    # Without an argument: the folder this script was extracted into.
    here = os.path.dirname(os.path.abspath(__file__))
    sys.exit(main(sys.argv[1] if len(sys.argv) == 2 else here))
