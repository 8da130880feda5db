"""Request each of a list of pages once, from 32 connections at a time, and time each answer.

wrk cannot request a page exactly once, and the first request after a change is the one that
matters here; each connection is a thread with its own keep-alive HTTP connection.
"""

import http.client
import statistics
import threading
import time
import urllib.parse


def request_each_once(base, paths, connections):
    """p50 and p99 in milliseconds, the number of requests and of non-200 answers."""
    address = urllib.parse.urlsplit(base)
    pending = list(reversed(paths))
    lock = threading.Lock()
    timings, bad = [], []

    def connection_loop():
        client = http.client.HTTPConnection(address.hostname, address.port, timeout=30)
        while True:
            with lock:
                if not pending:
                    break
                path = pending.pop()
            started = time.perf_counter()
            client.request("GET", path)
            response = client.getresponse()
            response.read()
            elapsed = (time.perf_counter() - started) * 1000
            with lock:
                timings.append(elapsed)
                if response.status != 200:
                    bad.append(path)
        client.close()

    threads = [threading.Thread(target=connection_loop) for _ in range(connections)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    percentiles = statistics.quantiles(timings, n=100, method="inclusive")
    return {
        "requests": len(timings),
        "p50_ms": round(statistics.median(timings), 2),
        "p99_ms": round(percentiles[98], 2),
        "max_ms": round(max(timings), 2),
        "bad_status": len(bad),
    }
