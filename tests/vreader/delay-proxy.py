#!/usr/bin/env python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""A slow link for the tests: a TCP proxy that delays each direction.

    delay-proxy.py --upstream HOST:PORT --delay MS [--port PORT]

Listens on 127.0.0.1 (PORT 0: a free one) and prints "listening on
127.0.0.1:PORT" once ready.  Each client gets its own connection to the
upstream server; every chunk of bytes read from either side is written to
the other DELAY ms after it arrived, in order (a link with that much
latency each way, not a slow peer: the bytes keep their pace).  The end of
a stream travels the same way: a close on one side reaches the other DELAY
ms later.  An upstream that refuses the connection makes the proxy close the
client's at once, as a proxy in front of a stopped server does.
"""
import argparse
import asyncio
import sys


async def pipe(reader, writer, delay):
    """Copy reader to writer, each chunk delay seconds after it arrived."""
    loop = asyncio.get_running_loop()
    queue = asyncio.Queue()

    async def send():
        while True:
            due, data = await queue.get()
            wait = due - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            if not data:
                break
            try:
                writer.write(data)
                await writer.drain()
            except (ConnectionError, OSError):
                break
        try:
            writer.write_eof()
        except (ConnectionError, OSError, RuntimeError):
            pass

    sender = asyncio.create_task(send())
    while True:
        try:
            data = await reader.read(65536)
        except (ConnectionError, OSError):
            data = b""
        queue.put_nowait((loop.time() + delay, data))
        if not data:
            break
    await sender


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upstream", required=True)
    ap.add_argument("--delay", type=int, required=True, help="ms, each way")
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    host, port = args.upstream.rsplit(":", 1)
    delay = args.delay / 1000.0

    async def handle(creader, cwriter):
        try:
            ureader, uwriter = await asyncio.open_connection(host, int(port))
        except OSError:
            cwriter.close()
            return
        await asyncio.gather(pipe(creader, uwriter, delay), pipe(ureader, cwriter, delay))
        for w in (uwriter, cwriter):
            w.close()

    server = await asyncio.start_server(handle, "127.0.0.1", args.port)
    print("listening on 127.0.0.1:%d" % server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
