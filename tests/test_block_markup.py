"""Chapter text is rendered by a template with autoescape: markup in the text stays text, and
only links to http(s), mailto or a path on this site become links."""

import re

import pytest

from guidance.models import Block
from tests.factories import make_chapter, make_guidance

pytestmark = pytest.mark.django_db


def chapter_html(client, blocks):
    make_chapter(make_guidance("HTG508"), blocks=blocks)
    return client.get("/guidance/htg508/chapter/1-recommendations/").content.decode()


@pytest.mark.parametrize(
    ("url", "linked"),
    [
        ("https://www.nice.org.uk/guidance/ng220", True),
        ("http://example.org/a?b=1", True),
        ("mailto:nice@nice.org.uk", True),
        ("/guidance/htg501/", True),
        ("//evil.example/", False),
        ("/\\evil.example", False),
        ("javascript:alert(1)", False),
        ("JaVaScRiPt:alert(1)", False),
        ("data:text/html,hi", False),
        ("evil.example/page", False),
        ("#", False),
    ],
)
def test_only_safe_links_become_links(client, url, linked):
    html = chapter_html(client, [("recommendation", "1.1", f"See [the words]({url}) here.")])
    paragraph = re.search(r'id="1\.1".*?</div>\s*</div>', html, re.S).group(0)
    assert "the words" in paragraph
    assert ("<a href=" in paragraph.replace('<a class="numbered-paragraph__number"', "")) is linked


def test_every_kind_of_block_escapes_its_text(client):
    html = chapter_html(
        client,
        [
            (Block.Kind.HEADING, "", "<script>alert('heading')</script>"),
            (Block.Kind.PARAGRAPH, '2"><b>', "First <i>part</i>.\n\nSecond part."),
            (Block.Kind.RECOMMENDATION, "1.1", "Use <img src=x onerror=alert(1)>."),
            (Block.Kind.PARAGRAPH, "", "Unnumbered & plain."),
        ],
    )
    assert "<script>" not in html and "<img" not in html and "<i>" not in html
    assert '<h3 class="chapter__sub-heading">&lt;script&gt;' in html
    assert 'id="2&quot;&gt;&lt;b&gt;"' in html
    assert "<p>First &lt;i&gt;part&lt;/i&gt;.</p><p>Second part.</p>" in html
    assert "<p>Unnumbered &amp; plain.</p>" in html


def test_rationale_and_bullets_keep_their_structure(client, as_editor):
    guidance = make_guidance("HTG509")
    chapter = make_chapter(guidance, blocks=[("recommendation", "1.1", "Offer it.")])
    with as_editor():
        block = chapter.blocks.get()
        block.bullets = ["first <b>", "second"]
        block.save()
        Block.objects.create(
            guidance=guidance,
            chapter=chapter,
            position=2,
            kind=Block.Kind.RATIONALE,
            title="Why the committee made <these>",
            text="Because.",
        )
    html = client.get("/guidance/htg509/chapter/1-recommendations/").content.decode()
    assert "<ul><li>first &lt;b&gt;</li><li>second</li></ul>" in html
    assert '<h3 class="rationale__heading">Why the committee made &lt;these&gt;</h3>' in html
    assert 'class="numbered-paragraph numbered-paragraph--recommendation" id="1.1"' in html
