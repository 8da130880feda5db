"""Request each of a list of pages once, from 32 connections at a time, and time each answer.

wrk cannot request a page exactly once, and the first request after a change is the one that
matters here. One event loop drives the 32 connections: 32 client threads would contend for
Python's lock and time each other's scheduling as much as the server (on a busy machine the
same cached pages measured three times slower through threads).
"""

import asyncio
import statistics
import time
import urllib.parse


async def _get(host, port, path):
    """The status of one GET on a new connection (the server's sync workers close each one), and
    whether a front cache answered it from what it held (its X-Cache header)."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode()
        )
        status_line = await reader.readline()
        head = (await reader.readuntil(b"\r\n\r\n")).lower()
        await reader.read()  # the rest of the answer, up to the server's close
    finally:
        writer.close()
    return int(status_line.split()[1]), b"\r\nx-cache: hit\r\n" in b"\r\n" + head


async def _request_all(host, port, paths, connections):
    pending = list(reversed(paths))
    timings, bad, hits = [], [], []

    async def connection_loop():
        while pending:
            path = pending.pop()
            started = time.perf_counter()
            status, hit = await _get(host, port, path)
            timings.append((time.perf_counter() - started) * 1000)
            if status != 200:
                bad.append(path)
            if hit:
                hits.append(path)

    await asyncio.gather(*(connection_loop() for _ in range(connections)))
    return timings, bad, hits


def request_each_once(base, paths, connections):
    """p50 and p99 in milliseconds, the number of requests, of non-200 answers and of front
    cache hits."""
    address = urllib.parse.urlsplit(base)
    timings, bad, hits = asyncio.run(
        _request_all(address.hostname, address.port, paths, connections)
    )
    percentiles = statistics.quantiles(timings, n=100, method="inclusive")
    return {
        "requests": len(timings),
        "p50_ms": round(statistics.median(timings), 2),
        "p99_ms": round(percentiles[98], 2),
        "max_ms": round(max(timings), 2),
        "bad_status": len(bad),
        "front_cache_hits": len(hits),
    }
