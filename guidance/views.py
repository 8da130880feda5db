from django.http import Http404
from django.views.decorators.http import require_GET


@require_GET
def overview(request, reference):
    raise Http404


@require_GET
def chapter(request, reference, slug):
    raise Http404
