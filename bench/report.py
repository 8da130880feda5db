"""Medians of the rounds, ratios to the ceilings, the floors, as Markdown and JSON."""

import json
import statistics
from pathlib import Path

# How the figures are made and read, written by hand: the report carries it after the figures.
METHOD = Path(__file__).with_name("METHOD.md")

# (scenario, what it is compared with, floor ratio, floor p99 in ms, postgresql only)
FLOORS = {
    "overview": ("precomputed overview", 0.8, 20.0, False),
    "chapter": ("precomputed chapter", 0.8, 20.0, False),
    # 0.5x was withdrawn (bench/METHOD.md, "The uncached floor of 29 November 2026").
    "overview, uncached": ("template-only overview", 0.25, None, True),
    "overview through Varnish": ("overview as a static file (nginx)", 0.5, None, False),
    "search": ("template-only search", None, 100.0, True),
    "document timeline": ("template-only timeline", None, 100.0, False),
    "audit log, user and month": ("template-only audit log", None, 100.0, False),
}


def summarise(scenarios, rounds):
    """Per scenario: medians over rounds, and the median of per-round ratios to its ceiling."""
    summary = {}
    for name, scenario in scenarios.items():
        measured = rounds[name]
        entry = {
            "path": scenario["path"],
            "rounds": [r.as_dict() for r in measured],
            "requests_per_second": round(
                statistics.median(r.requests_per_second for r in measured)
            ),
            "p50_ms": round(statistics.median(r.p50_ms for r in measured), 2),
            "p99_ms": round(statistics.median(r.p99_ms for r in measured), 2),
            "errors": sum(r.errors for r in measured),
            "bad_status": sum(r.bad_status for r in measured),
            "ceiling": scenario.get("ceiling"),
        }
        if all(r.cpu_ms for r in measured):
            entry["cpu_ms_per_request"] = {
                group: round(statistics.median(r.cpu_ms[group] for r in measured), 3)
                for group in measured[0].cpu_ms
            }
        if scenario.get("ceiling"):
            ceiling = rounds[scenario["ceiling"]]
            entry["ratio"] = round(
                statistics.median(
                    r.requests_per_second / c.requests_per_second
                    for r, c in zip(measured, ceiling, strict=True)
                ),
                2,
            )
        summary[name] = entry
    return summary


def floors(summary, workflows, generation, vendor):
    """Each floor of the issue, with the measured figure and whether it is met."""
    checks = []
    for name, (ceiling, ratio, p99, postgres_only) in FLOORS.items():
        entry = summary.get(name)
        if entry is None:
            continue
        note = " (floor is for PostgreSQL)" if postgres_only and vendor != "postgresql" else ""
        if ratio is not None:
            checks.append(
                {
                    "floor": f"{name}: ≥ {ratio}× {ceiling}{note}",
                    "measured": f"{entry['ratio']}×",
                    "met": entry["ratio"] >= ratio,
                }
            )
        if p99 is not None:
            checks.append(
                {
                    "floor": f"{name}: p99 < {p99:g} ms at 32 connections{note}",
                    "measured": f"{entry['p99_ms']} ms",
                    "met": entry["p99_ms"] < p99,
                }
            )
    imported = workflows["import"]
    checks.append(
        {
            "floor": "import: ≥ 20 documents/s",
            "measured": f"{imported['documents_per_second']} documents/s "
            f"({imported['error_count']} errors)",
            "met": imported["documents_per_second"] >= 20 and not imported["error_count"],
        }
    )
    if editor := workflows.get("editor"):
        for action in ("open", "save"):
            checks.append(
                {
                    "floor": f"editor: {action} the largest page of a 300-recommendation "
                    "guideline < 1 s",
                    "measured": f"{editor[f'{action}_seconds']} s ({editor['page']})",
                    "met": editor[f"{action}_seconds"] < 1,
                }
            )
    migration = workflows["bulk_migration"]
    checks.append(
        {
            "floor": "bulk migration of 1,000 documents from CSV: < 10 s",
            "measured": f"{migration['seconds']} s for {migration['rows']} rows",
            "met": migration["seconds"] < 10 and migration["rows"] >= 1000,
        }
    )
    verify = workflows["verify_history"]
    checks.append(
        {
            "floor": "verify_history over ≥ 1,000,000 history rows: < 60 s",
            "measured": f"{verify['seconds']} s for {verify['history_rows']:,} rows"
            + ("" if verify["verified"] else " (did not verify)"),
            "met": verify["seconds"] < 60
            and verify["history_rows"] >= 1_000_000
            and verify["verified"],
        }
    )
    errors = sum(e["errors"] + e["bad_status"] for e in summary.values())
    checks.append(
        {
            "floor": "zero errors and zero non-2xx/3xx responses in every round",
            "measured": f"{errors} in all rounds",
            "met": errors == 0,
        }
    )
    checks.append(
        {
            "floor": "data set: 10,000 documents, ≥ 1,000,000 history rows",
            "measured": f"{generation['documents']:,} documents, "
            f"{generation['history_rows']:,} history rows",
            "met": generation["documents"] >= 10_000 and generation["history_rows"] >= 1_000_000,
        }
    )
    return checks


def first_request_floor(first):
    """Judged where readers come in: through the front cache, which the worker fills."""
    measured = first["through_front_cache"]
    return {
        "floor": "first request after a change, through the front cache: p99 < 20 ms at "
        "32 connections",
        "measured": f"{measured['p99_ms']} ms ({measured['requests']} pages, "
        f"{measured['bad_status']} not 200, {measured['front_cache_hits']} Varnish hits)",
        "met": measured["p99_ms"] < 20 and not measured["bad_status"],
    }


def never_stale_floor(front_cache):
    """Each change to the measured document on the very next answer through Varnish, which held
    the page before the change; another document's page kept there all along."""
    changes = front_cache["changes"]
    return {
        "floor": "through the front cache, never stale: a change is on the next request",
        "measured": f"{front_cache['stale']} stale of {changes} first requests after a change "
        f"(a hit before the change {front_cache['hit_before']}, a miss after "
        f"{front_cache['miss_after']}; another document's page still a hit "
        f"{front_cache['kept_hits']})",
        "met": changes > 0
        and front_cache["stale"] == 0
        and front_cache["hit_before"] == changes
        and front_cache["kept_hits"] == changes,
    }


def front_cache_lines(front_cache):
    if not front_cache:
        return []
    lines = [
        "",
        "## Never stale through the front cache",
        "",
        f"After the rounds, another process (`python -m bench.tasks retitle`) changed the title "
        f"of the measured document {front_cache['changes']} times, each change committed as an "
        "editor's save commits (the page cache's purge, then Varnish's by surrogate key). Before "
        f"each change its overview ({front_cache['page']}) was requested through Varnish until "
        "it was a hit; right after the change, the first request through Varnish was checked "
        f"for the new title, and another document's overview ({front_cache['kept_page']}) for "
        "still being a hit.",
        "",
        "| changes | stale answers | hit before the change | miss after | other page kept |",
        "| ---: | ---: | ---: | ---: | ---: |",
        f"| {front_cache['changes']} | {front_cache['stale']} | {front_cache['hit_before']} | "
        f"{front_cache['miss_after']} | {front_cache['kept_hits']} |",
    ]
    if front_cache["stale_answers"]:
        lines += ["", "Stale answers:", ""] + [f"- {a}" for a in front_cache["stale_answers"]]
    return lines


def first_request_lines(first):
    """The first request after a change, with and without the background re-render."""
    if not first:
        return []
    lines = [
        "",
        "## First request after a change",
        "",
        f"Each row: {first['documents']} other documents changed, one change each, then each "
        f"overview requested once from {first['connections']} connections, a new connection "
        "per request. First with no background worker (each first reader renders the page, "
        "straight from gunicorn). Then with `db_worker` running, which rendered the pages again "
        "after the changes committed and asked Varnish for them: requested through Varnish, as "
        "readers come (the floor), and, for another set of documents, straight from gunicorn. "
        "The next row requests the last set once more from gunicorn: what the same client "
        "measures of a hit there; the last, nginx serving the overview as a static file as "
        "many times: what this client measures of the fastest answer there is, its own time "
        "and a new connection's.",
        "",
        "| first request after a change | p50 ms | p99 ms | max ms | not 200 | Varnish hits |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, key in (
        ("no background worker, gunicorn", "without_background_render"),
        ("rendered again in the background, through Varnish", "through_front_cache"),
        ("rendered again in the background, gunicorn", "with_background_render"),
        ("the same pages requested again (hits), gunicorn", "requested_again"),
        ("the overview as a static file, nginx", "static_file"),
    ):
        entry = first.get(key)
        if entry is None:
            continue
        hits = entry["front_cache_hits"] if key == "through_front_cache" else "—"
        lines.append(
            f"| {name} | {entry['p50_ms']:.1f} | {entry['p99_ms']:.1f} | {entry['max_ms']:.1f} | "
            f"{entry['bad_status']} | {hits} |"
        )
    return lines


def mixed_load_errors(mixed):
    return mixed["total"]["errors"] + mixed["sign_in_before"]["errors"]


def mixed_load_floors(mixed):
    history = mixed["history"]
    return [
        {
            "floor": f"mixed load at {mixed['connections']} connections: zero errors",
            "measured": f"{mixed_load_errors(mixed)} errors in "
            f"{mixed['total']['operations'] + mixed['sign_in_before']['operations']:,} "
            f"operations ({mixed['total']['requests'] + mixed['sign_in_before']['requests']:,} "
            "requests)",
            "met": mixed_load_errors(mixed) == 0 and mixed["total"]["operations"] > 0,
        },
        {
            "floor": "history verifies after the mixed load's concurrent saves",
            "measured": f"{'verified' if history['verified'] else 'did not verify'}: "
            f"{history['history_rows']:,} rows in {history['seconds']} s",
            "met": history["verified"],
        },
    ]


def mixed_load_lines(mixed):
    """Per kind of operation of the mixed load round, its total, and its errors if any."""
    if not mixed:
        return []
    total = mixed["total"]
    lines = [
        "",
        "## Mixed load",
        "",
        f"{mixed['connections']} connections, each a client with its own keep-alive connection "
        f"and cookies, for {mixed['seconds']} s (load average {mixed['load_average']['before']} "
        f"before, {mixed['load_average']['after']} after): public pages, searches, sign-ins "
        "through both steps and editors' saves through the admin's forms, each connection "
        "saving its own draft edition. An operation is one or more requests, and each must "
        "answer with the status its step expects: a sign-in is five requests (the form, the "
        "password, the second step's form, the code, the admin's start page), a save two (the "
        "form, the save). Times are per operation.",
        "",
        "| operation | count | requests | per s | p50 ms | p99 ms | errors |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows = {mixed["sign_in_before"]["name"]: mixed["sign_in_before"]} | mixed["kinds"]
    for name, row in rows.items():
        lines.append(
            f"| {name} | {row['operations']:,} | {row['requests']:,} | {row['per_second']} | "
            f"{row['p50_ms']:.1f} | {row['p99_ms']:.1f} | {row['errors']} |"
        )
    lines.append(
        f"| **round** | {total['operations']:,} | {total['requests']:,} | "
        f"{total['requests_per_second']} requests | | | {total['errors']} |"
    )
    lines += [
        "",
        f"The clients themselves (one process, a thread per connection) used "
        f"{mixed['client_cpu_seconds']} s of CPU during the round.",
    ]
    if used := mixed.get("cpu_ms_per_operation"):
        lines[-1] += (
            f" CPU per operation of the round, which moves less than its rate with the load of "
            f"the machine's neighbours: {sum(used.values()):.1f} ms ("
            + ", ".join(f"{group} {ms:.1f}" for group, ms in used.items())
            + ")."
        )
    if mixed["sign_ins_put_off"]:
        lines += [
            "",
            f"{mixed['sign_ins_put_off']} sign-ins were put off: every account of their "
            "connection had given its code in that time step, which django-otp accepts once.",
        ]
    if mixed["error_examples"]:
        lines += ["", "Errors (the first ten):", ""]
        lines += [f"- {example}" for example in mixed["error_examples"]]
    history = mixed["history"]
    lines += [
        "",
        f"`verify_history` after the round: {'verified' if history['verified'] else 'FAILED'}, "
        f"{history['history_rows']:,} rows in {history['seconds']} s.",
    ]
    if not history["verified"]:
        lines += ["", "```", *history["output"], "```"]
    return lines


def whole_run(result):
    """The floor on the whole run; a run that reused the data set adds its generation time."""
    generation, seconds = result["data_set"], result["seconds"]
    if generation.get("reused"):
        first = seconds - result["copy_seconds"] + generation["seconds"]
        measured = (
            f"{seconds} s reusing the data set; about {first:.0f} s with generating it "
            f"({generation['seconds']:.0f} s)"
        )
    else:
        first = seconds
        measured = f"{seconds} s, generating the data set in {generation['seconds']:.0f} s"
    return {
        "floor": "`make bench` from nothing, data set included: < 10 minutes",
        "measured": measured,
        "met": first < 600,
    }


def uncached_breakdown(pages):
    """Where an uncached overview's time goes: its template, its round trips to PostgreSQL and
    Redis, and the work of reading what it shows."""
    names = (
        "overview, uncached",
        "overview template, records in memory",
        "the same, with a miss's round trips",
        "template-only overview",
    )
    if not all(name in pages for name in names):
        return []
    uncached, from_memory, round_trips, template_only = (
        pages[n]["requests_per_second"] for n in names
    )
    lines = [
        "",
        "Where the uncached overview's time goes:",
        f"- the template-only ceiling answered {template_only:,} requests/s;",
        f"- the product's overview template, rendered from records held in memory, "
        f"{from_memory:,} (the cost of the template itself);",
        f"- the same, plus the round trips an uncached page makes, with none of their work (the "
        f"smallest query, a page-cache token read, the page stored), {round_trips:,};",
        f"- the uncached overview itself {uncached:,}: reading the document and building its "
        "records took the rest.",
    ]
    if not all("cpu_ms_per_request" in pages[name] for name in names):
        return lines
    cpu = [sum(pages[name]["cpu_ms_per_request"].values()) for name in names]
    return lines + [
        "",
        "In CPU time per request, all processes together: {3:.2f} ms for the template-only "
        "ceiling, {1:.2f} for the template from memory, {2:.2f} with the round trips, {0:.2f} "
        "for the uncached overview. On a machine the rounds keep busy, 0.25× of the ceiling "
        "leaves a page at most {4:.2f} ms.".format(*cpu, 4 * cpu[3]),
    ]


def cpu_table(pages):
    """CPU milliseconds per request by process, where the run could read them."""
    if not all("cpu_ms_per_request" in entry for entry in pages.values()):
        return []
    groups = {"server": "server", "postgresql": "PostgreSQL", "redis": "Redis"}
    groups |= {
        group: group
        for group in next(iter(pages.values()))["cpu_ms_per_request"]
        if group not in {*groups, "wrk"}
    }
    groups["wrk"] = "wrk"
    lines = [
        "",
        "CPU time per request (milliseconds, medians of the rounds), which moves less than "
        "requests per second with the load of the machine's neighbours: the server's processes "
        "(gunicorn and its workers), PostgreSQL's, Redis's, the front cache's (varnishd and "
        "nginx, each counted in every round) and wrk.",
        "",
        "| scenario | " + " | ".join(groups.values()) + " | total |",
        "| --- |" + " ---: |" * (len(groups) + 1),
    ]
    for name, entry in pages.items():
        used = entry["cpu_ms_per_request"]
        lines.append(
            f"| {name} | "
            + " | ".join(f"{used.get(group, 0):.2f}" for group in groups)
            + f" | {sum(used.values()):.2f} |"
        )
    return lines


def markdown(result):
    machine = result["machine"]
    generation = result["data_set"]
    targets = result.get("targets", {})
    lines = [
        "# Benchmark report",
        "",
        f"Run {result['finished']} with `{result['command']}` in {result['seconds']:.0f} s.",
        "",
        "## Machine",
        "",
        f"- CPU: {machine['cpu']} × {machine['cores']} cores; memory {machine['memory_gb']} GB; "
        f"load average at start {machine['load_at_start']}, at end {machine['load_at_end']}",
        f"- {machine['os']}; Python {machine['python']}; Django {machine['django']}; "
        f"gunicorn {machine['gunicorn']}; {machine['wrk']}; Redis {machine['redis']}",
        f"- Database: {machine['database']}",
        f"- Server: {result['server']['description']}",
        f"- Front cache: {result['server']['front_cache']} ({machine['varnish']}; "
        f"{machine['nginx']})",
        f"- Load: {result['load']['description']}",
        "",
        "## Data set",
        "",
        f"{generation['documents']:,} documents and {generation['stubs']:,} stub records, "
        f"{generation['change_sets']:,} changes, {generation['history_rows']:,} history rows; "
        + (
            f"generated in {generation['seconds']:.0f} s by an earlier run and reused "
            f"(copied for this run in {result['copy_seconds']:.0f} s)."
            if generation.get("reused")
            else f"generated in {generation['seconds']:.0f} s "
            f"({', '.join(f'{k} {v:.0f} s' for k, v in generation['phases'].items())})."
        ),
        "",
        "## Pages",
        "",
        f"Medians of {result['load']['rounds']} interleaved rounds; ratio = median of the "
        "per-round ratios of requests per second to the ceiling measured in the same round. "
        "Each ceiling serves a page of the size of the pages it is compared with: "
        f"{targets.get('overview_bytes', 0):,} bytes for the overview, "
        f"{targets.get('chapter_bytes', 0):,} for the chapter, and "
        f"{targets.get('uncached_mean_bytes', 0):,} (the mean of a sample) for the uncached "
        "round, which requests every document in turn. The pages through Varnish are compared "
        "with nginx serving the very bytes Varnish answered as static files "
        f"({targets.get('api_detail_bytes', 0):,} bytes for the API detail).",
        "",
        "| scenario | req/s | p50 ms | p99 ms | errors | non-2xx/3xx | ceiling | ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for name, entry in result["pages"].items():
        ratio = f"{entry['ratio']:.2f}×" if "ratio" in entry else ""
        lines.append(
            f"| {name} | {entry['requests_per_second']:,} | {entry['p50_ms']:.1f} | "
            f"{entry['p99_ms']:.1f} | {entry['errors']} | {entry['bad_status']} | "
            f"{entry['ceiling'] or ''} | {ratio} |"
        )
    lines += cpu_table(result["pages"])
    lines += uncached_breakdown(result["pages"])
    lines += front_cache_lines(result.get("front_cache"))
    lines += first_request_lines(result.get("first_requests"))
    lines += mixed_load_lines(result.get("mixed_load"))
    workflows = result["workflows"]
    imported, migration, verify = (
        workflows["import"],
        workflows["bulk_migration"],
        workflows["verify_history"],
    )
    lines += [
        "",
        "## Workflows",
        "",
        "| workflow | measured |",
        "| --- | --- |",
        f"| import of the sample corpus ({imported['documents']} documents) | "
        f"{imported['documents_per_second']} documents/s ({imported['seconds']} s) |",
        f"| bulk migration from CSV ({migration['rows']:,} documents) | "
        f"{migration['seconds']} s (preview {migration['preview_seconds']} s) |",
        f"| `verify_history` ({verify['history_rows']:,} history rows) | "
        f"{verify['seconds']} s ({verify['rows_per_second']:,} rows/s) |",
        "",
        "## Floors",
        "",
        "| floor | measured | |",
        "| --- | --- | --- |",
    ]
    for check in result["floors"]:
        lines.append(
            f"| {check['floor']} | {check['measured']} | {'met' if check['met'] else 'NOT met'} |"
        )
    if result.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {note}" for note in result["notes"]]
    return "\n".join(lines) + "\n"


def write(result, markdown_path, json_path):
    markdown_path.write_text(markdown(result) + "\n" + METHOD.read_text())
    json_path.write_text(json.dumps(result, indent=2, default=str) + "\n")
