#!/usr/bin/env python3
"""smtp_server.py: a real SMTP server (Debian's python3-aiosmtpd) for tests/e2e/test_notify_email.sh,
on a loopback port chosen at run time. With --cert/--key it offers STARTTLS and requires it
(or, with --implicit-tls, speaks TLS from the start as smtps:// does); with --user/--password it
requires AUTH. Each message it accepts is saved as DIR/NNN.json: {"mail_from", "rcpt_tos",
"content", "auth"}.

usage: smtp_server.py --port-file F --dir DIR [--cert C --key K [--implicit-tls]]
                      [--user U --password P]
"""
import argparse
import asyncio
import json
import os
import ssl

from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

A = None


class Handler:
    async def handle_DATA(self, server, session, envelope):
        n = len([f for f in os.listdir(A.dir) if f.endswith(".json")])
        auth = session.auth_data.login.decode() if isinstance(session.auth_data, LoginPassword) else None
        with open(os.path.join(A.dir, "%03d.json.tmp" % n), "w") as f:
            json.dump({"mail_from": envelope.mail_from, "rcpt_tos": envelope.rcpt_tos,
                       "content": envelope.content.decode("utf-8", "replace"), "auth": auth}, f)
        os.rename(os.path.join(A.dir, "%03d.json.tmp" % n), os.path.join(A.dir, "%03d.json" % n))
        return "250 2.0.0 Ok: queued as dtf%03d" % n


def authenticator(server, session, envelope, mechanism, auth_data):
    if isinstance(auth_data, LoginPassword) and auth_data.login == A.user.encode() \
            and auth_data.password == A.password.encode():
        return AuthResult(success=True, auth_data=auth_data)
    return AuthResult(success=False, handled=False)


async def main():
    loop = asyncio.get_running_loop()
    ctx = None
    if A.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(A.cert, A.key)
    starttls = ctx is not None and not A.implicit_tls

    def factory():
        return SMTP(Handler(), hostname="localhost", tls_context=ctx if starttls else None,
                    require_starttls=starttls, auth_required=bool(A.user),
                    auth_require_tls=starttls,
                    authenticator=authenticator if A.user else None)

    srv = await loop.create_server(factory, "127.0.0.1", 0,
                                   ssl=ctx if A.implicit_tls else None)
    with open(A.port_file + ".tmp", "w") as f:
        f.write(str(srv.sockets[0].getsockname()[1]))
    os.rename(A.port_file + ".tmp", A.port_file)
    await srv.serve_forever()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--cert")
    ap.add_argument("--key")
    ap.add_argument("--implicit-tls", action="store_true")
    ap.add_argument("--user")
    ap.add_argument("--password")
    A = ap.parse_args()
    os.makedirs(A.dir, exist_ok=True)
    asyncio.run(main())
