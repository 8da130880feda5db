"""A Varnish of a test's own, with the product's configuration, in front of a given server."""

import contextlib
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from bench.serve import free_port

VCL = Path(settings.BASE_DIR) / "config" / "varnish" / "guidance.vcl"

needs_varnish = pytest.mark.skipif(
    shutil.which("varnishd") is None,
    reason="needs Debian's varnish and varnish-modules (xkey): apt-get install varnish "
    "varnish-modules",
)


def configuration(backend_host, backend_port):
    """The product's VCL with the backend's address put in."""
    return (
        VCL.read_text()
        .replace("BACKEND_HOST", backend_host)
        .replace("BACKEND_PORT", str(backend_port))
    )


@contextlib.contextmanager
def varnish(backend_host, backend_port):
    """Yield the address of a running varnishd in front of the backend; stop it afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="guidance-varnish-"))
    folder.chmod(0o755)  # varnishd reads the VCL after dropping to its own account
    (folder / "guidance.vcl").write_text(configuration(backend_host, backend_port))
    port = free_port()
    process = subprocess.Popen(
        [
            "varnishd",
            "-F",
            "-n",
            str(folder / "work"),
            "-a",
            f"127.0.0.1:{port}",
            "-T",
            "none",
            "-f",
            str(folder / "guidance.vcl"),
            "-s",
            "malloc,64m",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_listening(url, process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=15)
        shutil.rmtree(folder, ignore_errors=True)


def wait_until_listening(url, process, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"varnishd exited: {process.stderr.read().decode()}")
        request = urllib.request.Request(url + "/", method="PURGE", headers={"xkey": "none"})
        try:
            with urllib.request.urlopen(request, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"varnishd did not listen on {url} within {timeout}s")
