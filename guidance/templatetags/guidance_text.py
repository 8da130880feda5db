"""Render the inline markup that block text may carry, safely."""

import re

from django import template
from django.utils.html import conditional_escape, format_html
from django.utils.safestring import mark_safe

register = template.Library()

LINK = re.compile(r"\[([^\[\]]+)\]\(([^()\s]*)\)")
SAFE_URL = re.compile(r"^(https?://[^\s]+|/(?!/)[^\s]*|[A-Za-z0-9][^\s:]*)$")


def _link(text, url):
    # A '#' link is a placeholder left by PDF conversion: keep the words, drop the link.
    if url and not url.startswith("#") and SAFE_URL.match(url):
        return format_html('<a href="{}">{}</a>', url, text)
    return conditional_escape(text)


@register.filter
def inline(value):
    """Escape text, turning [text](url) into a link when the url is http(s) or relative."""
    value = str(value or "")
    parts = []
    position = 0
    for match in LINK.finditer(value):
        parts.append(conditional_escape(value[position : match.start()]))
        parts.append(_link(match.group(1), match.group(2)))
        position = match.end()
    parts.append(conditional_escape(value[position:]))
    return mark_safe("".join(parts))  # noqa: S308 - every part is escaped above


@register.filter
def paragraphs(value):
    """Split text on blank lines."""
    return [part.strip() for part in str(value or "").split("\n\n") if part.strip()]


@register.filter
def anchor(number):
    """A valid, linkable id for a numbered paragraph: '2.4' stays '2.4'."""
    return re.sub(r"\s+", "-", str(number).strip())
