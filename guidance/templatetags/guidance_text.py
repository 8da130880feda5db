"""Render the inline markup that block text may carry, safely."""

import html
import re

from django import template
from django.utils.html import conditional_escape, format_html
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


def _paragraphs_html(text):
    return "".join(f"<p>{inline(paragraph)}</p>" for paragraph in paragraphs(text))


def _bullets_html(bullets):
    if not bullets:
        return ""
    return f"<ul>{''.join(f'<li>{inline(bullet)}</li>' for bullet in bullets)}</ul>"


def _block_html(block):
    if block.kind == "heading":
        return f'\n<h3 class="chapter__sub-heading">{inline(block.text)}</h3>\n'
    if block.kind == "rationale":
        title = f'<h3 class="rationale__heading">{inline(block.title)}</h3>' if block.title else ""
        return (
            f'\n<div class="rationale">\n  {title}\n  {_paragraphs_html(block.text)}\n'
            f"  {_bullets_html(block.bullets)}\n</div>\n"
        )
    if block.number:
        kind = " numbered-paragraph--recommendation" if block.kind == "recommendation" else ""
        number = html.escape(block.number)
        number_anchor = html.escape(anchor(block.number))
        return (
            f'\n<div class="numbered-paragraph{kind}" id="{number_anchor}">\n'
            f'  <a class="numbered-paragraph__number" href="#{number_anchor}">{number}</a>\n'
            f'  <div class="numbered-paragraph__body">\n    {_paragraphs_html(block.text)}\n'
            f"    {_bullets_html(block.bullets)}\n  </div>\n</div>\n"
        )
    return f"\n{_paragraphs_html(block.text)}\n{_bullets_html(block.bullets)}\n"


@register.filter
def render_blocks(blocks):
    """The HTML of a chapter's blocks: headings, rationale and (numbered) paragraphs.

    Written in Python rather than as a template loop because a long chapter has hundreds of
    blocks and the loop was most of the time spent rendering a page.
    """
    return mark_safe("".join(f"\n{_block_html(block)}\n" for block in blocks))  # noqa: S308 - every part is escaped
