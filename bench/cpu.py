"""CPU time per request during a round, by process: the server, PostgreSQL, Redis, wrk, and
the front cache's processes (Varnish, nginx) when they run.

On a shared machine requests per second move with the neighbours' load; the CPU time a request
costs moves much less, and it says where the time goes. Read from /proc (Linux); elsewhere the
report goes without it.
"""

import os
import resource
from pathlib import Path

PROC = Path("/proc")
GROUPS = ("server", "postgresql", "redis", "wrk")


def available():
    return (PROC / "self" / "stat").is_file()


def _seconds_by_process(process_groups):
    """{(group, pid): CPU seconds used so far} for the processes of the given process groups
    ({process group id: group}), PostgreSQL's and Redis's."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        # After the name: state, ppid, pgrp, ... utime and stime are the 14th and 15th fields.
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) in process_groups:
            group = process_groups[int(fields[2])]
        elif name == "postgres":
            group = "postgresql"
        elif name.startswith("redis-server"):
            group = "redis"
        else:
            continue
        used[group, int(entry.name)] = (int(fields[11]) + int(fields[12])) / ticks
    return used


class Meter:
    """Wraps a round: meter.start(), the round, then meter.per_request(requests).

    A process that ends during the round takes what it used with it: each process is counted
    for what it used between the two readings, or since it started when it is new.
    """

    def __init__(self, server_pid, others=None):
        """server_pid and the values of others ({group: pid}) lead process groups of their own."""
        self.process_groups = {server_pid: "server"} | {
            pid: group for group, pid in (others or {}).items()
        }

    def start(self):
        self.before = _seconds_by_process(self.process_groups)
        self.children_before = _children_seconds()

    def per_request(self, requests):
        """Milliseconds of CPU per request, by group, since start()."""
        groups = [*GROUPS, *(g for g in self.process_groups.values() if g not in GROUPS)]
        used = dict.fromkeys(groups, 0.0)
        for (group, pid), seconds in _seconds_by_process(self.process_groups).items():
            used[group] += max(0.0, seconds - self.before.get((group, pid), 0.0))
        # wrk is this process's child; the round waits for it, so its time is counted.
        used["wrk"] = _children_seconds() - self.children_before
        return {group: round(used[group] * 1000 / max(requests, 1), 3) for group in groups}


def _children_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
