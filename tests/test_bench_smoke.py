"""The benchmark's data set, made small: shaped like real guidance, with real chained history."""

import io
import shutil
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import transaction
from django.db.models import F

from bench import cpu, frontcache, mixed
from bench.database import fingerprint
from bench.generate import generate, history_row_count
from bench.load import parse
from bench.report import mixed_load_floors, never_stale_floor
from guidance import ledger
from guidance.models import (
    Block,
    ChangeKind,
    ChangeSet,
    Chapter,
    Guidance,
    Relation,
    RelationType,
    UpdateEntry,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def data_set(django_db_setup, django_db_blocker):
    """Made once for the module; each test's own changes are still rolled back after it, and
    the data set after the module's last test."""
    with django_db_blocker.unblock(), transaction.atomic():
        yield generate(documents=30, history_rows=3000, log=lambda line: None)
        transaction.set_rollback(True)


def test_the_data_set_has_the_documents_and_history_asked_for(data_set):
    assert Guidance.objects.documents().count() == 30 == data_set.documents
    assert history_row_count() >= 3000
    assert data_set.history_rows == history_row_count()


def test_documents_are_shaped_like_the_samples(data_set):
    chapters = Chapter.objects.filter(guidance__is_stub=False)
    assert chapters.filter(number="1", title="Recommendations").count() == 30
    assert Block.objects.filter(kind=Block.Kind.HEADING, number="").exists()
    assert Block.objects.filter(kind=Block.Kind.PARAGRAPH, number__regex=r"^\d+\.\d+$").exists()
    assert Block.objects.exclude(bullets=[]).exists()
    recommendations = Block.objects.filter(kind=Block.Kind.RECOMMENDATION)
    assert recommendations.exclude(category="").exists()
    assert Block.objects.filter(kind=Block.Kind.RATIONALE).exists() or not Guidance.objects.filter(
        programme__code__in=["TA", "NG", "CG"]
    )
    assert UpdateEntry.objects.filter(kind=ChangeKind.MAJOR).exists()
    assert UpdateEntry.objects.filter(kind=ChangeKind.MINOR).exists()


def test_old_references_lead_to_migrated_documents(data_set):
    migrations = Relation.objects.filter(type=RelationType.MIGRATED_TO)
    assert migrations.exists()
    for relation in migrations.select_related("source", "target"):
        assert relation.source.is_stub
        assert relation.target.reference.startswith("HTG")
    assert Relation.objects.filter(type=RelationType.REPLACES, target__is_stub=True).exists()


def test_every_history_row_belongs_to_a_chained_change(data_set):
    for model in ledger.history_models():
        assert not model.objects.filter(change_set__isnull=True).exists()
    changes = list(ChangeSet.objects.order_by("sequence"))
    for previous, change in zip(changes, changes[1:], strict=False):
        assert change.previous_digest == previous.digest
    assert {change.user.username for change in changes} >= {"system"}
    assert ChangeSet.objects.filter(user__username__startswith="editor").exists()
    assert ChangeSet.objects.filter(user__username__startswith="publisher").exists()


def test_the_generated_history_verifies_against_the_live_rows(data_set):
    output = io.StringIO()
    call_command("verify_history", stdout=output)
    assert "no problems found" in output.getvalue()


def test_changes_take_effect_over_two_years_and_are_recorded_in_order(data_set):
    changes = ChangeSet.objects.exclude(reason="Loaded NICE's programmes").order_by("sequence")
    recorded = list(changes.values_list("created_at", flat=True))
    assert recorded == sorted(recorded)
    simulated = list(
        changes.filter(effective_at__isnull=False)
        .exclude(effective_at=F("created_at"))
        .values_list("effective_at", flat=True)
    )
    assert simulated == sorted(simulated)
    assert simulated[0].year == 2024
    assert len({(t.year, t.month) for t in simulated}) >= 20
    # Each simulated change was recorded after the moment it stands for.
    assert max(simulated) < min(recorded)


def test_a_kept_data_set_is_made_again_when_its_size_changes():
    assert fingerprint(documents=10, history_rows=100) == fingerprint(
        documents=10, history_rows=100
    )
    assert fingerprint(documents=10, history_rows=100) != fingerprint(
        documents=11, history_rows=100
    )


def test_wrk_output_is_read_with_its_errors_and_bad_statuses():
    output = "\n".join(
        [
            "Running 5s test @ http://127.0.0.1:8000/guidance/",
            "  2 threads and 32 connections",
            "  Latency Distribution",
            "     50%  608.85ms",
            "     75%  781.72ms",
            "     90%  929.16ms",
            "     99%    1.01s ",  # wrk pads short values
            "  2500 requests in 5.01s, 145.43KB read",
            "  Socket errors: connect 0, read 2, write 0, timeout 3",
            "  Non-2xx or 3xx responses: 7",
            "Requests/sec:    499.10",
        ]
    )
    measured = parse(output)
    assert measured.requests_per_second == 499.1
    assert measured.p50_ms == 608.85
    assert measured.p99_ms == 1010.0
    assert measured.requests == 2500
    assert measured.errors == 5
    assert measured.bad_status == 7


@pytest.mark.skipif(not cpu.available(), reason="CPU time is read from /proc, which Linux has")
def test_the_cpu_a_server_process_group_uses_is_counted_per_request():
    # A stand-in server in a process group of its own: it does a fixed amount of work, says
    # so, and stays alive (an ended process is no longer counted) until told to go.
    work = "sum(range(20_000_000)); print('done', flush=True); input()"
    server = subprocess.Popen(
        [sys.executable, "-c", work],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        meter = cpu.Meter(server.pid)
        meter.start()
        assert server.stdout.readline() == "done\n"
        used = meter.per_request(requests=10)
    finally:
        server.communicate("")
    assert set(used) == {"server", "postgresql", "redis", "wrk"}
    # Summing 20 million numbers takes well over 100 ms on any machine; shared by 10 requests.
    assert used["server"] > 10


@pytest.mark.skipif(shutil.which("nginx") is None, reason="needs Debian's nginx-light")
def test_the_static_ceiling_serves_the_captured_bytes_with_their_content_type():
    page = "<!doctype html><title>Venoplasty – überblick</title>\n".encode()
    api = b'{"reference": "HTG970"}'
    files = {
        "overview": (page, "text/html; charset=utf-8"),
        "api-detail": (api, "application/json"),
    }
    with frontcache.nginx(files) as (url, _):
        for name, (body, content_type) in files.items():
            with urllib.request.urlopen(f"{url}/{name}", timeout=10) as response:
                assert response.read() == body
                assert response.headers["Content-Type"] == content_type


@pytest.mark.skipif(shutil.which("varnishd") is None, reason="needs Debian's varnish")
def test_the_front_cache_runs_with_the_parameters_of_the_shipped_service_file():
    service = frontcache.SERVICE.read_text()
    assert "-p vsl_mask=-BereqHeader," in service

    with frontcache.varnish("127.0.0.1", 9) as (_, pid):
        command_line = Path(f"/proc/{pid}/cmdline").read_text().rstrip("\0").split("\0")

    assert command_line[-2:] == ["-p", service.split("-p ")[-1].strip()]


def test_the_never_stale_floor_fails_on_a_stale_answer_or_a_page_the_purge_took_too():
    fresh = {"changes": 20, "stale": 0, "hit_before": 20, "miss_after": 20, "kept_hits": 20}
    assert never_stale_floor(fresh)["met"]
    assert not never_stale_floor(fresh | {"stale": 1})["met"]
    assert not never_stale_floor(fresh | {"kept_hits": 19})["met"]
    # A page not held before the change could not have been stale: that proves nothing.
    assert not never_stale_floor(fresh | {"hit_before": 0})["met"]
    assert not never_stale_floor(fresh | {"changes": 0, "hit_before": 0, "kept_hits": 0})["met"]


def test_the_bench_says_how_to_install_what_the_front_cache_rounds_need(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None if name == "nginx" else f"/x/{name}")
    monkeypatch.setattr(frontcache, "xkey_installed", lambda: True)
    monkeypatch.setattr(frontcache.os, "geteuid", lambda: 1000)
    with pytest.raises(
        SystemExit, match="nginx.*sudo apt-get install varnish varnish-modules nginx-light"
    ):
        frontcache.ensure_installed()


def test_a_connection_puts_a_sign_in_off_when_each_of_its_codes_served_this_step():
    work = {
        "accounts": [{"username": f"editor-{n}", "step": 30} for n in range(2)],
        "edition": 1,
        "chapter": 1,
    }
    connection = mixed.Connection("http://127.0.0.1:9", work, {}, seed=1)
    connection.last_step = {f"editor-{n}": int(time.time()) // 30 + 1 for n in range(2)}
    assert connection.sign_in() is False
    assert connection.client.requests == 0


def test_the_mixed_load_floor_is_met_only_without_errors():
    def round_with(errors, verified=True):
        return {
            "connections": 32,
            "total": {"operations": 100, "requests": 150, "errors": errors},
            "sign_in_before": {"operations": 32, "requests": 160, "errors": 0},
            "history": {"verified": verified, "history_rows": 10, "seconds": 0.1},
        }

    assert [floor["met"] for floor in mixed_load_floors(round_with(0))] == [True, True]
    assert [floor["met"] for floor in mixed_load_floors(round_with(1))] == [False, True]
    assert [floor["met"] for floor in mixed_load_floors(round_with(0, False))] == [True, False]
