"""Serve the app as production does: gunicorn, DEBUG off, WhiteNoise, Redis as the page cache."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "benchmark-only-key-" + "b3nch" * 10


def production_environment(database_url, redis_url, front_cache_url=None):
    """The variables production sets, pointing at the benchmark's copy of the data set; without
    redis_url, pages are cached in the database; with front_cache_url, a commit purges that
    front cache too, and the background worker puts the pages it renders again in it under the
    Host the benchmark's readers send."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if key
        not in {
            "DEBUG",
            "DATABASE_URL",
            "REDIS_URL",
            "FRONT_CACHE_URL",
            "FRONT_CACHE_HOST",
            "HTTPS",
            "LOG_LEVEL",
        }
    }
    environment.update(
        DJANGO_SETTINGS_MODULE="bench.settings",
        PYTHONPATH=str(ROOT),
        DEBUG="0",
        SECRET_KEY=SECRET_KEY,
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=database_url,
    )
    if redis_url:
        environment["REDIS_URL"] = redis_url
    if front_cache_url:
        environment["FRONT_CACHE_URL"] = front_cache_url
        environment["FRONT_CACHE_HOST"] = urllib.parse.urlsplit(front_cache_url).netloc
    return environment


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def collect_static(environment):
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=environment,
        check=True,
    )


@contextlib.contextmanager
def gunicorn(environment, *, workers, log_path):
    """Start gunicorn with production's settings on a free loopback port, in a process group of
    its own (its id is yielded with the address); stop it on the way out."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--config",
        "config/gunicorn.py",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base, process)
        yield base, command, process.pid
    finally:
        stop(process)


@contextlib.contextmanager
def background_worker(environment, log_path):
    """Run the background worker (manage.py db_worker) as production does; stop it after."""
    with open(log_path, "ab") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "db_worker", "--interval", "0.1"],
            cwd=ROOT,
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield process.pid
    finally:
        stop(process)


def wait_until_ready(base, process, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}; see its log")
        try:
            with urllib.request.urlopen(base + "/guidance/", timeout=5):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not answer on {base} within {timeout}s")


def stop(process):
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
