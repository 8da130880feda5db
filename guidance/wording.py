"""Word-level differences between two texts, for the audit area and the editors' review."""

import difflib
import re

from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe

TOKENS = re.compile(r"\S+")


def _merged_hunks(opcodes, gap=2):
    # Changes a word or two apart read as one: 'should not be used' → 'should only be used …'.
    hunks = []
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            continue
        if hunks and i1 - hunks[-1][1] <= gap and j1 - hunks[-1][3] <= gap:
            hunks[-1] = (hunks[-1][0], i2, hunks[-1][2], j2)
        else:
            hunks.append((i1, i2, j1, j2))
    return hunks


def word_diff(old, new):
    """Return (html with <del>/<ins> around removed/added words, [(old phrase, new phrase)])."""
    old_words, new_words = TOKENS.findall(old or ""), TOKENS.findall(new or "")
    matcher = difflib.SequenceMatcher(None, old_words, new_words, autojunk=False)
    opcodes = matcher.get_opcodes()
    html = []
    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            html.append(escape(" ".join(old_words[i1:i2])))
            continue
        if i2 > i1:
            html.append(format_html("<del>{}</del>", " ".join(old_words[i1:i2])))
        if j2 > j1:
            html.append(format_html("<ins>{}</ins>", " ".join(new_words[j1:j2])))
    phrases = []
    for i1, i2, j1, j2 in _merged_hunks(opcodes):
        # One word of context before, so that a phrase reads in place.
        context = 1 if i1 > 0 and j1 > 0 else 0
        phrases.append(
            (" ".join(old_words[i1 - context : i2]), " ".join(new_words[j1 - context : j2]))
        )
    return mark_safe(" ".join(html)), phrases  # noqa: S308 - every part is escaped above
