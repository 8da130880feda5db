"""The ceilings: what a page of the same size costs without the product's own work.

Both read a page the product served at the start of the run (bench/out/pages/<name>.html)
to know the size to match. ``precomputed`` returns those bytes as they are: the cost of the
server, the middleware and Django's request handling alone. ``template_only`` renders a
template extending the same base template to the same size from data held in memory: that
cost plus template rendering, with no database.
"""

import functools
from pathlib import Path

from django.http import Http404, HttpResponse
from django.template.loader import get_template
from django.views.decorators.http import require_GET

PAGES = Path(__file__).resolve().parent / "out" / "pages"
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
