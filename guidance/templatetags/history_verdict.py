from django import template

from ..verification import latest_verdict

register = template.Library()

_UNREAD = object()


@register.inclusion_tag("audit/verdict.html", takes_context=True)
def history_verdict(context):
    """The latest verification's verdict: a warning on every page while it is a failure."""
    # The history area's page cache reads it first, for its key: read it once a request.
    request = context.get("request")
    verdict = getattr(request, "history_verdict", _UNREAD)
    if verdict is _UNREAD:
        verdict = latest_verdict()
    return {"verdict": verdict}
