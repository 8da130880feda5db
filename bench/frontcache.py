"""The front cache in front of a server: a varnishd of its own with the shipped configuration,
and nginx serving captured pages as static files, the ceiling a front cache is measured against.

Both run in the foreground of a process group of their own, from a temporary folder of their
own (their configuration, work files, pid and logs; under the system's temporary directory, which
the unprivileged accounts they serve from can reach when started as root), and are stopped and
their folder removed on the way out. The tests use varnish()
in front of their live server, `make bench` in front of its gunicorn.
"""

import contextlib
import itertools
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from .serve import ROOT, free_port, stop

VCL = ROOT / "config" / "varnish" / "guidance.vcl"
SERVICE = ROOT / "config" / "varnish" / "varnish.service.conf"
INSTALL = "apt-get install varnish varnish-modules nginx-light"


def missing():
    """What is not installed of Varnish, its xkey module and nginx, said as a person reads it;
    empty when all are there."""
    absent = [name for name in ("varnishd", "nginx") if shutil.which(name) is None]
    if "varnishd" not in absent and not xkey_installed():
        absent.append("Varnish's xkey module (varnish-modules)")
    return absent


def xkey_installed():
    """Whether varnishd compiles the shipped VCL, which imports xkey."""
    folder = own_folder("varnish-check-")
    try:
        (folder / "guidance.vcl").write_text(configuration("127.0.0.1", 80))
        completed = subprocess.run(
            ["varnishd", "-C", "-n", str(folder / "work"), "-f", str(folder / "guidance.vcl")],
            capture_output=True,
            text=True,
            check=False,
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if "Could not find VMOD xkey" in completed.stderr:
        return False
    if completed.returncode != 0:
        raise SystemExit(f"varnishd does not compile {VCL}:\n{completed.stderr[-2000:]}")
    return True


def ensure_installed():
    """Varnish with xkey and nginx from Debian, installed with apt-get when this runs as root."""
    absent = missing()
    if not absent:
        return "Varnish, its xkey module and nginx already installed"
    if os.geteuid() != 0:
        raise SystemExit(
            f"Not installed: {', '.join(absent)}. The front-cache rounds need them: run "
            f"`sudo {INSTALL}` and try again."
        )
    subprocess.run(["apt-get", "install", "-y", "-q", *INSTALL.split()[2:]], check=True)
    return f"installed {INSTALL.split(maxsplit=2)[2]} with apt-get"


def varnish_version():
    """ "Varnish 7.1.1", from `varnishd -V`."""
    completed = subprocess.run(["varnishd", "-V"], capture_output=True, text=True, check=False)
    match = re.search(r"varnish-([\d.]+)", completed.stdout + completed.stderr)
    return f"Varnish {match.group(1)}" if match else "Varnish"


def nginx_version():
    """ "nginx 1.22.1", from `nginx -v`."""
    completed = subprocess.run(["nginx", "-v"], capture_output=True, text=True, check=False)
    match = re.search(r"nginx/([\d.]+)", completed.stdout + completed.stderr)
    return f"nginx {match.group(1)}" if match else "nginx"


def configuration(backend_host, backend_port):
    """The shipped VCL with the backend's address put in."""
    return (
        VCL.read_text()
        .replace("BACKEND_HOST", backend_host)
        .replace("BACKEND_PORT", str(backend_port))
    )


def production_parameters():
    """The -p options of varnishd's command line in the shipped service file: the runs here
    measure Varnish as production runs it."""
    command = SERVICE.read_text().replace("\\\n", " ").split("ExecStart=")[-1]
    parameters = []
    for option, value in itertools.pairwise(shlex.split(command.splitlines()[0])):
        if option == "-p":
            parameters += [option, value]
    return parameters


def own_folder(prefix):
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    # Varnish and nginx started as root read their files from unprivileged accounts.
    folder.chmod(0o755)
    return folder


@contextlib.contextmanager
def running(command, folder, log_name):
    """Run command in a process group of its own, its output in folder/log_name; stop it and
    remove its folder on the way out."""
    with open(folder / log_name, "wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        stop(process)
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def varnish(backend_host, backend_port, *, port=None, memory="64m"):
    """Yield the address of a running varnishd in front of the backend, its process group's id
    with it; stop it afterwards. Listens on port, or on a free one."""
    folder = own_folder("guidance-varnish-")
    (folder / "guidance.vcl").write_text(configuration(backend_host, backend_port))
    port = port or free_port()
    command = [
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
        f"malloc,{memory}",
        *production_parameters(),
    ]
    url = f"http://127.0.0.1:{port}"
    with running(command, folder, "varnishd.log") as process:
        wait_until_purging(url, process, folder / "varnishd.log")
        yield url, process.pid


def wait_until_purging(url, process, log, timeout=30):
    """Wait until varnishd answers a PURGE (of no page): its VCL is loaded."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"varnishd exited: {log.read_text(errors='replace')}")
        request = urllib.request.Request(url + "/", method="PURGE", headers={"xkey": "none"})
        try:
            with urllib.request.urlopen(request, timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"varnishd did not listen on {url} within {timeout}s")


NGINX_CONFIGURATION = """\
worker_processes auto;
pid {folder}/nginx.pid;
error_log {folder}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {folder}/client_body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    types {{ }}
    server {{
        listen 127.0.0.1:{port};
        root {folder}/files;
{locations}
    }}
}}
"""


@contextlib.contextmanager
def nginx(files):
    """Serve each of files ({name: (bytes, Content-Type)}) at /<name> with nginx; yield its
    address and its process group's id; stop it afterwards."""
    folder = own_folder("guidance-nginx-")
    (folder / "files").mkdir(mode=0o755)
    locations = []
    for name, (body, content_type) in files.items():
        (folder / "files" / name).write_bytes(body)
        locations.append(f'        location = /{name} {{ default_type "{content_type}"; }}')
    port = free_port()
    (folder / "nginx.conf").write_text(
        NGINX_CONFIGURATION.format(folder=folder, port=port, locations="\n".join(locations))
    )
    command = [
        "nginx",
        "-p",
        str(folder),
        "-e",
        str(folder / "error.log"),
        "-c",
        str(folder / "nginx.conf"),
        "-g",
        "daemon off;",
    ]
    url = f"http://127.0.0.1:{port}"
    with running(command, folder, "nginx.log") as process:
        wait_until_serving(url + "/" + next(iter(files)), process, folder / "error.log")
        yield url, process.pid


def wait_until_serving(url, process, log, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            problem = log.read_text(errors="replace") if log.exists() else ""
            raise RuntimeError(f"nginx exited with {process.returncode}: {problem}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError as error:
            raise RuntimeError(
                f"nginx answered {url} with {error.code}: {log.read_text(errors='replace')}"
            ) from error
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nginx did not answer {url} within {timeout}s")
