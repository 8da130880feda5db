"""Drive load with wrk from a second process on loopback, and read what it reports."""

import re
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}
ROTATE_SCRIPT = """
-- Each thread walks its own part of the list of paths, so that no page repeats in a round.
local threads = 0
function setup(thread)
  thread:set("offset", threads)
  threads = threads + 1
end
function init(args)
  paths = {}
  for line in io.lines("%(paths)s") do paths[#paths + 1] = line end
  position = offset * math.floor(#paths / %(threads)d)
end
function request()
  position = position + 1
  return wrk.format("GET", paths[(position %% #paths) + 1])
end
"""


@dataclass
class Round:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int
    bad_status: int
    # Milliseconds of CPU per request by process group (bench.cpu), where it can be read.
    cpu_ms: dict | None = None

    def as_dict(self):
        return asdict(self)


def ensure_wrk():
    """wrk from Debian; installed with apt-get only when this runs as root."""
    if shutil.which("wrk"):
        return "wrk already installed"
    import os  # noqa: PLC0415

    if os.geteuid() != 0:
        raise SystemExit("wrk is not installed: run `sudo apt-get install wrk` and try again.")
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True)
    return "installed wrk with apt-get"


def wrk_version():
    completed = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    return (completed.stdout + completed.stderr).splitlines()[0].strip()


def rotation_script(paths, directory, threads):
    listing = Path(directory) / "uncached-paths.txt"
    listing.write_text("\n".join(paths) + "\n")
    script = Path(directory) / "rotate.lua"
    script.write_text(ROTATE_SCRIPT % {"paths": listing, "threads": threads})
    return script


def run_wrk(url, *, threads, connections, seconds, headers=(), script=None):
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds}s",
        "--timeout",
        "5s",
        "--latency",
    ]
    for header in headers:
        command += ["-H", header]
    if script:
        command += ["-s", str(script)]
    command.append(url)
    completed = subprocess.run(
        command, capture_output=True, text=True, timeout=seconds + 30, check=True
    )
    try:
        return parse(completed.stdout)
    except (AttributeError, KeyError) as error:
        raise RuntimeError(f"Could not read wrk's output for {url}:\n{completed.stdout}") from error


def _milliseconds(text):
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * UNITS[unit]


def parse(output):
    """Requests per second, p50 and p99, socket errors and non-2xx/3xx counts from wrk."""
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)\s*$", output, re.MULTILINE))
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return Round(
        requests_per_second=float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        p50_ms=_milliseconds(latency["50"]),
        p99_ms=_milliseconds(latency["99"]),
        requests=int(re.search(r"(\d+) requests in", output).group(1)),
        errors=sum(int(n) for n in socket_errors.groups()) if socket_errors else 0,
        bad_status=int(bad.group(1)) if bad else 0,
    )
