#!/usr/bin/python3
"""A link shaper in user space, for builds whose `murmur node` cannot load a fault scenario.

For every node j of a topology it listens on the port the other nodes dial (`--map PUB:REAL`)
and forwards each accepted connection to node j's real port. Each direction of each
connection is one link: bytes leave it no faster than --bw bytes/s (paced chunk by chunk) and
no earlier than --delay after they entered. Between reader and pacer sits a bounded buffer
(--buffer bytes), so a full link pushes back into the sender's socket and write queue as a
slow network would.

    shaper_proxy.py --bw 1.25e6 --delay 0.005 --map 55100:55200 --map 55101:55201 ...
"""

import argparse
import asyncio
import collections
import socket
import sys
import time

CHUNK = 16384


class Link:
    def __init__(self, bw, delay, buffer):
        self.bw, self.delay, self.buffer = bw, delay, buffer
        self.queue = collections.deque()
        self.queued = 0
        self.cond = asyncio.Condition()
        self.closed = False
        self.bytes = 0

    async def reader(self, r):
        try:
            while True:
                data = await r.read(CHUNK)
                async with self.cond:
                    if not data:
                        break
                    await self.cond.wait_for(lambda: self.queued < self.buffer)
                    self.queue.append((time.monotonic(), data))
                    self.queued += len(data)
                    self.cond.notify_all()
        except (ConnectionError, OSError):
            pass
        async with self.cond:
            self.closed = True
            self.cond.notify_all()

    async def pacer(self, w):
        free_at = time.monotonic()
        try:
            while True:
                async with self.cond:
                    await self.cond.wait_for(lambda: self.queue or self.closed)
                    if not self.queue:
                        break
                    t_in, data = self.queue.popleft()
                    self.queued -= len(data)
                    self.cond.notify_all()
                now = time.monotonic()
                free_at = max(free_at, now) + len(data) / self.bw
                release = max(free_at, t_in + self.delay)
                if release > now:
                    await asyncio.sleep(release - now)
                w.write(data)
                self.bytes += len(data)
                await w.drain()
        except (ConnectionError, OSError):
            pass
        try:
            w.close()
        except Exception:
            pass


def shrink(writer, size):
    """Small kernel buffers on the proxy's own sockets, so the backlog of a slow link builds up
    in the sending node's socket and write queue (as on a real link), not inside the proxy."""
    if size <= 0:
        return
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)


async def handle(real_port, args, cr, cw):
    try:
        sr, sw = await asyncio.open_connection("127.0.0.1", real_port)
    except OSError:
        cw.close()
        return
    shrink(cw, args.sockbuf)
    shrink(sw, args.sockbuf)
    up = Link(args.bw, args.delay, args.buffer)
    down = Link(args.bw, args.delay, args.buffer)
    await asyncio.gather(up.reader(cr), up.pacer(sw), down.reader(sr), down.pacer(cw),
                         return_exceptions=True)


async def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bw", type=float, required=True, help="bytes per second per direction")
    ap.add_argument("--delay", type=float, default=0.0, help="one-way delay in seconds")
    ap.add_argument("--buffer", type=int, default=256 * 1024, help="bytes buffered per direction")
    ap.add_argument("--sockbuf", type=int, default=0,
                    help="SO_RCVBUF/SO_SNDBUF of the proxy's sockets (0: the OS default)")
    ap.add_argument("--map", action="append", required=True, help="PUBLIC_PORT:REAL_PORT")
    args = ap.parse_args()
    servers = []
    for m in args.map:
        pub, real = (int(x) for x in m.split(":"))
        servers.append(await asyncio.start_server(
            lambda r, w, real=real: handle(real, args, r, w), "127.0.0.1", pub))
    print("shaper ready", flush=True)
    await asyncio.gather(*(s.serve_forever() for s in servers))


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        sys.exit(0)
