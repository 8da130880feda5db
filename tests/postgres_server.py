"""A throwaway PostgreSQL server of a test's own, which the test may stop and restart.

Made with Debian's PostgreSQL binaries under the postgres account (initdb refuses root), in a
temporary folder, listening on a free loopback port; nothing else uses it.
"""

import contextlib
import getpass
import glob
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from bench.serve import free_port


def postgres_binaries():
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


needs_own_postgres = pytest.mark.skipif(
    postgres_binaries() is None or getpass.getuser() != "root" or not shutil.which("runuser"),
    reason="starts a PostgreSQL server of its own: needs Debian's PostgreSQL binaries and root "
    "(to run them as the postgres account)",
)


class PostgresServer:
    def __init__(self, folder, port):
        self.folder = folder
        self.port = port
        self.url = f"postgres://postgres@127.0.0.1:{port}/postgres"

    def pg_ctl(self, *arguments):
        subprocess.run(
            [
                "runuser",
                "-u",
                "postgres",
                "--",
                str(postgres_binaries() / "pg_ctl"),
                "-D",
                str(self.folder / "data"),
                "-l",
                str(self.folder / "server.log"),
                "-w",
                *arguments,
            ],
            check=True,
            capture_output=True,
            timeout=60,
        )

    def start(self):
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1"
        self.pg_ctl("-o", options, "start")

    def stop(self):
        self.pg_ctl("-m", "fast", "stop")


@contextlib.contextmanager
def postgres_server():
    """Yield a running PostgreSQL server of the caller's own; remove it on the way out."""
    folder = Path(tempfile.mkdtemp(prefix="guidance-postgres-"))
    shutil.chown(folder, "postgres")
    os.chmod(folder, 0o700)
    server = PostgresServer(folder, free_port())
    subprocess.run(
        [
            "runuser",
            "-u",
            "postgres",
            "--",
            str(postgres_binaries() / "initdb"),
            "-D",
            str(folder / "data"),
            "-A",
            "trust",
            "-U",
            "postgres",
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    server.start()
    try:
        yield server
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            server.stop()
        shutil.rmtree(folder, ignore_errors=True)
