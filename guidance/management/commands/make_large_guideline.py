"""Build a NICE guideline of real size: 30 chapters, 300 recommendations, 1,200 blocks."""

import datetime

from django.core.management.base import BaseCommand, CommandError

from guidance.history import bulk_create_with_history, recording
from guidance.models import (
    Block,
    Chapter,
    DatePrecision,
    Guidance,
    GuidanceStatus,
    Programme,
    RecommendationCategory,
    chapter_slug,
    split_reference,
)

CHAPTERS = 30
BLOCKS = 1200
# Recommendations 1.1.1 … 1.12.9: five sections of 27, six of 26 and the last of 9.
SECTION_SIZES = [27] * 5 + [26] * 6 + [9]
WORDS = (
    "Offer people with suspected sepsis an assessment of their risk of severe illness and "
    "death, using the criteria in this guideline, and record what was discussed with them."
)


def recommendations_chapter(guidance):
    chapter = Chapter(
        guidance=guidance, position=1, number="1", title="Recommendations", slug="1-recommendations"
    )
    blocks = [(Block.Kind.PARAGRAPH, "", "People have the right to be involved in decisions.")]
    for section, size in enumerate(SECTION_SIZES, start=1):
        blocks.append((Block.Kind.HEADING, "", f"1.{section} Section {section}"))
        for n in range(1, size + 1):
            blocks.append((Block.Kind.RECOMMENDATION, f"1.{section}.{n}", f"{WORDS} ({n})"))
            if n % 9 == 0:
                blocks.append((Block.Kind.PARAGRAPH, "", f"A note on 1.{section}.{n}."))
        blocks.append((Block.Kind.RATIONALE, "", "The committee agreed these recommendations."))
    return chapter, blocks


def build_large_guideline(reference="NG999", *, status=GuidanceStatus.PUBLISHED, user=None):
    """Create the guideline in one recorded change and return it."""
    code, number = split_reference(reference)
    with recording(user=user, reason=f"Built {reference}, a guideline of real size"):
        guidance = Guidance.objects.create(
            reference=reference,
            programme=Programme.objects.get(code=code),
            number=number,
            title="Suspected sepsis: recognition, diagnosis and early management",
            status=status,
            published_on=datetime.date(2016, 7, 13) if status != GuidanceStatus.DRAFT else None,
            published_precision=DatePrecision.DAY,
        )
        chapter, blocks = recommendations_chapter(guidance)
        content = [(chapter, blocks)]
        remaining = BLOCKS - len(blocks)
        for index, chapter_number in enumerate(range(2, CHAPTERS + 1)):
            size = remaining // (CHAPTERS - 1 - index)
            remaining -= size
            blocks = [(Block.Kind.HEADING, "", f"About chapter {chapter_number}")] + [
                (Block.Kind.PARAGRAPH, f"{chapter_number}.{n}", f"{WORDS} [{chapter_number}.{n}]")
                for n in range(1, size)
            ]
            chapter = Chapter(
                guidance=guidance,
                position=chapter_number,
                number=str(chapter_number),
                title=f"Chapter {chapter_number}",
                slug=chapter_slug(str(chapter_number), f"Chapter {chapter_number}"),
            )
            content.append((chapter, blocks))
        chapters = bulk_create_with_history([chapter for chapter, _ in content], Chapter)
        bulk_create_with_history(
            [
                Block(
                    guidance=guidance,
                    chapter=chapter,
                    position=position,
                    kind=kind,
                    number=block_number,
                    text=text,
                    category=RecommendationCategory.OFFER
                    if kind == Block.Kind.RECOMMENDATION
                    else "",
                )
                for chapter, (_, blocks) in zip(chapters, content, strict=True)
                for position, (kind, block_number, text) in enumerate(blocks, start=1)
            ],
            Block,
        )
    return guidance


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("reference", nargs="?", default="NG999")
        parser.add_argument("--draft", action="store_true", help="Make it a new draft.")

    def handle(self, reference, draft, **options):
        if Guidance.objects.filter(reference=reference).exists():
            raise CommandError(f"{reference} already exists.")
        status = GuidanceStatus.DRAFT if draft else GuidanceStatus.PUBLISHED
        guidance = build_large_guideline(reference, status=status)
        self.stdout.write(
            f"{guidance.reference}: {guidance.chapters.count()} chapters, "
            f"{guidance.blocks.filter(kind='recommendation').count()} recommendations, "
            f"{guidance.blocks.count()} blocks."
        )
