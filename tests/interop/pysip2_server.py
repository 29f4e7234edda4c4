"""A third-party SIP2 server (PyPI package `pysip2` 0.1.0) as an outside judge of what we send.

pysip2 checks every fixed field against the specification's format (a date must match
`^[0-9]{8}[A-Z ]{4}[0-9]{6}$`, a checksum must be four hex digits) and closes the connection on
a message it cannot decode, as strict servers in libraries do. Every login is accepted; every
other request gets pysip2's own protocol-valid answer (a refusal for circulation).

Usage: pysip2_server.py   Prints `PORT <n>` once listening on 127.0.0.1, then serves until
killed; pysip2's warnings (a connection it closed, and why) go to stderr.
"""
import logging
import sys

import anyio
from pysip2 import LoginResponse, SIP2Server
from pysip2.routes import LOGIN

logging.basicConfig(stream=sys.stderr, level=logging.WARNING)

server = SIP2Server(error_detection="required", encoding="utf-8")


@server.route(LOGIN)
def login(req, ctx):
    return LoginResponse(ok="1")


async def main():
    async with server.start() as port:
        print(f"PORT {port}", flush=True)
        await anyio.sleep_forever()


anyio.run(main)
