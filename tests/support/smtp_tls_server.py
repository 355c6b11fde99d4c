"""A real SMTP submission server for vigie's tests: STARTTLS, implicit TLS
(SMTPS) or plain, with mandatory AUTH (PLAIN and LOGIN), built on aiosmtpd.

Started by tests/support/smtp_tls.rs, which makes the certificates. Usage:

    VIGIE_TEST_SMTP_PASSWORD=... python3 smtp_tls_server.py \\
        --mode starttls|tls|plain --port 0 --user vigie \\
        --cert cert.pem --key key.pem --dir messages/

The password comes from the environment so that it never shows in `ps`.
Once listening, prints `ready PORT` (the port actually bound: give 0 for a
free one). Then one line per AUTH attempt: `auth ok LOGIN MECHANISM TLS` or
`auth refused LOGIN MECHANISM TLS` (never the password).

Each accepted message is saved as `DIR/NNNNNN.eml`, written to a temporary
name and renamed so that a reader never sees half of it. The file starts with
what the server saw, in smtp-sink's style of header lines, then the message
as received:

    X-Auth-Login: vigie
    X-TLS-Version: TLSv1.3
    X-TLS-Cipher: TLS_AES_256_GCM_SHA384
    X-Mail-From: vigie@asso.example
    X-Rcpt-Args: <veille@asso.example>
"""

import argparse
import asyncio
import logging
import os
import ssl
import sys
import warnings

try:
    from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword
except ImportError:
    print(
        "aiosmtpd is not installed for {}: run .ci/install-smtp.sh "
        "(or: python3 -m pip install aiosmtpd)".format(sys.executable),
        file=sys.stderr,
    )
    sys.exit(3)


def tls_of(server):
    """The TLS version and cipher of the connection, or None if plain.

    Read from the transport rather than `session.ssl`, which aiosmtpd only
    fills after STARTTLS, not for implicit TLS."""
    transport = server.transport
    obj = transport.get_extra_info("ssl_object") if transport is not None else None
    if obj is None:
        return None
    cipher = obj.cipher()
    return obj.version(), cipher[0] if cipher else "?"


def say(line):
    print(line, flush=True)


class Authenticator:
    """Accepts exactly one login and password; anything else gets aiosmtpd's
    `535 5.7.8 Authentication credentials invalid`."""

    def __init__(self, user, password, need_tls):
        self.user = user.encode()
        self.password = password.encode()
        self.need_tls = need_tls

    def __call__(self, server, session, envelope, mechanism, auth_data):
        login = b""
        ok = False
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login
            ok = auth_data.login == self.user and auth_data.password == self.password
        tls = tls_of(server)
        # In the TLS modes a password must never travel in clear: refuse it
        # even if right, so a client that skipped TLS fails the test.
        if self.need_tls and tls is None:
            ok = False
        say(
            "auth {} {} {} {}".format(
                "ok" if ok else "refused",
                login.decode("utf-8", "replace") or "-",
                mechanism,
                tls[0] if tls else "plain",
            )
        )
        return AuthResult(success=ok, handled=False, auth_data=auth_data if ok else None)


class Handler:
    """Saves each message with the login and TLS parameters it came with."""

    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        if not session.authenticated:
            # aiosmtpd's auth_required already refuses MAIL before AUTH; this
            # is the last line of defence should that change.
            return "530 5.7.0 Authentication required"
        tls = tls_of(server)
        login = getattr(session.auth_data, "login", b"")
        if isinstance(login, bytes):
            login = login.decode("utf-8", "replace")
        head = [
            "X-Auth-Login: {}".format(login or ""),
            "X-TLS-Version: {}".format(tls[0] if tls else "none"),
            "X-TLS-Cipher: {}".format(tls[1] if tls else "none"),
            "X-Mail-From: {}".format(envelope.mail_from),
        ]
        head += ["X-Rcpt-Args: <{}>".format(r) for r in envelope.rcpt_tos]
        content = envelope.original_content or envelope.content
        if isinstance(content, str):
            content = content.encode("utf-8")
        self.count += 1
        final = os.path.join(self.directory, "{:06d}.eml".format(self.count))
        tmp = final + ".tmp"
        with open(tmp, "wb") as f:
            f.write(("\r\n".join(head) + "\r\n").encode("utf-8"))
            f.write(content)
        os.replace(tmp, final)
        return "250 2.0.0 OK: queued as {:06d}".format(self.count)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", choices=["starttls", "tls", "plain"], required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--user", required=True)
    p.add_argument("--cert")
    p.add_argument("--key")
    p.add_argument("--dir", required=True)
    a = p.parse_args()

    password = os.environ.get("VIGIE_TEST_SMTP_PASSWORD")
    if not password:
        p.error("set VIGIE_TEST_SMTP_PASSWORD (the password the server accepts)")
    os.makedirs(a.dir, exist_ok=True)

    context = None
    if a.mode != "plain":
        if not (a.cert and a.key):
            p.error("--cert and --key are needed for {}".format(a.mode))
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(a.cert, a.key)

    # aiosmtpd warns that AUTH without its own STARTTLS check is unsafe (the
    # authenticator above does that check) and that `login_data`, which it
    # sets itself, is deprecated: noise in the test's log.
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    logging.getLogger("mail.log").setLevel(logging.ERROR)

    handler = Handler(a.dir)
    authenticator = Authenticator(a.user, password, need_tls=a.mode != "plain")

    def factory():
        return SMTP(
            handler,
            hostname="smtp.vigie.test",
            # STARTTLS: offered, and required before anything but EHLO/QUIT.
            tls_context=context if a.mode == "starttls" else None,
            require_starttls=a.mode == "starttls",
            # aiosmtpd only knows STARTTLS as TLS; with implicit TLS (and in
            # plain mode) the authenticator enforces the rule itself.
            auth_require_tls=a.mode == "starttls",
            auth_required=True,
            authenticator=authenticator,
            auth_exclude_mechanism=["CRAM-MD5"],
        )

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(
            factory,
            host=a.host,
            port=a.port,
            # Implicit TLS: the handshake happens before the greeting.
            ssl=context if a.mode == "tls" else None,
        )
        say("ready {}".format(server.sockets[0].getsockname()[1]))
        async with server:
            await server.serve_forever()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
