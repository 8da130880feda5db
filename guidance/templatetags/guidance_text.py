"""Render the inline markup that block text may carry, safely."""

import html
import re

from django import template
from django.utils.html import conditional_escape, format_html, format_html_join
from django.utils.safestring import mark_safe

register = template.Library()

LINK = re.compile(r"\[([^\[\]]+)\]\(([^()\s]*)\)")
# http(s), mailto, or a path on this site: one '/' not followed by '/' or a backslash, which
# browsers read as the start of another host.
SAFE_URL = re.compile(r"^(https?://\S+|mailto:\S+|/(?![/\\])\S*)$", re.IGNORECASE)


def _link(text, url):
    # A '#' link is a placeholder left by PDF conversion: keep the words, drop the link.
    if url and not url.startswith("#") and SAFE_URL.match(url):
        return format_html('<a href="{}">{}</a>', url, text)
    return conditional_escape(text)


@register.filter
def inline(value):
    """Escape text, linking [text](url) when the url is http(s), mailto or on this site."""
    value = str(value or "")
    # html.escape() is what escape() does, without its check for lazy arguments: this runs for
    # every paragraph and bullet of a page, and most have no link.
    if "](" not in value:
        return mark_safe(html.escape(value))  # noqa: S308 - escaped
    parts = []
    position = 0
    for match in LINK.finditer(value):
        parts.append(html.escape(value[position : match.start()]))
        parts.append(_link(match.group(1), match.group(2)))
        position = match.end()
    parts.append(html.escape(value[position:]))
    return mark_safe("".join(parts))  # noqa: S308 - every part is escaped above


@register.filter
def paragraphs(value):
    """Split text on blank lines."""
    return [part.strip() for part in str(value or "").split("\n\n") if part.strip()]


@register.filter
def anchor(number):
    """A valid, linkable id for a numbered paragraph: '2.4' stays '2.4'."""
    return "-".join(str(number).split())


@register.filter
def heading_tag(block):
    """h3 for a heading directly under the chapter's h2, h4 under that, and so on."""
    return f"h{min(6, 2 + (block.level or 1))}"


@register.filter
def as_paragraphs(value):
    """Text as <p> paragraphs, split on blank lines, each with its inline markup."""
    return format_html_join("", "<p>{}</p>", ((inline(part),) for part in paragraphs(value)))


@register.filter
def as_list(items):
    """A bullet list, each item with its inline markup; nothing for no items."""
    if not items:
        return ""
    return format_html(
        "<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((inline(i),) for i in items))
    )
