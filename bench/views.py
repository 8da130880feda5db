"""The ceilings: what a page of the same size costs without the product's own work.

Both read a page the product served at the start of the run (bench/out/pages/<name>.html)
to know the size to match. ``precomputed`` returns those bytes as they are: the cost of the
server, the middleware and Django's request handling alone. ``template_only`` renders a
template extending the same base template to the same size from data held in memory: that
cost plus template rendering, with no database.

``overview_from_memory`` is no ceiling of the issue but says where an uncached overview's time
goes: the product's own overview template, rendered from records read once at the start.
``overview_from_memory_and_round_trips`` adds the round trips an uncached page makes, with none
of their work: the smallest query there is, the read of its document's page-cache token
(made, as after a purge) and the store of the page.
"""

import functools
import itertools
import uuid

from django.db import connection
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.template.loader import get_template
from django.views.decorators.http import require_GET

from .database import OUT

PAGES = OUT / "pages"
SENTENCE = (
    "The committee considered the evidence on the safety and efficacy of the procedure, "
    "and the views of specialist advisers and patient organisations. "
)


@functools.cache
def captured_page(name):
    path = PAGES / f"{name}.html"
    if not path.is_file():
        raise Http404(f"No captured page {name!r}: the run captures it before measuring.")
    return path.read_bytes()


def _context(paragraphs):
    return {
        "title": "Percutaneous venoplasty for chronic cerebrospinal venous insufficiency",
        "sections": [
            {
                "number": f"{n // 4 + 1}.{n % 4 + 1}",
                "heading": f"Section {n // 4 + 1}" if n % 4 == 0 else "",
                "text": SENTENCE * 3,
                "bullets": ["first point to note", "second point to note"] if n % 3 == 0 else [],
            }
            for n in range(paragraphs)
        ],
    }


@functools.cache
def matching_context(name):
    """A context that renders to the size of the captured page."""
    template = get_template("bench/template_only.html")
    target = len(captured_page(name))
    empty = len(template.render(_context(0)).encode())
    each = (len(template.render(_context(20)).encode()) - empty) / 20
    return _context(max(0, round((target - empty) / each)))


@require_GET
def precomputed(request, name):
    return HttpResponse(captured_page(name), content_type="text/html; charset=utf-8")


@require_GET
def template_only(request, name):
    template = get_template("bench/template_only.html")
    return HttpResponse(template.render(matching_context(name), request))


@functools.cache
def overview_contexts(count=100):
    """What the overviews of the first documents the uncached round requests show, read once."""
    from guidance.models import Guidance  # noqa: PLC0415
    from guidance.public.views import overview_context  # noqa: PLC0415

    contexts = []
    for path in (OUT / "uncached-paths.txt").read_text().split()[:count]:
        record, _ = Guidance.objects.resolve(path.split("/")[2])
        context = overview_context(record)
        context["endorsements"] = list(context["endorsements"])
        contexts.append(context)
    return contexts


next_context = itertools.count()


@require_GET
def overview_from_memory(request):
    contexts = overview_contexts()
    return render(request, "guidance/overview.html", contexts[next(next_context) % len(contexts)])


@require_GET
def overview_from_memory_and_round_trips(request):
    from guidance.public.page_cache import keep, read  # noqa: PLC0415
    from guidance.public.page_cache.middleware import stored  # noqa: PLC0415
    from guidance.public.page_cache.tokens import document_token  # noqa: PLC0415

    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    key = f"bench:page:{uuid.uuid4().hex}"
    versions, _ = read([document_token(uuid.uuid4().hex)], key)
    response = overview_from_memory(request)
    keep(key, versions, stored(response), timeout=60)
    return response
