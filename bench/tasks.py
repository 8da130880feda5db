"""The parts of a benchmark run that work inside Django, each run in its own process.

    python -m bench.tasks build --documents N --history-rows N    generate the data set
    python -m bench.tasks migrate                                  bring a kept one up to date
    python -m bench.tasks prepare                                  pick URLs, sign in an auditor
    python -m bench.tasks workflows                                time import, bulk migration,
                                                                   verify_history
    python -m bench.tasks forget-pages                             empty the page cache
    python -m bench.tasks change-documents --count N --skip N      commit a change to N documents
    python -m bench.tasks wait-for-worker                          wait for the background worker
    python -m bench.tasks retitle --reference REF                  commit a change to a document's
                                                                   title for each line read
    python -m bench.tasks prepare-mixed --clients N                editors, their authenticators
                                                                   and draft editions, and the
                                                                   pages of the mixed load round
    python -m bench.tasks verify-history                           verify the history, timed

The database is the one DATABASE_URL names; each prints one JSON object on its last line.
"""

import argparse
import datetime
import io
import json
import os
import random
import re
import sys
import time
from pathlib import Path

from bench.editor import time_editor

SAMPLES = Path(__file__).resolve().parent.parent / "guidance" / "samples"


def build(arguments):
    from django.core.management import call_command  # noqa: PLC0415
    from django.db import connection  # noqa: PLC0415

    from bench.generate import generate  # noqa: PLC0415

    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    migrated = time.perf_counter() - started
    # SQLite lets one writer in at a time, so only PostgreSQL gains from more processes.
    processes = os.cpu_count() or 1 if connection.vendor == "postgresql" else 1
    result = generate(
        documents=arguments.documents,
        history_rows=arguments.history_rows,
        log=lambda line: print(line, file=sys.stderr, flush=True),
        processes=processes,
    )
    return {
        "documents": result.documents,
        "stubs": result.stubs,
        "change_sets": result.change_sets,
        "history_rows": result.history_rows,
        "migrated_during_generation": result.migrated,
        "seconds": round(result.seconds + migrated, 1),
        "processes": processes,
        "phases": {"migrate": round(migrated, 1), **result.phases},
    }


def migrate(arguments):
    from django.core.management import call_command  # noqa: PLC0415

    output = io.StringIO()
    call_command("migrate", stdout=output)
    applied = [line.strip() for line in output.getvalue().splitlines() if "Applying" in line]
    return {"applied": applied}


def prepare(arguments):
    """Choose what each scenario requests, and sign in an auditor for the history pages."""

    from django.conf import settings  # noqa: PLC0415
    from django.core.management import call_command  # noqa: PLC0415
    from django.db.models import Count  # noqa: PLC0415
    from django.db.models.functions import TruncMonth  # noqa: PLC0415
    from django.test import Client  # noqa: PLC0415
    from django.urls import reverse  # noqa: PLC0415
    from django_tasks_db.models import DBTaskResult  # noqa: PLC0415

    from guidance.models import Block, ChangeSet, Guidance, Relation, RelationType  # noqa: PLC0415

    # Generating the data set queued a re-render for each change: none is wanted here.
    DBTaskResult.objects.all().delete()
    call_command("createcachetable")  # the page cache's table, when no Redis is given
    documents = Guidance.objects.documents().published()
    sizes = sorted(
        documents.annotate(size=Count("blocks")).values_list("size", "reference"),
    )
    # A document of median size, one that was migrated (so its old reference redirects).
    migrated = set(
        Relation.objects.filter(type=RelationType.MIGRATED_TO).values_list(
            "target__reference", flat=True
        )
    )
    candidates = [(size, ref) for size, ref in sizes if ref in migrated] or sizes
    size, reference = candidates[len(candidates) // 2]
    document = Guidance.objects.get(reference=reference)
    former = (
        Relation.objects.filter(type=RelationType.MIGRATED_TO, target=document)
        .values_list("source__reference", flat=True)
        .first()
    )
    chapter = document.chapters.annotate(size=Count("blocks")).order_by("-size", "position").first()
    # The editor with the most changes in one month, and that month.
    busiest = (
        ChangeSet.objects.exclude(user__username="system")
        .annotate(month=TruncMonth("effective_at"))
        .values("user__username", "month")
        .annotate(changes=Count("id"))
        .order_by("-changes")
        .first()
    )
    month = busiest["month"].date()
    next_month = (month.replace(day=28) + datetime.timedelta(days=4)).replace(day=1)
    last_day = next_month - datetime.timedelta(days=1)

    auditor = _auditor()
    client = Client()
    client.force_login(auditor)
    pass_second_factor(client, auditor)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value

    paths = [
        reverse("guidance:overview", args=[ref.lower()])
        for ref in documents.values_list("reference", flat=True)
    ]
    random.Random(7).shuffle(paths)
    word = "fibrillation"
    return {
        "document": {
            "reference": reference,
            "blocks": size,
            "history_rows": Block.history.filter(guidance_id=document.id).count(),
        },
        "overview": reverse("guidance:overview", args=[reference.lower()]),
        "chapter": reverse("guidance:chapter", args=[reference.lower(), chapter.slug]),
        "api_detail": reverse("api:guidance", args=[reference]),
        "former_reference": reverse("guidance:overview", args=[former.lower()]) if former else "",
        "search": reverse("guidance:list") + f"?q={word}",
        "search_matches": documents.search(word).count(),
        "timeline": reverse("audit:timeline", args=[reference.lower()]),
        "audit_log": reverse("audit:log")
        + f"?user={busiest['user__username']}&start={month:%Y-%m-%d}&end={last_day:%Y-%m-%d}",
        "audit_log_changes": busiest["changes"],
        "session_cookie": f"{settings.SESSION_COOKIE_NAME}={session}",
        "uncached_paths": paths,
    }


def _auditor():
    from django.contrib.auth import get_user_model  # noqa: PLC0415
    from django.contrib.auth.models import Group  # noqa: PLC0415

    user, _ = get_user_model().objects.get_or_create(
        username="bench-auditor", defaults={"first_name": "Benchmark", "last_name": "Auditor"}
    )
    user.groups.add(Group.objects.get(name="Auditors"))
    return user


def pass_second_factor(client, user):
    """Mark the session past the second factor, as django-otp's login() does."""
    from django_otp import DEVICE_ID_SESSION_KEY  # noqa: PLC0415
    from django_otp.plugins.otp_static.models import StaticDevice  # noqa: PLC0415

    device, _ = StaticDevice.objects.get_or_create(
        user=user, name="Benchmark", defaults={"confirmed": True}
    )
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()


def workflows(arguments):
    return {
        "import": time_import(arguments.import_copies),
        "bulk_migration": time_bulk_migration(arguments.migrate),
        "verify_history": time_verify_history(),
        "editor": time_editor(),
    }


def renumbered(text, mapping):
    """The sample with every reference it names moved to a fresh number."""
    references = re.compile(r"(?i)\b(htg|ipg|mtg)(\d+)\b")
    long_forms = re.compile(r"(?i)\b(guidance|procedure guidance) (\d+)\b")
    text = references.sub(lambda m: m.group(1) + mapping[m.group(2)], text)
    return long_forms.sub(lambda m: f"{m.group(1)} {mapping[m.group(2)]}", text)


def time_import(copies):
    """Import the shipped samples again and again under fresh references."""
    from guidance.interchange.importers import import_guidance_text  # noqa: PLC0415

    samples = sorted(p for p in SAMPLES.iterdir() if p.suffix in {".txt", ".md"})
    samples = [p for p in samples if p.name != "README.md"]
    numbers = re.compile(r"(?i)\b(?:htg|ipg|mtg)(\d+)\b|\b(?:guidance|procedure guidance) (\d+)\b")
    fresh = iter(range(30000, 999999))
    texts = []
    for copy in range(copies):
        for path in samples:
            text = path.read_text(encoding="utf-8")
            mapping = {}
            for match in numbers.finditer(text):
                mapping.setdefault(match.group(1) or match.group(2), str(next(fresh)))
            texts.append((f"{path.stem}-copy{copy}{path.suffix}", renumbered(text, mapping)))
    errors = []
    started = time.perf_counter()
    for name, text in texts:
        result = import_guidance_text(text, path=name)
        if result.error:
            errors.append(str(result.error))
    seconds = time.perf_counter() - started
    return {
        "documents": len(texts),
        "seconds": round(seconds, 2),
        "documents_per_second": round(len(texts) / seconds, 1),
        "errors": errors[:5],
        "error_count": len(errors),
    }


def time_bulk_migration(rows):
    """Migrate documents not yet migrated to fresh HealthTech numbers from one CSV file."""
    from guidance.editorial import services  # noqa: PLC0415
    from guidance.history import system_user  # noqa: PLC0415
    from guidance.models import Guidance  # noqa: PLC0415

    olds = list(
        Guidance.objects.documents()
        .filter(programme__code="IPG", status="published")
        .order_by("-number")
        .values_list("reference", flat=True)[:rows]
    )
    csv_text = "old reference,new reference,month\n" + "".join(
        f"{old},HTG{80000 + n},2026-02\n" for n, old in enumerate(olds)
    )
    started = time.perf_counter()
    plan = services.plan_bulk_migration(csv_text)
    previewed = time.perf_counter() - started
    started = time.perf_counter()
    services.apply_bulk_migration(
        csv_text=csv_text, user=system_user(), reason="Benchmark: bulk HealthTech migration"
    )
    applied = time.perf_counter() - started
    return {
        "rows": len(olds),
        "problems": len(plan.problems),
        "preview_seconds": round(previewed, 2),
        "seconds": round(applied, 2),
    }


def time_verify_history():
    from django.core.management import call_command  # noqa: PLC0415

    from bench.generate import history_row_count  # noqa: PLC0415

    rows = history_row_count()
    output = io.StringIO()
    started = time.perf_counter()
    try:
        call_command("verify_history", stdout=output, stderr=output)
        verified = True
    except Exception as error:  # noqa: BLE001 - the report says what failed
        output.write(f"\n{error}")
        verified = False
    seconds = time.perf_counter() - started
    return {
        "history_rows": rows,
        "seconds": round(seconds, 1),
        "rows_per_second": round(rows / seconds),
        "verified": verified,
        "output": output.getvalue().strip().splitlines()[-3:],
    }


def forget_pages(arguments):
    """Empty the page cache, which every server process shares."""
    from django.core.cache import cache  # noqa: PLC0415

    cache.clear()
    return {"forgotten": True}


def change_documents(arguments):
    """Commit a change to each of --count documents (after the first --skip), one change each as
    an editor saves them, and list their overviews."""
    from django.contrib.auth import get_user_model  # noqa: PLC0415

    from guidance.history import recording  # noqa: PLC0415
    from guidance.models import Guidance  # noqa: PLC0415

    editor = get_user_model().objects.exclude(username="system").order_by("pk").first()
    documents = Guidance.objects.documents().published().order_by("reference")
    chosen = documents[arguments.skip : arguments.skip + arguments.count]
    started = time.perf_counter()
    for document in chosen:
        with recording(user=editor, reason="Corrected the title"):
            document.title = document.title.removesuffix(" (corrected)") + " (corrected)"
            document.save(update_fields=["title"])
    return {
        "paths": [document.get_absolute_url() for document in chosen],
        "seconds": round(time.perf_counter() - started, 1),
    }


def retitle(arguments):
    """Commit a change to one document's title, as an editor saves it, for each line read from
    standard input; print each new title as soon as it has committed (the commit's purges made)."""
    from django.contrib.auth import get_user_model  # noqa: PLC0415

    from guidance.history import recording  # noqa: PLC0415
    from guidance.models import Guidance  # noqa: PLC0415

    editor = get_user_model().objects.exclude(username="system").order_by("pk").first()
    document = Guidance.objects.documents().get(reference=arguments.reference)
    title = document.title
    changes = 0
    for _ in sys.stdin:
        changes += 1
        with recording(user=editor, reason="Corrected the title"):
            document.title = f"{title} (correction {changes})"
            document.save(update_fields=["title"])
        print(json.dumps({"title": document.title}), flush=True)
    return {"changes": changes}


def wait_for_worker(arguments):
    """Wait until the background worker has run every task that is due; say how long it took."""
    from django_tasks_db.models import DBTaskResult  # noqa: PLC0415

    started = time.perf_counter()
    while DBTaskResult.objects.ready().exists() or DBTaskResult.objects.running().exists():
        if time.perf_counter() - started > arguments.timeout:
            raise SystemExit(f"The background worker did not finish in {arguments.timeout} s")
        time.sleep(0.1)
    return {"seconds": round(time.perf_counter() - started, 1)}


MIXED_PASSWORD = "mixed-load bench password, not a real one"


def prepare_mixed(arguments):
    """What the mixed load round needs: for each of its connections some editors, each with one
    authenticator (a TOTP code is accepted once per device and time step, and a second device
    of the same user would count the other's codes as failures), a draft edition of a published
    document of its own (its saves never meet another connection's) with a chapter that has a
    paragraph on its first page, and the public pages the round reads."""
    from django.contrib.auth import get_user_model  # noqa: PLC0415
    from django.contrib.auth.hashers import make_password  # noqa: PLC0415
    from django.contrib.auth.models import Group  # noqa: PLC0415
    from django.urls import reverse  # noqa: PLC0415
    from django_otp.plugins.otp_totp.models import TOTPDevice  # noqa: PLC0415

    from guidance import editions  # noqa: PLC0415
    from guidance.editorial.services import chapter_parts  # noqa: PLC0415
    from guidance.history import recording, system_user  # noqa: PLC0415
    from guidance.models import (  # noqa: PLC0415
        Block,
        Guidance,
        GuidanceStatus,
        Relation,
        RelationType,
    )

    # One hash for every account: hashing is slow on purpose, and each sign-in pays it anyway.
    password = make_password(MIXED_PASSWORD)
    editors = Group.objects.get(name="Editors")
    # IPGs are left to the bulk migration the workflows time afterwards.
    candidates = iter(
        Guidance.objects.documents()
        .filter(status=GuidanceStatus.PUBLISHED)
        .exclude(programme__code="IPG")
        .order_by("-reference")[: arguments.clients * 4 + 20]
    )
    clients = []
    with recording(user=system_user(), reason="Benchmark: editors for the mixed load round"):
        for number in range(arguments.clients):
            accounts = []
            for index in range(arguments.accounts_per_client):
                user, _ = get_user_model().objects.update_or_create(
                    username=f"bench-mixed-{number:03d}-{index}",
                    defaults={"password": password, "is_staff": True, "is_active": True},
                )
                user.groups.set([editors])
                TOTPDevice.objects.filter(user=user).delete()
                device = TOTPDevice.objects.create(user=user, name="Benchmark authenticator")
                accounts.append(
                    {
                        "username": user.username,
                        "password": MIXED_PASSWORD,
                        "key": device.key,
                        "step": device.step,
                        "digits": device.digits,
                    }
                )
            clients.append({"accounts": accounts})
    for client in clients:
        editor = get_user_model().objects.get(username=client["accounts"][0]["username"])
        for document in candidates:
            chapter = next(
                (
                    chapter
                    for chapter in document.chapters.order_by("position")
                    if any(b.kind == Block.Kind.PARAGRAPH for b in chapter_parts(chapter)[0])
                ),
                None,
            )
            if chapter is None:
                continue
            edition = editions.start_edition(
                document=document, user=editor, reason="Benchmark: a draft edition to edit"
            )
            client["edition"] = edition.pk
            client["chapter"] = edition.chapters.get(key=chapter.key).pk
            client["reference"] = document.reference
            break
        else:
            raise SystemExit("Too few published documents with a paragraph for every connection")

    # Published, not withdrawn: a withdrawn document's chapters lead to its overview.
    documents = Guidance.objects.documents().filter(status=GuidanceStatus.PUBLISHED)
    sample = list(documents.order_by("?").values_list("reference", "title")[:300])
    chapters = [
        reverse("guidance:chapter", args=[reference.lower(), slug])
        for reference, slug in documents.filter(
            reference__in=[reference for reference, _ in sample[:100]]
        ).values_list("reference", "chapters__slug")
        if slug
    ]
    former = Relation.objects.filter(type=RelationType.MIGRATED_TO).values_list(
        "source__reference", flat=True
    )[:50]
    return {
        "clients": clients,
        "overviews": [reverse("guidance:overview", args=[ref.lower()]) for ref, _ in sample],
        "chapters": chapters,
        "former_references": [reverse("guidance:overview", args=[ref.lower()]) for ref in former],
        "feed": reverse("guidance:feed"),
        "sitemap": reverse("guidance:sitemap"),
        "search": reverse("guidance:list"),
        "titles": [title for _, title in sample],
    }


def verify_history(arguments):
    return time_verify_history()


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.tasks")
    commands = parser.add_subparsers(dest="command", required=True)
    build_parser = commands.add_parser("build")
    build_parser.add_argument("--documents", type=int, default=10_000)
    build_parser.add_argument("--history-rows", type=int, default=1_000_000)
    commands.add_parser("migrate")
    commands.add_parser("prepare")
    commands.add_parser("forget-pages")
    change_parser = commands.add_parser("change-documents")
    change_parser.add_argument("--count", type=int, default=128)
    change_parser.add_argument("--skip", type=int, default=0)
    wait_parser = commands.add_parser("wait-for-worker")
    wait_parser.add_argument("--timeout", type=int, default=300)
    retitle_parser = commands.add_parser("retitle")
    retitle_parser.add_argument("--reference", required=True)
    mixed_parser = commands.add_parser("prepare-mixed")
    mixed_parser.add_argument("--clients", type=int, default=32)
    mixed_parser.add_argument("--accounts-per-client", type=int, default=3)
    commands.add_parser("verify-history")
    workflow_parser = commands.add_parser("workflows")
    workflow_parser.add_argument("--import-copies", type=int, default=100)
    workflow_parser.add_argument("--migrate", type=int, default=1000)
    arguments = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django  # noqa: PLC0415

    django.setup()
    commands = {
        "build": build,
        "migrate": migrate,
        "prepare": prepare,
        "workflows": workflows,
        "forget-pages": forget_pages,
        "change-documents": change_documents,
        "wait-for-worker": wait_for_worker,
        "retitle": retitle,
        "prepare-mixed": prepare_mixed,
        "verify-history": verify_history,
    }
    result = commands[arguments.command](arguments)
    print(json.dumps(result, default=str))


if __name__ == "__main__":
    main()
