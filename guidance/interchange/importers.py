"""Import NICE guidance documents from their published text (Markdown-like, as converted
from NICE's pages and PDFs) into the model.

``parse_document`` turns text into a ``ParsedDocument`` and never touches the database
except to read programmes; ``import_guidance_file`` writes one parsed document in one
audited transaction and records only what differs from what is stored.
"""

import calendar
import datetime
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction

from ..history import bulk_create_with_history, recording, set_change_guidance
from ..models import (
    Block,
    ChangeKind,
    ChangeSet,
    Chapter,
    DatePrecision,
    Endorsement,
    Guidance,
    GuidanceStatus,
    MalformedReference,
    Organisation,
    Programme,
    RecommendationCategory,
    Relation,
    RelationType,
    ResponsibilityStatement,
    UpdateEntry,
    chapter_slug,
    is_recommendations_title,
    normalise_reference,
    split_reference,
)


class InvalidDocument(ValueError):
    """The text is not a guidance document we can read; says where and what was expected."""

    def __init__(self, message, line=None, path=None):
        self.message = message
        self.line = line
        self.path = path
        super().__init__(str(self))

    def __str__(self):
        where = str(self.path or "<text>")
        if self.line:
            where += f", line {self.line}"
        return f"{where}: {self.message}"


# ---------------------------------------------------------------------------------------
# Parsed form


@dataclass
class ParsedBlock:
    kind: str
    line: int
    number: str = ""
    title: str = ""
    text: str = ""
    bullets: list = field(default_factory=list)
    category: str = ""


@dataclass
class ParsedChapter:
    number: str
    title: str
    line: int
    level: int
    blocks: list = field(default_factory=list)

    @property
    def slug(self):
        return chapter_slug(self.number, self.title)


@dataclass
class ParsedUpdate:
    date: datetime.date
    precision: str
    kind: str
    text: str
    line: int


@dataclass
class ParsedRelation:
    source: str
    type: str
    target: str
    line: int
    effective_on: datetime.date | None = None
    effective_precision: str = DatePrecision.MONTH
    note: str = ""


@dataclass
class ParsedDocument:
    reference: str = ""
    title: str = ""
    summary: str = ""
    programme_name: str = ""
    status: str = GuidanceStatus.PUBLISHED
    status_explanation: str = ""
    published_on: datetime.date | None = None
    published_precision: str = DatePrecision.DAY
    last_updated_on: datetime.date | None = None
    last_updated_precision: str = DatePrecision.MONTH
    isbn: str = ""
    responsibility: list = field(default_factory=list)
    chapters: list = field(default_factory=list)
    updates: list = field(default_factory=list)
    minor_changes_heading: str = ""
    endorsements: list = field(default_factory=list)  # (organisation, statement)
    relations: list = field(default_factory=list)

    @property
    def is_stub(self):
        return not self.chapters and not self.title

    @property
    def referenced(self):
        """Every other reference the document names."""
        refs = {r.source for r in self.relations} | {r.target for r in self.relations}
        refs.discard(self.reference)
        return sorted(refs)


# ---------------------------------------------------------------------------------------
# Reading text into elements


@dataclass
class Element:
    kind: str  # "heading", "item" or "text"
    text: str
    line: int
    level: int = 0


HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
BULLET = re.compile(r"^\s*[-*•]\s+(.*)$")
COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def strip_comments(text):
    """Remove HTML comments but keep their line breaks, so that line numbers stay true."""
    return COMMENT.sub(lambda match: "\n" * match.group(0).count("\n"), text)


def read_elements(text):
    elements = []
    paragraph = []  # (line number, text)

    def flush():
        if paragraph:
            # A table keeps its rows; any other paragraph is one line of text.
            joiner = "\n" if all(part.startswith("|") for _, part in paragraph) else " "
            elements.append(
                Element("text", joiner.join(part for _, part in paragraph), paragraph[0][0])
            )
            paragraph.clear()

    previous_was_item = False
    for number, raw in enumerate(strip_comments(text).splitlines(), start=1):
        line = raw.strip()
        if not line:
            flush()
            previous_was_item = False
            continue
        if heading := HEADING.match(line):
            flush()
            elements.append(
                Element("heading", heading.group(2).strip(), number, len(heading.group(1)))
            )
            previous_was_item = False
        elif bullet := BULLET.match(raw):
            flush()
            elements.append(Element("item", bullet.group(1).strip(), number))
            previous_was_item = True
        elif previous_was_item:
            elements[-1].text += " " + line  # a wrapped list item
        else:
            paragraph.append((number, line))
            if raw.endswith("  "):  # Markdown hard line break
                flush()
    flush()
    return elements


# ---------------------------------------------------------------------------------------
# Dates, references, categories

MONTHS = {name.lower(): index for index, name in enumerate(calendar.month_name) if name}
MONTHS.update({name.lower(): index for index, name in enumerate(calendar.month_abbr) if name})
DATE_TEXT = r"(?:\d{1,2}\s+)?[A-Za-z]+\s+\d{4}|\d{4}"


def parse_date(text, line):
    """Parse '30 January 2019', 'January 2019' or '2019', keeping the precision."""
    value = text.strip().rstrip(".").strip()
    parts = value.split()
    try:
        if len(parts) == 3:
            day, month, year = int(parts[0]), MONTHS[parts[1].lower()], int(parts[2])
            return datetime.date(year, month, day), DatePrecision.DAY
        if len(parts) == 2:
            return datetime.date(int(parts[1]), MONTHS[parts[0].lower()], 1), DatePrecision.MONTH
        if len(parts) == 1 and len(value) == 4:
            return datetime.date(int(value), 1, 1), DatePrecision.YEAR
    except (KeyError, ValueError):
        pass
    raise InvalidDocument(
        f"{value!r} is not a date (expected e.g. '30 January 2019' or 'January 2019')", line
    )


def _normalise_words(text):
    words = re.sub(r"[^a-z ]", " ", text.lower()).split()
    return [word.rstrip("s") for word in words if word != "nice"]


class ReferenceFinder:
    """Map how notices name guidance ('NICE interventional procedure guidance 508',
    'NICE guideline NG203', 'HealthTech guidance 355') to references."""

    def __init__(self):
        self.programmes = {p.code: p for p in Programme.objects.all()}
        self.names = sorted(
            ((_normalise_words(p.name), p.code) for p in self.programmes.values()),
            key=lambda item: -len(item[0]),
        )

    def programme(self, reference, line):
        try:
            prefix, number = split_reference(reference)
        except MalformedReference as error:
            raise InvalidDocument(str(error), line) from None
        if prefix not in self.programmes:
            raise InvalidDocument(
                f"unknown programme prefix {prefix!r} in reference {reference!r} "
                f"(known: {', '.join(sorted(self.programmes))})",
                line,
            )
        return self.programmes[prefix], number

    def code_for_name(self, name):
        words = _normalise_words(name)
        for name_words, code in self.names:
            if words[-len(name_words) :] == name_words:
                return code
        return None

    def find(self, phrase, line):
        """Every reference a phrase names, in order."""
        found = []
        pattern = r"\b([A-Z]{1,6})\s?(\d{1,5})\b|([A-Za-z][A-Za-z ]*?)\s+(\d{1,5})\b"
        for match in re.finditer(pattern, phrase):
            if match.group(1) and match.group(1) in self.programmes:
                reference = f"{match.group(1)}{int(match.group(2))}"
            elif match.group(3) and (code := self.code_for_name(match.group(3))):
                reference = f"{code}{int(match.group(4))}"
            else:
                continue
            if reference not in found:
                found.append(reference)
        if not found:
            raise InvalidDocument(f"cannot tell which guidance {phrase!r} names", line)
        return found


CATEGORY_RULES = {
    # Order matters: the first pattern that matches decides.
    Programme.Vocabulary.INTERVENTIONAL: [
        (r"should not be used|must not be used|should not be done", "DO_NOT_USE"),
        (r"only (?:be used |be done )?in (?:the context of )?research", "ONLY_IN_RESEARCH"),
        (r"special arrangements", "SPECIAL_ARRANGEMENTS"),
        (r"standard arrangements", "STANDARD_ARRANGEMENTS"),
    ],
    Programme.Vocabulary.HEALTHTECH: [
        (r"evidence generation|managed access", "EVIDENCE_GENERATION"),
        (r"more research is needed", "MORE_RESEARCH_NEEDED"),
        (r"should not be used", "SHOULD_NOT_BE_USED"),
        (r"can be used", "CAN_BE_USED"),
    ],
    Programme.Vocabulary.MEDTECH: [
        (r"case for adopting .* is partially supported", "CASE_PARTIALLY_SUPPORTED"),
        (r"case for adopting .* is not supported", "CASE_NOT_SUPPORTED"),
        (r"case for adopting .* is supported", "CASE_SUPPORTED"),
    ],
    Programme.Vocabulary.APPRAISAL: [
        (r"only in research", "ONLY_IN_RESEARCH"),
        (r"\bis not recommended|\bare not recommended", "NOT_RECOMMENDED"),
        (r"\bis recommended .*\bonly if\b|\bare recommended .*\bonly if\b", "OPTIMISED"),
        (r"\bis recommended|\bare recommended", "RECOMMENDED"),
    ],
    Programme.Vocabulary.GUIDELINE: [
        (r"^do not offer\b", "DO_NOT_OFFER"),
        (r"^offer\b", "OFFER"),
        (r"^consider\b", "CONSIDER"),
    ],
}


def classify_recommendation(text, vocabulary):
    """The category the wording states, or '' when the wording states none."""
    for pattern, name in CATEGORY_RULES.get(vocabulary, []):
        if re.search(pattern, text, re.IGNORECASE):
            return RecommendationCategory[name].value
    return ""


# ---------------------------------------------------------------------------------------
# Parsing

NUMBERED_CHAPTER = re.compile(r"^(\d{1,2})\.?\s+(\S.*)$")
NUMBERED_PARAGRAPH = re.compile(r"^(\d{1,2}(?:\.\d{1,3})+)\.?\s+(\S.*)$")
ISBN = re.compile(r"^ISBN:?\s*([0-9][0-9 -]{8,16}[0-9Xx])\s*\.?$")
PUBLISHED = re.compile(r"^Published:?\s+(.+)$", re.IGNORECASE)
LAST_UPDATED = re.compile(r"^Last updated:?\s+(.+)$", re.IGNORECASE)
REFERENCE_LINE = re.compile(r"^Reference(?: number)?:?\s+(\S+)$", re.IGNORECASE)
GUIDANCE_URL = re.compile(r"nice\.org\.uk/guidance/([A-Za-z]{1,8}\d{1,6})\b", re.IGNORECASE)
MARKDOWN_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]*)\)")
REPLACES = re.compile(
    r"^This (?:guidance|guideline|standard|appraisal|briefing) (?:updates and )?"
    r"(partially )?replaces (.+?)\.?$",
    re.IGNORECASE,
)
REPLACED_BY = re.compile(
    r"^This (?:guidance|guideline|standard|appraisal|briefing) (?:has been |is |was )?"
    r"(?:updated and )?(partially )?replaced by (.+?)\.?$",
    re.IGNORECASE,
)
WITHDRAWN = re.compile(
    r"^(?:This (?:guidance|guideline|standard|appraisal|briefing) (?:has been|was|is) )"
    r"(temporarily withdrawn|withdrawn|retired)\b",
    re.IGNORECASE,
)
MIGRATED = re.compile(r"^(.+?) has been migrated to (.+?)\.(?:\s|$)", re.IGNORECASE)
ENDORSED = re.compile(r"has been endorsed by (.+?)\.?$", re.IGNORECASE)
UPDATE_ENTRY = re.compile(rf"^(?:\*\*)?({DATE_TEXT})\s*:?\s*(?:\*\*)?\s*:?\s*(.*)$")
MINOR_HEADING = re.compile(r"^(?:\*\*)?(minor changes (?:since|after) publication)(?:\*\*)?$", re.I)
RATIONALE_HEADING = re.compile(
    r"^(why the committee made (?:the|these) recommendations?|"
    r"how the recommendations? might affect (?:practice|services)|rationale)$",
    re.IGNORECASE,
)
SPECIAL_SECTIONS = {
    "your responsibility": "responsibility",
    "contents": "contents",
    "update information": "updates",
    "endorsing organisation": "endorsement",
    "endorsing organisations": "endorsement",
}


class DocumentParser:
    def __init__(self, text, finder=None):
        self.elements = read_elements(text)
        self.finder = finder or ReferenceFinder()
        self.doc = ParsedDocument()
        self.section = "front"
        self.chapter = None
        self.update_kind = ChangeKind.MAJOR
        self.notices = []  # outside chapters; read once the reference is known

    def parse(self):
        if not self.elements or self.elements[0].kind != "heading":
            first = self.elements[0].line if self.elements else None
            raise InvalidDocument(
                "not a guidance document: expected the title as a heading ('# Title')", first
            )
        self._title(self.elements[0])
        for element in self.elements[1:]:
            if element.kind == "heading":
                self._heading(element)
            else:
                self._content(element)
        self._finish()
        return self.doc

    # -- the title block

    def _title(self, element):
        try:
            self.doc.reference = normalise_reference(element.text)
        except MalformedReference:
            self.doc.title = element.text
        if self.doc.title.lower().endswith("(terminated appraisal)"):
            self.doc.status = GuidanceStatus.TERMINATED

    def _front_matter(self, element):
        text = element.text
        if published := PUBLISHED.match(text):
            self.doc.published_on, self.doc.published_precision = parse_date(
                published.group(1), element.line
            )
        elif updated := LAST_UPDATED.match(text):
            self.doc.last_updated_on, self.doc.last_updated_precision = parse_date(
                updated.group(1), element.line
            )
        elif reference := REFERENCE_LINE.match(text):
            self._set_reference(reference.group(1), element.line)
        elif url := GUIDANCE_URL.search(text):
            self._set_reference(url.group(1), element.line)
        elif self.finder.code_for_name(text) and not self.doc.programme_name:
            self.doc.programme_name = text
        elif self._is_notice(text) or self.doc.summary or element.kind != "text":
            self.notices.append(element)
        else:
            self.doc.summary = text  # 'Evidence-based recommendations on …'

    def _set_reference(self, value, line):
        try:
            reference = normalise_reference(value)
        except MalformedReference as error:
            raise InvalidDocument(str(error), line) from None
        if self.doc.reference and self.doc.reference != reference:
            raise InvalidDocument(
                f"reference {value!r} disagrees with {self.doc.reference!r} given earlier", line
            )
        self.doc.reference = reference

    # -- headings and sections

    def _heading(self, element):
        key = element.text.strip().lower()
        if key in SPECIAL_SECTIONS:
            self.section = SPECIAL_SECTIONS[key]
            self.chapter = None
            return
        if self.section == "updates" and MINOR_HEADING.match(element.text):
            self.update_kind = ChangeKind.MINOR
            self.doc.minor_changes_heading = MINOR_HEADING.match(element.text).group(1)
            return
        numbered = NUMBERED_CHAPTER.match(element.text)
        sub_numbered = NUMBERED_PARAGRAPH.match(element.text)
        if self.chapter and self._is_sub_heading(element, numbered, sub_numbered):
            self._sub_heading(element, sub_numbered)
            return
        number, title = (numbered.group(1), numbered.group(2)) if numbered else ("", element.text)
        self.chapter = ParsedChapter(number, title.strip(), element.line, element.level)
        taken = {c.slug for c in self.doc.chapters}
        if self.chapter.slug in taken:
            raise InvalidDocument(
                f"chapter {element.text!r} has the same heading as an earlier chapter",
                element.line,
            )
        self.doc.chapters.append(self.chapter)
        self.section = "chapter"

    def _is_sub_heading(self, element, numbered, sub_numbered):
        """Heading levels differ between documents: decide by numbering first, then level."""
        if sub_numbered or RATIONALE_HEADING.match(element.text):
            return True
        if numbered:
            # '## 2 The condition' after '# 1 Recommendations' is the next chapter; a '### 1 …'
            # inside chapter 2 (research recommendations, say) is a heading within it.
            current = int(self.chapter.number) if self.chapter.number else 0
            return element.level > self.chapter.level and int(numbered.group(1)) <= current
        return element.level > self.chapter.level

    def _sub_heading(self, element, numbered):
        if RATIONALE_HEADING.match(element.text):
            self._add_block(ParsedBlock(Block.Kind.RATIONALE, element.line, title=element.text))
            return
        number, text = (numbered.group(1), numbered.group(2)) if numbered else ("", element.text)
        self._add_block(ParsedBlock(Block.Kind.HEADING, element.line, number=number, text=text))

    # -- content

    def _content(self, element):
        if isbn := ISBN.match(element.text):
            self.doc.isbn = check_isbn(isbn.group(1), element.line)
            return
        handler = {
            "front": self._front_matter,
            "responsibility": self._responsibility,
            "contents": self._contents,
            "updates": self._update,
            "endorsement": self._endorsement,
            "chapter": self._chapter_content,
        }[self.section]
        handler(element)

    def _responsibility(self, element):
        text = element.text if element.kind == "text" else f"- {element.text}"
        self.doc.responsibility.append(text)

    def _contents(self, element):
        # The contents list is navigation, regenerated from the chapters; keep only notices.
        if self._is_notice(element.text):
            self.notices.append(element)

    def _endorsement(self, element):
        endorsed = ENDORSED.search(element.text)
        if not endorsed:
            raise InvalidDocument(
                "expected 'This guidance has been endorsed by <organisation>.'", element.line
            )
        self.doc.endorsements.append((endorsed.group(1).strip(), element.text))

    def _update(self, element):
        if element.kind == "text" and MINOR_HEADING.match(element.text):
            self.update_kind = ChangeKind.MINOR
            self.doc.minor_changes_heading = MINOR_HEADING.match(element.text).group(1)
            return
        entry = UPDATE_ENTRY.match(element.text) if element.kind == "text" else None
        if entry:
            try:
                date, precision = parse_date(entry.group(1), element.line)
            except InvalidDocument:
                entry = None
        if entry:
            self.doc.updates.append(
                ParsedUpdate(
                    date, precision, self.update_kind, entry.group(2).strip(), element.line
                )
            )
        elif self.doc.updates:
            previous = self.doc.updates[-1]
            joiner = "\n- " if element.kind == "item" else "\n\n"
            previous.text = f"{previous.text}{joiner}{element.text}"
        else:
            raise InvalidDocument(
                "expected a dated update entry such as 'January 2026: …'", element.line
            )

    def _chapter_content(self, element):
        if self.chapter is None:  # pragma: no cover - section is "chapter" only inside one
            raise InvalidDocument("text outside any chapter", element.line)
        if endorsed := ENDORSED.search(element.text):
            self.doc.endorsements.append((endorsed.group(1).strip(), element.text))
        blocks = self.chapter.blocks
        previous = blocks[-1] if blocks else None
        numbered = NUMBERED_PARAGRAPH.match(element.text)
        if numbered:
            kind = (
                Block.Kind.RECOMMENDATION
                if is_recommendations_title(self.chapter.title)
                else Block.Kind.PARAGRAPH
            )
            self._add_block(
                ParsedBlock(kind, element.line, number=numbered.group(1), text=numbered.group(2))
            )
        elif element.kind == "item":
            if previous is None or previous.kind == Block.Kind.HEADING:
                previous = self._add_block(ParsedBlock(Block.Kind.PARAGRAPH, element.line))
            previous.bullets.append(element.text)
        elif previous and previous.kind == Block.Kind.RATIONALE:
            previous.text = f"{previous.text}\n\n{element.text}" if previous.text else element.text
        elif (
            previous
            and previous.kind != Block.Kind.HEADING
            and not previous.bullets
            and element.text[:1].islower()
            and not previous.text.rstrip().endswith((".", ":", "?", "!"))
        ):
            # A line break left by the PDF inside a paragraph.
            previous.text = f"{previous.text} {element.text}"
        else:
            self._add_block(ParsedBlock(Block.Kind.PARAGRAPH, element.line, text=element.text))

    def _add_block(self, block):
        if block.number and any(b.number == block.number for b in self.chapter.blocks):
            raise InvalidDocument(
                f"paragraph number {block.number} appears twice in chapter "
                f"{(self.chapter.number + ' ' + self.chapter.title).strip()!r}",
                block.line,
            )
        self.chapter.blocks.append(block)
        return block

    # -- notices and relations

    @staticmethod
    def _is_notice(text):
        plain = MARKDOWN_LINK.sub(r"\1", text)
        return bool(REPLACES.match(plain) or REPLACED_BY.match(plain) or WITHDRAWN.match(plain))

    def _notice(self, element):
        text = MARKDOWN_LINK.sub(r"\1", element.text)
        this = self.doc.reference
        if replaced_by := REPLACED_BY.match(text):
            kind = (
                RelationType.PARTIALLY_REPLACES if replaced_by.group(1) else RelationType.REPLACES
            )
            for successor in self.finder.find(replaced_by.group(2), element.line):
                self.doc.relations.append(
                    ParsedRelation(successor, kind, this, element.line, note=element.text)
                )
        elif replaces := REPLACES.match(text):
            kind = RelationType.PARTIALLY_REPLACES if replaces.group(1) else RelationType.REPLACES
            migrated_from = {
                r.source for r in self.doc.relations if r.type == RelationType.MIGRATED_TO
            }
            for older in self.finder.find(replaces.group(2), element.line):
                if older not in migrated_from:  # recorded as the migration it was
                    self.doc.relations.append(ParsedRelation(this, kind, older, element.line))
        elif withdrawn := WITHDRAWN.match(text):
            self.doc.status = {
                "temporarily withdrawn": GuidanceStatus.TEMPORARILY_WITHDRAWN,
                "withdrawn": GuidanceStatus.WITHDRAWN,
                "retired": GuidanceStatus.RETIRED,
            }[withdrawn.group(1).lower()]
            self.doc.status_explanation = element.text
        else:
            return False
        return True

    def _finish(self):
        doc = self.doc
        if not doc.reference:
            raise InvalidDocument(
                "not a guidance document: no reference found (expected a 'Reference: …' line "
                "or a nice.org.uk/guidance/<reference> link under the title)",
                self.elements[0].line,
            )
        programme, _ = self.finder.programme(doc.reference, self.elements[0].line)
        for update in doc.updates:
            if migrated := MIGRATED.match(MARKDOWN_LINK.sub(r"\1", update.text)):
                old = self.finder.find(migrated.group(1), update.line)[-1]
                new = self.finder.find(migrated.group(2), update.line)[-1]
                doc.relations.append(
                    ParsedRelation(
                        old,
                        RelationType.MIGRATED_TO,
                        new,
                        update.line,
                        effective_on=update.date,
                        effective_precision=update.precision,
                        note=update.text,
                    )
                )
        for chapter in [c for c in doc.chapters if not c.number and c.blocks]:
            # A section that holds nothing but notices (NICE's page of a replaced document).
            if all(not b.number and self._is_notice(b.text) for b in chapter.blocks):
                self.notices += [Element("text", b.text, b.line) for b in chapter.blocks]
                chapter.blocks = []
        for element in self.notices:
            if not self._notice(element):
                raise InvalidDocument(
                    f"unexpected text before the first chapter: {element.text[:60]!r}",
                    element.line,
                )
        doc.chapters = [c for c in doc.chapters if c.blocks or c.number]
        for relation in doc.relations:
            for reference in (relation.source, relation.target):
                self.finder.programme(reference, relation.line)
        if doc.last_updated_on is None:
            majors = [u for u in doc.updates if u.kind == ChangeKind.MAJOR]
            if majors:
                latest = max(majors, key=lambda u: u.date)
                doc.last_updated_on, doc.last_updated_precision = latest.date, latest.precision
        vocabulary = self._origin_programme(programme).recommendation_vocabulary
        for chapter in doc.chapters:
            for block in chapter.blocks:
                if block.kind == Block.Kind.RECOMMENDATION:
                    block.category = classify_recommendation(block.text, vocabulary)

    def _origin_programme(self, programme):
        """Migrated guidance keeps its original wording: categorise by the first programme."""
        for relation in self.doc.relations:
            if relation.type == RelationType.MIGRATED_TO and relation.target == self.doc.reference:
                return self.finder.programme(relation.source, relation.line)[0]
        return programme


def check_isbn(value, line):
    digits = re.sub(r"[ -]", "", value).upper()
    if len(digits) == 13 and digits.isdigit():
        total = sum(int(d) * (1 if i % 2 == 0 else 3) for i, d in enumerate(digits[:12]))
        valid = (10 - total % 10) % 10 == int(digits[12])
    elif len(digits) == 10 and digits[:9].isdigit():
        total = sum((10 - i) * (10 if d == "X" else int(d)) for i, d in enumerate(digits))
        valid = total % 11 == 0
    else:
        valid = False
    if not valid:
        raise InvalidDocument(f"{value!r} is not a valid ISBN (check digit or length)", line)
    return value.strip()


def parse_document(text, finder=None):
    return DocumentParser(text, finder).parse()


# ---------------------------------------------------------------------------------------
# Writing


@dataclass
class ImportResult:
    path: str
    reference: str = ""
    created: Counter = field(default_factory=Counter)
    updated: Counter = field(default_factory=Counter)
    deleted: Counter = field(default_factory=Counter)
    changes: list = field(default_factory=list)
    error: InvalidDocument | None = None

    @property
    def changed(self):
        return bool(self.created or self.updated or self.deleted)

    def summary(self):
        if self.error:
            return f"error: {self.error}"
        if not self.changed:
            return f"{self.reference}: unchanged"
        parts = [
            f"{verb} {', '.join(f'{n} {name}' for name, n in sorted(counter.items()))}"
            for verb, counter in (
                ("created", self.created),
                ("updated", self.updated),
                ("deleted", self.deleted),
            )
            if counter
        ]
        return f"{self.reference}: " + "; ".join(parts)


class _DryRun(Exception):
    pass


class DocumentWriter:
    """Bring the stored record in line with a parsed document, touching only what differs."""

    def __init__(self, parsed, result, programmes):
        self.parsed = parsed
        self.result = result
        self.programmes = programmes

    def _save(self, obj, label, values=None):
        """Give obj these values and save it if it is new or any value differs; count it.

        obj is as loaded from the database, so comparing with it needs no query.
        """
        values = values or {}
        differing = [name for name, value in values.items() if getattr(obj, name) != value]
        for name in differing:
            setattr(obj, name, values[name])
        if obj.pk is None:
            obj.save()
            obj._created_by_import = True
            self.result.created[label] += 1
            self.result.changes.append(f"+ {label} {obj}")
        elif differing:
            obj.save()
            self.result.updated[label] += 1
            self.result.changes.append(f"~ {label} {obj}: {', '.join(differing)}")
        return obj

    @staticmethod
    def _is_new(obj):
        return getattr(obj, "_created_by_import", False)

    def _delete(self, obj, label):
        self.result.deleted[label] += 1
        self.result.changes.append(f"- {label} {obj}")
        obj.delete()

    def _guidance(self, reference, **values):
        guidance = Guidance.objects.filter(reference=reference).first()
        return self._save(guidance or self._new_record(reference), "guidance", values)

    def _new_record(self, reference):
        """A reference not held yet: a stub record until its text is imported."""
        prefix, number = split_reference(reference)
        return Guidance(
            reference=reference,
            programme=self.programmes[prefix],
            number=number,
            status=GuidanceStatus.PUBLISHED,
            is_stub=True,
        )

    def write(self):
        parsed = self.parsed
        moved = Relation.objects.filter(
            source__reference=parsed.reference, type=RelationType.MIGRATED_TO
        ).select_related("target")
        if not parsed.is_stub and (migration := moved.first()):
            raise InvalidDocument(
                f"{parsed.reference} was migrated to {migration.target.reference}"
                f"{' in ' + migration.effective_display if migration.effective_on else ''}: "
                f"import the document under {migration.target.reference}",
                1,
            )
        values = {
            "title": parsed.title,
            "summary": parsed.summary,
            "status": parsed.status,
            "status_explanation": parsed.status_explanation,
            "is_stub": parsed.is_stub,
            "published_on": parsed.published_on,
            "published_precision": parsed.published_precision,
            "last_updated_on": parsed.last_updated_on,
            "last_updated_precision": parsed.last_updated_precision,
            "isbn": parsed.isbn,
            "minor_changes_heading": parsed.minor_changes_heading
            or Guidance._meta.get_field("minor_changes_heading").default,
        }
        guidance = Guidance.objects.filter(reference=parsed.reference).first()
        if guidance is None:
            guidance = self._save(self._new_record(parsed.reference), "guidance", values)
        set_change_guidance(guidance)
        self._chapters(guidance)
        self._updates(guidance)
        self._endorsements(guidance)
        self._relations()
        self._responsibility(guidance)
        if not self._is_new(guidance) and (
            self.result.changed or any(getattr(guidance, k) != v for k, v in values.items())
        ):
            # Saved last and once, with its version moved, so that an editor who opened the
            # document before this import is told about it instead of overwriting it.
            self._save(guidance, "guidance", {**values, "version": guidance.version + 1})
        return guidance

    def _create_all(self, model, label, objs):
        """Insert a new document's parts of one kind at once, with their history rows."""
        created = bulk_create_with_history(objs, model)
        self.result.created[label] += len(created)
        self.result.changes += [f"+ {label} {obj}" for obj in created]
        return created

    def _chapters(self, guidance):
        if self._is_new(guidance):
            chapters = self._create_all(
                Chapter,
                "chapter",
                [
                    Chapter(
                        guidance=guidance,
                        position=position,
                        number=parsed.number,
                        title=parsed.title,
                        slug=parsed.slug,
                    )
                    for position, parsed in enumerate(self.parsed.chapters, start=1)
                ],
            )
            blocks = [
                Block(guidance=guidance, chapter=chapter, position=position, **self._block(parsed))
                for chapter, parsed_chapter in zip(chapters, self.parsed.chapters, strict=True)
                for position, parsed in enumerate(parsed_chapter.blocks, start=1)
            ]
            self._create_all(Block, "paragraph", blocks)
            return
        stored = {c.position: c for c in guidance.chapters.all()}
        for position in sorted(set(stored) - set(range(1, len(self.parsed.chapters) + 1))):
            self._delete(stored.pop(position), "chapter")
        for position, parsed in enumerate(self.parsed.chapters, start=1):
            chapter = self._save(
                stored.get(position) or Chapter(guidance=guidance, position=position),
                "chapter",
                {"number": parsed.number, "title": parsed.title, "slug": parsed.slug},
            )
            self._blocks(guidance, chapter, parsed.blocks)

    def _blocks(self, guidance, chapter, parsed_blocks):
        stored = {} if self._is_new(chapter) else {b.position: b for b in chapter.blocks.all()}
        wanted = dict(enumerate(parsed_blocks, start=1))
        for position, block in sorted(stored.items()):
            # A block whose number changes is a different paragraph: remove, then add anew,
            # so that no two rows ever hold one number at once.
            if position not in wanted or wanted[position].number != block.number:
                self._delete(stored.pop(position), "paragraph")
        for position, parsed in wanted.items():
            block = stored.get(position) or Block(
                guidance=guidance, chapter=chapter, position=position
            )
            self._save(block, "paragraph", self._block(parsed))

    def _updates(self, guidance):
        if self._is_new(guidance):
            entries = [
                UpdateEntry(guidance=guidance, position=position, **self._update_fields(parsed))
                for position, parsed in enumerate(self.parsed.updates, start=1)
            ]
            self._create_all(UpdateEntry, "update entry", entries)
            return
        stored = {u.position: u for u in guidance.update_entries.all()}
        for position in sorted(set(stored) - set(range(1, len(self.parsed.updates) + 1))):
            self._delete(stored.pop(position), "update entry")
        for position, parsed in enumerate(self.parsed.updates, start=1):
            entry = stored.get(position) or UpdateEntry(guidance=guidance, position=position)
            self._save(entry, "update entry", self._update_fields(parsed))

    @staticmethod
    def _update_fields(parsed):
        return {name: getattr(parsed, name) for name in ("date", "precision", "kind", "text")}

    @staticmethod
    def _block(parsed):
        fields = ("kind", "number", "title", "text", "bullets", "category")
        return {name: getattr(parsed, name) for name in fields}

    def _endorsements(self, guidance):
        stored = {}
        if not self._is_new(guidance):
            endorsements = guidance.endorsements.select_related("organisation")
            stored = {e.organisation.name: e for e in endorsements}
        wanted = dict(self.parsed.endorsements)
        for name in sorted(set(stored) - set(wanted)):
            self._delete(stored.pop(name), "endorsement")
        for name, statement in wanted.items():
            endorsement = stored.get(name)
            if endorsement is None:
                organisation = Organisation.objects.filter(name=name).first() or self._save(
                    Organisation(name=name), "organisation"
                )
                endorsement = Endorsement(guidance=guidance, organisation=organisation)
            self._save(endorsement, "endorsement", {"statement": statement})

    def _relations(self):
        # Relations are added and corrected, never removed by an import: editors record
        # relations the text does not state, and an import must not take those away.
        guidance = {}
        for position, parsed in enumerate(self.parsed.relations):
            for reference in (parsed.source, parsed.target):
                if reference not in guidance:
                    guidance[reference] = self._guidance(reference)
            source, target = guidance[parsed.source], guidance[parsed.target]
            existing = None
            if not (self._is_new(source) or self._is_new(target)):
                existing = Relation.objects.filter(
                    source=source, type=parsed.type, target=target
                ).first()
            self._save(
                existing or Relation(source=source, type=parsed.type, target=target),
                "relation",
                {
                    "effective_on": parsed.effective_on,
                    "effective_precision": parsed.effective_precision,
                    "note": parsed.note,
                    "position": position,
                },
            )

    def _responsibility(self, guidance):
        if not self.parsed.responsibility:
            return
        text = "\n\n".join(self.parsed.responsibility)
        programme = guidance.programme
        if programme.responsibility_statements.filter(text=text).exists():
            return
        dated = [(guidance.published_on, guidance.published_precision)] + [
            (u.date, u.precision) for u in self.parsed.updates
        ]
        applies_from, precision = max((d for d in dated if d[0]), default=(None, None))
        if (
            applies_from is None
            or programme.responsibility_statements.filter(applies_from__gte=applies_from).exists()
        ):
            return  # the programme's wording in force is newer than this document's
        self._save(
            ResponsibilityStatement(
                programme=programme,
                applies_from=applies_from,
                applies_from_precision=precision,
                text=text,
            ),
            "responsibility statement",
        )


def stated_date(parsed):
    """(date, precision) of the latest event the document states, or (None, None)."""
    dated = [(parsed.published_on, parsed.published_precision)]
    dated += [(parsed.last_updated_on, parsed.last_updated_precision)]
    dated += [(update.date, update.precision) for update in parsed.updates]
    dated += [(r.effective_on, r.effective_precision) for r in parsed.relations]
    return max((d for d in dated if d[0]), key=lambda d: d[0], default=(None, None))


def import_guidance_text(text, *, path="<text>", user=None, dry_run=False, finder=None):
    """Import one document's text in one audited transaction; return what changed."""
    result = ImportResult(path=str(path))
    try:
        finder = finder or ReferenceFinder()
        parsed = parse_document(text, finder)
        result.reference = parsed.reference
        # The import records the document as it stood after the latest event it states.
        effective_on, precision = stated_date(parsed)
        with transaction.atomic():
            with recording(
                user=user,
                reason=f"Imported from {Path(str(path)).name}",
                source=ChangeSet.Source.IMPORT,
                effective_at=effective_on,
                effective_precision=precision or "exact",
            ):
                DocumentWriter(parsed, result, finder.programmes).write()
            if dry_run:
                raise _DryRun
    except _DryRun:
        pass
    except InvalidDocument as error:
        error.path = error.path or path
        result.error = error
    return result


def import_guidance_file(path, *, user=None, dry_run=False, finder=None):
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        return ImportResult(
            path=str(path), error=InvalidDocument(f"cannot read: {error}", path=path)
        )
    return import_guidance_text(text, path=path, user=user, dry_run=dry_run, finder=finder)
