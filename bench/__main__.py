"""`make bench`: generate (or reuse) the data set, serve it as production does, measure.

    python -m bench [--documents N] [--history-rows N] [--rounds N] [--duration S]
                    [--freshness-checks N] [--regenerate] [--no-commit-report]

On PostgreSQL when DATABASE_URL names a server (the data set lives in the database
guidance_bench beside it), on SQLite under bench/out otherwise. Writes bench/out/report.md and
report.json, and copies them to bench/REPORT.md and bench/report.json.
"""

import argparse
import contextlib
import datetime
import html
import json
import os
import platform
import shlex
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request

import redis

from . import cpu, first_requests, frontcache, load, mixed, report
from .database import OUT, ROOT, Store, fingerprint
from .serve import background_worker, collect_static, free_port, gunicorn, production_environment

PAGES = OUT / "pages"

# name: (key of the path chosen by `tasks prepare`, ceiling, needs the auditor's session)
SCENARIOS = {
    "overview": ("overview", "precomputed overview", False),
    "chapter": ("chapter", "precomputed chapter", False),
    "overview, uncached": ("uncached", "template-only overview", False),
    "former reference (301)": ("former_reference", "precomputed overview", False),
    "search": ("search", "template-only search", False),
    "document timeline": ("timeline", "template-only timeline", True),
    "audit log, user and month": ("audit_log", "template-only audit log", True),
}
# Ceiling: (URL, page whose size it matches)
CEILINGS = {
    "precomputed overview": ("/bench/precomputed/overview/", "overview"),
    "precomputed chapter": ("/bench/precomputed/chapter/", "chapter"),
    # Sized as the pages the uncached round requests, which are other documents than "overview".
    "template-only overview": ("/bench/template/overview-rotation/", "overview-rotation"),
    # Not ceilings of the issue: the overview's own template with its records in memory, and
    # the same with the round trips of an uncached page added (bench/views.py).
    "overview template, records in memory": ("/bench/overview-from-memory/", "overview-rotation"),
    "the same, with a miss's round trips": (
        "/bench/overview-from-memory/round-trips/",
        "overview-rotation",
    ),
    "template-only search": ("/bench/template/search/", "search"),
    "template-only timeline": ("/bench/template/timeline/", "timeline"),
    "template-only audit log": ("/bench/template/audit-log/", "audit-log"),
}
# The public pages through the front cache (Varnish), each against nginx serving the bytes
# Varnish answered as a static file: name: (key of the path, ceiling, the ceiling's file).
FRONT_CACHE_SCENARIOS = {
    "overview through Varnish": ("overview", "overview as a static file (nginx)", "overview"),
    "chapter through Varnish": ("chapter", "chapter as a static file (nginx)", "chapter"),
    "API detail through Varnish": (
        "api_detail",
        "API detail as a static file (nginx)",
        "api-detail",
    ),
}
CAPTURED = {
    "overview": "overview",
    "chapter": "chapter",
    "search": "search",
    "timeline": "timeline",
    "audit-log": "audit_log",
}


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def task(name, database_url, redis_url, *arguments, front_cache_url=None):
    """Run one of bench.tasks in its own process against a database; return its JSON."""
    completed = subprocess.run(
        [sys.executable, "-m", "bench.tasks", name, *arguments],
        cwd=ROOT,
        env=production_environment(database_url, redis_url, front_cache_url),
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    return json.loads(completed.stdout.strip().splitlines()[-1])


def machine(store, redis_url):
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as info:
        memory_kb = int(info.readline().split()[1])
    if store.vendor == "postgresql":
        import psycopg  # noqa: PLC0415

        with psycopg.connect(store.admin_url) as connection:
            database = connection.execute("SHOW server_version").fetchone()[0]
        database = f"PostgreSQL {database}"
    else:
        database = f"SQLite {sqlite3.sqlite_version} (WAL)"
    import django  # noqa: PLC0415
    import gunicorn as gunicorn_package  # noqa: PLC0415

    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "os": platform.platform(),
        "python": platform.python_version(),
        "django": django.get_version(),
        "gunicorn": gunicorn_package.__version__,
        "wrk": load.wrk_version(),
        "varnish": frontcache.varnish_version(),
        "nginx": frontcache.nginx_version(),
        "redis": redis.Redis.from_url(redis_url).info("server")["redis_version"]
        if redis_url
        else "not used",
        "database": database,
        "load_at_start": " ".join(f"{n:.2f}" for n in os.getloadavg()),
    }


def fetch(url, headers=()):
    """GET without following redirects; return (status, body, headers)."""

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    request = urllib.request.Request(url)
    for header in headers:
        key, value = header.split(": ", 1)
        request.add_header(key, value)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=30) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


def capture_rotation_page(base, uncached, sample=100):
    """Keep the page nearest the mean size of a sample of the uncached round's pages.

    The uncached round requests every document in turn, and their pages are not the size of the
    one overview the cached rounds request; its template-only ceiling must match what it serves.
    """
    step = max(1, len(uncached) // sample)
    bodies = []
    for path in uncached[::step][:sample]:
        status, body, _ = fetch(base + path)
        if status == 200:
            bodies.append(body)
    mean = sum(map(len, bodies)) / len(bodies)
    (PAGES / "overview-rotation.html").write_bytes(min(bodies, key=lambda b: abs(len(b) - mean)))
    return round(mean)


def check_and_capture(base, targets, cookie):
    """Request each page once: right status, and keep the bodies the ceilings match in size."""
    PAGES.mkdir(parents=True, exist_ok=True)
    problems = []
    for name, (key, _, authenticated) in SCENARIOS.items():
        if key == "uncached":
            continue
        headers = [f"Cookie: {cookie}"] if authenticated else []
        status, body, answered = fetch(base + targets[key], headers)
        expected = 301 if key == "former_reference" else 200
        if status != expected:
            problems.append(f"{name}: {targets[key]} answered {status}, expected {expected}")
        if key == "former_reference":
            targets["former_reference_location"] = answered.get("Location")
    for page, key in CAPTURED.items():
        headers = [f"Cookie: {cookie}"] if key in {"timeline", "audit_log"} else []
        status, body, _ = fetch(base + targets[key], headers)
        (PAGES / f"{page}.html").write_bytes(body)
        targets[f"{key}_bytes"] = len(body)
    targets["uncached_mean_bytes"] = capture_rotation_page(base, targets["uncached_paths"])
    for name, (path, _) in CEILINGS.items():
        status, _, _ = fetch(base + path)
        if status != 200:
            problems.append(f"ceiling {name}: {path} answered {status}")
    return problems


def capture_through_front_cache(front, targets):
    """Request each page of the front-cache rounds through Varnish once; return the bytes and
    Content-Type it answered, by the name of the static file nginx serves them as, and what
    did not answer 200."""
    files, problems = {}, []
    for name, (key, _, file_name) in FRONT_CACHE_SCENARIOS.items():
        status, body, headers = fetch(front + targets[key])
        if status != 200:
            problems.append(f"{name}: {targets[key]} answered {status}, expected 200")
        files[file_name] = (body, headers["Content-Type"])
        targets.setdefault(f"{key}_bytes", len(body))
    return files, problems


def main():
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--documents", type=int, default=10_000)
    parser.add_argument("--history-rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=4, help="seconds per wrk round")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--import-copies", type=int, default=100)
    parser.add_argument("--migrate", type=int, default=1000)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14")
    parser.add_argument(
        "--cache",
        choices=["redis", "database"],
        default="redis",
        help="where the page cache lives: Redis (--redis-url) or the database's cache table",
    )
    parser.add_argument(
        "--first-requests",
        type=int,
        default=128,
        help="documents changed for the first-request-after-a-change round",
    )
    parser.add_argument(
        "--freshness-checks",
        type=int,
        default=20,
        help="changes to the measured document, each checked on the next request through Varnish",
    )
    parser.add_argument(
        "--mixed-duration",
        type=int,
        default=20,
        help="seconds of the mixed load round (public pages, search, sign-ins, admin saves)",
    )
    parser.add_argument("--regenerate", action="store_true", help="do not reuse the data set")
    parser.add_argument(
        "--no-commit-report",
        action="store_true",
        help="leave bench/REPORT.md and bench/report.json as they are",
    )
    arguments = parser.parse_args()
    started = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    notes = [load.ensure_wrk(), frontcache.ensure_installed()]
    store = Store.from_environment(os.environ.get("DATABASE_URL"))
    redis_url = arguments.redis_url if arguments.cache == "redis" else None
    # Where the report is copied to changes nothing measured.
    shown = [argument for argument in sys.argv[1:] if argument != "--no-commit-report"]
    result = {
        "command": "make bench"
        + (f" BENCH_ARGS='{shlex.join(shown)}'" if shown else "")
        + (" (DATABASE_URL=postgres://…)" if store.vendor == "postgresql" else " (SQLite)"),
        "machine": machine(store, redis_url),
    }

    expected = fingerprint(documents=arguments.documents, history_rows=arguments.history_rows)
    generation = None if arguments.regenerate else store.kept_generation(expected)
    if generation is not None:
        try:
            applied = task("migrate", store.kept_url, redis_url)["applied"]
        except subprocess.CalledProcessError:
            log("the kept data set does not take the new migrations: generating it again")
            generation = None
        else:
            if applied:
                notes.append(f"applied to the kept data set: {', '.join(applied)}")
            store.remember({k: v for k, v in generation.items() if k != "migrations"})
    if generation is None:
        log(f"generating the data set ({store.vendor}); later runs reuse it")
        store.empty_kept()
        generation = task(
            "build",
            store.kept_url,
            redis_url,
            "--documents",
            str(arguments.documents),
            "--history-rows",
            str(arguments.history_rows),
        )
        store.remember({**generation, "fingerprint": expected})
        generation["reused"] = False
    else:
        log(f"reusing the data set generated in {generation['seconds']:.0f} s")
        generation["reused"] = True
    generation["database_bytes"] = store.size_bytes()
    result["data_set"] = generation

    copy_started = time.perf_counter()
    store.copy_for_run()
    result["copy_seconds"] = round(time.perf_counter() - copy_started, 1)
    # Chosen before gunicorn starts: its processes purge the front cache when a change commits.
    front_cache_port = free_port()
    front_cache_url = f"http://127.0.0.1:{front_cache_port}"
    environment = production_environment(store.work_url, redis_url, front_cache_url)
    try:
        log("choosing pages and signing in an auditor")
        targets = task("prepare", store.work_url, redis_url)
        cookie = targets.pop("session_cookie")
        result["targets"] = targets
        collect_static(environment)
        if redis_url:
            redis.Redis.from_url(redis_url).flushdb()
        server_log = OUT / "gunicorn.log"
        with contextlib.ExitStack() as running:
            base, command, server_pid = running.enter_context(
                gunicorn(environment, workers=arguments.workers, log_path=server_log)
            )
            front, varnish_pid = running.enter_context(
                frontcache.varnish(
                    "127.0.0.1", base.rsplit(":", 1)[1], port=front_cache_port, memory="256m"
                )
            )
            result["server"] = {
                "command": shlex.join(command[1:]),
                "description": f"gunicorn -c config/gunicorn.py, {arguments.workers} sync "
                "workers, DEBUG=0, WhiteNoise, page cache "
                + (f"in Redis ({redis_url})" if redis_url else "in the database's cache table"),
                "front_cache": "varnishd with config/varnish/guidance.vcl (malloc storage, "
                f"{shlex.join(frontcache.production_parameters())}) in front of it, purged by "
                "its commits (FRONT_CACHE_URL); nginx (access log off, sendfile) serving the "
                "bytes Varnish answered as static files",
            }
            # Written first: the view with the overview's records in memory reads them from it.
            script = load.rotation_script(targets["uncached_paths"], OUT, arguments.threads)
            problems = check_and_capture(base, targets, cookie)
            static_files, front_problems = capture_through_front_cache(front, targets)
            problems += front_problems
            if problems:
                raise SystemExit("Pages did not answer as expected:\n  " + "\n  ".join(problems))
            kept = next(path for path in targets["uncached_paths"] if path != targets["overview"])
            del targets["uncached_paths"]
            static, nginx_pid = running.enter_context(frontcache.nginx(static_files))
            front_runs = {}
            for name, (key, ceiling, file_name) in FRONT_CACHE_SCENARIOS.items():
                front_runs[name] = {"url": front + targets[key]}
                front_runs[ceiling] = {"url": f"{static}/{file_name}"}
            measured = measure(
                base,
                targets,
                cookie,
                script,
                arguments,
                store.work_url,
                redis_url,
                cpu.Meter(server_pid, {"Varnish": varnish_pid, "nginx": nginx_pid})
                if cpu.available()
                else None,
                front_runs,
            )
            result["front_cache"] = front_cache_freshness(
                front, environment, targets, kept, arguments.freshness_checks
            )
            result["first_requests"] = first_requests_after_changes(
                base, front, environment, arguments, store.work_url, redis_url, front_cache_url
            )
            # The same client against the fastest answer there is: nginx serving the overview
            # as a static file, each request on a new connection as above.
            result["first_requests"]["static_file"] = first_requests.request_each_once(
                static,
                ["/overview"] * arguments.first_requests,
                arguments.connections,
            )
            result["mixed_load"] = mixed_load_round(
                base, arguments, store.work_url, redis_url, server_pid
            )
        result["load"] = {
            "rounds": arguments.rounds,
            "description": f"wrk -t{arguments.threads} -c{arguments.connections} "
            f"-d{arguments.duration}s --latency on 127.0.0.1, {arguments.rounds} interleaved "
            "rounds per scenario after a warm-up round",
        }
        scenarios = {
            name: {"path": targets.get(key, "rotating"), "ceiling": ceiling}
            for name, (key, ceiling, _) in SCENARIOS.items()
        } | {name: {"path": path, "ceiling": None} for name, (path, _) in CEILINGS.items()}
        for name, (key, ceiling, file_name) in FRONT_CACHE_SCENARIOS.items():
            scenarios[name] = {"path": targets[key], "ceiling": ceiling}
            scenarios[ceiling] = {"path": f"/{file_name} (static file)", "ceiling": None}
        result["pages"] = report.summarise(scenarios, measured)

        log("timing the workflows: import, bulk migration, verify_history")
        result["workflows"] = task(
            "workflows",
            store.work_url,
            redis_url,
            "--import-copies",
            str(arguments.import_copies),
            "--migrate",
            str(arguments.migrate),
        )
    finally:
        store.drop_copy()
    result["machine"]["load_at_end"] = " ".join(f"{n:.2f}" for n in os.getloadavg())
    result["seconds"] = round(time.perf_counter() - started)
    result["floors"] = report.floors(result["pages"], result["workflows"], generation, store.vendor)
    result["floors"].append(report.first_request_floor(result["first_requests"]))
    result["floors"].append(report.never_stale_floor(result["front_cache"]))
    result["floors"] += report.mixed_load_floors(result["mixed_load"])
    result["floors"].append(report.whole_run(result))
    result["finished"] = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    result["notes"] = notes
    report.write(result, OUT / "report.md", OUT / "report.json")
    if not arguments.no_commit_report:
        shutil.copy(OUT / "report.md", ROOT / "bench" / "REPORT.md")
        shutil.copy(OUT / "report.json", ROOT / "bench" / "report.json")
    print((OUT / "report.md").read_text())
    log(f"done in {result['seconds']} s")


def front_cache_freshness(front, environment, targets, kept, changes):
    """Change the measured document again and again from another process, as an editor saves
    it, and request its overview through Varnish right after each change has committed: the new
    title must be on that very answer. Before each change the page is a hit there (so a stale
    copy could be served); another document's page must stay one."""
    page, other = front + targets["overview"], front + kept
    reference = targets["document"]["reference"]
    log(f"changing {reference} {changes} times, each checked on the next request through Varnish")
    fetch(other)
    seen = {"changes": changes, "stale": 0, "hit_before": 0, "miss_after": 0, "kept_hits": 0}
    stale_answers = []
    editor = subprocess.Popen(
        [sys.executable, "-m", "bench.tasks", "retitle", "--reference", reference],
        cwd=ROOT,
        env=environment,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        for number in range(1, changes + 1):
            fetch(page)
            seen["hit_before"] += fetch(page)[2].get("X-Cache") == "hit"
            editor.stdin.write("change\n")
            editor.stdin.flush()
            line = editor.stdout.readline()
            if not line:
                raise SystemExit("python -m bench.tasks retitle stopped; its error is above")
            title = json.loads(line)["title"]
            status, body, headers = fetch(page)
            seen["miss_after"] += headers.get("X-Cache") == "miss"
            if status != 200 or html.escape(title).encode() not in body:
                seen["stale"] += 1
                stale_answers.append(
                    f"change {number}: {status}, X-Cache {headers.get('X-Cache')}, "
                    f"Age {headers.get('Age')}, without {title!r}"
                )
            seen["kept_hits"] += fetch(other)[2].get("X-Cache") == "hit"
    finally:
        editor.communicate(timeout=60)
    log(f"front cache: {seen['stale']} stale answers after {changes} changes")
    return {
        "page": targets["overview"],
        "kept_page": kept,
        **seen,
        "stale_answers": stale_answers[:5],
    }


def first_requests_after_changes(
    base, front, environment, arguments, database_url, redis_url, front_cache_url
):
    """The first request to each of a set of pages just changed, each requested once from
    32 connections: without the background worker (each reader renders the page), then with it
    (the worker renders the pages again before anyone asks, and puts them in the front cache),
    through the front cache as readers come and straight to the application."""
    count = arguments.first_requests

    def change(batch):
        return task(
            "change-documents",
            database_url,
            redis_url,
            "--count",
            str(count),
            "--skip",
            str(batch * count),
            front_cache_url=front_cache_url,
        )

    log(f"changing {count} documents with no background worker, then asking for each once")
    changed = change(0)
    without = first_requests.request_each_once(base, changed["paths"], arguments.connections)
    measured = {}
    with background_worker(environment, OUT / "worker.log"):
        task("wait-for-worker", database_url, redis_url)
        for batch, (name, address) in enumerate(
            (("through_front_cache", front), ("with_background_render", base)), start=1
        ):
            log(f"changing {count} more documents with the background worker running")
            changed = change(batch)
            rendered = task("wait-for-worker", database_url, redis_url)
            measured[name] = first_requests.request_each_once(
                address, changed["paths"], arguments.connections
            )
            measured[name]["render_wait_seconds"] = rendered["seconds"]
    # The same pages once more, all of them cache hits: what this client measures of a hit.
    again = first_requests.request_each_once(base, changed["paths"], arguments.connections)
    log(
        f"first requests after a change: p99 {measured['through_front_cache']['p99_ms']} ms "
        f"through the front cache, {measured['with_background_render']['p99_ms']} ms at the "
        f"application, without the worker {without['p99_ms']} ms"
    )
    return {
        "documents": count,
        "connections": arguments.connections,
        "without_background_render": without,
        **measured,
        "requested_again": again,
        "changes_seconds": changed["seconds"],
        "render_wait_seconds": rendered["seconds"],
    }


def mixed_load_round(base, arguments, database_url, redis_url, server_pid):
    """Readers, searchers, sign-ins and editors' saves from every connection at once; then
    whether the history still verifies after the concurrent saves."""
    prepared = task(
        "prepare-mixed", database_url, redis_url, "--clients", str(arguments.connections)
    )
    log(f"mixed load: {arguments.connections} connections for {arguments.mixed_duration} s")
    meter = cpu.Meter(server_pid) if cpu.available() else None
    measured = mixed.run(base, prepared, arguments.mixed_duration, meter=meter)
    total = measured["total"]
    log(
        f"mixed load: {total['requests_per_second']} req/s, "
        f"{total['errors'] + measured['sign_in_before']['errors']} errors; verifying the history"
    )
    measured["history"] = task("verify-history", database_url, redis_url)
    return measured


def settle():
    """Let the server finish what the last round left queued before the next round starts.

    wrk stops with up to one request per connection still waiting in the listen queue; the
    workers serve them anyway, and without the pause the next round would be timed behind
    them (32 uncached pages delayed the first requests of the next round by 100 ms and more);
    they take a few hundredths of a second.
    """
    time.sleep(0.5)


def measure(base, targets, cookie, script, arguments, database_url, redis_url, meter, front_runs):
    """A warm-up round of every scenario and ceiling, the front cache's among them, then
    interleaved measured rounds, each with the CPU time it cost by process where meter reads
    it."""
    runs = {}
    for name, (key, _, authenticated) in SCENARIOS.items():
        runs[name] = {
            "url": base + (targets["overview"] if key == "uncached" else targets[key]),
            "headers": [f"Cookie: {cookie}"] if authenticated else [],
            "script": script if key == "uncached" else None,
        }
    for name, (path, _) in CEILINGS.items():
        runs[name] = {"url": base + path, "headers": [], "script": None}
    for name, run in front_runs.items():
        runs[name] = {"headers": [], "script": None, **run}
    names = list(runs)
    settings = {
        "threads": arguments.threads,
        "connections": arguments.connections,
    }
    log(f"warming up {len(names)} scenarios")
    for name in names:
        load.run_wrk(seconds=1, **settings, **runs[name])
        settle()
    measured = {name: [] for name in names}
    for round_number in range(arguments.rounds):
        # Each round starts one scenario further on, so none is always first or last.
        order = names[round_number:] + names[:round_number]
        for name in order:
            if runs[name]["script"]:
                # Every page of this round is rendered afresh.
                task("forget-pages", database_url, redis_url)
            if meter:
                meter.start()
            outcome = load.run_wrk(seconds=arguments.duration, **settings, **runs[name])
            if meter:
                outcome.cpu_ms = meter.per_request(outcome.requests)
            settle()
            measured[name].append(outcome)
            log(
                f"round {round_number + 1} {name}: {outcome.requests_per_second:.0f} req/s, "
                f"p99 {outcome.p99_ms:.1f} ms, errors {outcome.errors + outcome.bad_status}"
            )
    return measured


if __name__ == "__main__":
    main()
