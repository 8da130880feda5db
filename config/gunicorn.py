"""How production serves the app, and how `make bench` measures it.

    gunicorn -c config/gunicorn.py

Synchronous workers, one per core (WEB_CONCURRENCY overrides): a free worker takes the next
connection from the kernel's queue, so no request waits behind another worker's backlog. Put a
buffering reverse proxy in front (nginx or the platform's), as gunicorn's documentation asks of
sync workers, so that slow clients do not hold a worker. Under wrk with 32 connections on two
cores, threaded workers (gthread, 3 x 4) answered a cached page at the same rate as sync workers,
with a p99 of 26-130 ms against 12-20 ms.
"""

import os

wsgi_app = "config.wsgi:application"
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 1)
worker_class = "sync"
backlog = 256
