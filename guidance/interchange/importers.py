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

from django.conf import settings
from django.db import DatabaseError, transaction

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
    level: int | None = None


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

    @property
    def is_research(self):
        return bool(RESEARCH_CHAPTER.search(self.title))


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
    review_decision_on: datetime.date | None = None
    review_decision_precision: str = ""
    last_reviewed_on: datetime.date | None = None
    last_reviewed_precision: str = ""
    notices: list = field(default_factory=list)  # paragraphs, as published
    isbn: str = ""
    responsibility: list = field(default_factory=list)
    chapters: list = field(default_factory=list)
    updates: list = field(default_factory=list)
    minor_changes_heading: str = ""
    endorsements: list = field(default_factory=list)  # (organisation, statement)
    relations: list = field(default_factory=list)
    new_programmes: dict = field(default_factory=dict)  # prefix -> name, for unknown prefixes

    @property
    def is_stub(self):
        """Only a reference and notices about it: what NICE shows at a replaced reference."""
        return not (
            self.title
            or self.status_explanation
            or self.chapters
            or self.summary
            or self.published_on
            or self.isbn
            or self.updates
        )

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
# Characters no text document holds (tab, line ends and form feed are allowed).
CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f\x7f]")


def strip_comments(text):
    """Remove HTML comments but keep their line breaks, so that line numbers stay true."""
    return COMMENT.sub(lambda match: "\n" * match.group(0).count("\n"), text)


def check_text(text, *, max_paragraph=None):
    """Refuse text that is not a document: control characters, or a paragraph past the limit."""
    if control := CONTROL.search(text):
        line = text.count("\n", 0, control.start()) + 1
        name = "a NUL byte" if control.group() == "\0" else f"control character {control.group()!r}"
        raise InvalidDocument(f"{name}: this is not a text document", line)
    max_paragraph = max_paragraph or settings.GUIDANCE_IMPORT_MAX_PARAGRAPH
    start, length, number = 1, 0, 0
    for number, line in enumerate(text.split("\n"), start=1):
        if line.strip():
            length += len(line)
            if length > max_paragraph:
                raise InvalidDocument(
                    f"a paragraph longer than {max_paragraph:,} characters "
                    "(GUIDANCE_IMPORT_MAX_PARAGRAPH)",
                    start,
                )
        else:
            start, length = number + 1, 0


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
MONTHS["sept"] = 9
DATE_TEXT = r"(?:\d{1,2}\s+)?[A-Za-z]+\.?,?\s+\d{4}|\d{4}"


def parse_date(text, line):
    """Parse '30 January 2019', 'January 2019' or '2019', keeping the precision."""
    value = text.strip().rstrip(".").strip()
    parts = value.replace(",", " ").replace(".", " ").split()
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


def is_later(date, precision, than, than_precision):
    """Whether a date is after another, compared only as precisely as both are known."""
    coarsest = max(
        (precision, than_precision),
        key=[DatePrecision.DAY, DatePrecision.MONTH, DatePrecision.YEAR].index,
    )
    length = {DatePrecision.DAY: 3, DatePrecision.MONTH: 2, DatePrecision.YEAR: 1}[coarsest]
    return date.timetuple()[:length] > than.timetuple()[:length]


def plain(text):
    """Text as notices are matched: links as their words, non-breaking spaces as spaces."""
    text = MARKDOWN_LINK.sub(r"\1", text).replace("**", "")
    return re.sub(r"[\u00a0\u2007\u202f]", " ", text)


def _normalise_words(text):
    words = re.sub(r"[^a-z ]", " ", plain(text).lower()).split()
    return [word.rstrip("s") for word in words if word != "nice"]


class ReferenceFinder:
    """Map how notices name guidance ('NICE interventional procedure guidance 508',
    'NICE guideline NG203', 'NICE technology appraisal 85') to references."""

    def __init__(self):
        self.programmes = {p.code: p for p in Programme.objects.all()}
        names = []
        for programme in self.programmes.values():
            words = _normalise_words(programme.name)
            names.append((words, programme.code))
            # NICE names a programme with or without its last word ('technology appraisal
            # guidance 85', 'technology appraisal 85'), and older notices say 'guidance' where
            # the programme now says 'guideline' ('public health guidance 5').
            if words[-1] in ("guidance", "guideline") and len(words) > 1:
                names.append((words[:-1], programme.code))
                other = "guideline" if words[-1] == "guidance" else "guidance"
                names.append(([*words[:-1], other], programme.code))
        self.names = sorted(names, key=lambda item: -len(item[0]))

    def known(self, prefix):
        # Created by an earlier file of the same run, or by an editor meanwhile.
        if prefix not in self.programmes and (
            programme := Programme.objects.filter(code=prefix).first()
        ):
            self.programmes[prefix] = programme
        return prefix in self.programmes

    def programme_code(self, text):
        """The programme a line names exactly, e.g. 'Technology appraisal guidance'."""
        words = _normalise_words(text)
        return next((code for name_words, code in self.names if words == name_words), None)

    def code_for_name(self, name):
        words = _normalise_words(name)
        for name_words, code in self.names:
            if words[-len(name_words) :] == name_words:
                return code
        return None

    def find(self, phrase):
        """Every reference a phrase names, in order."""
        found = []
        pattern = r"\b([A-Z]{1,6})\s?(\d{1,5})\b|([A-Za-z][A-Za-z ]*?)\s+(\d{1,5})\b"
        for match in re.finditer(pattern, plain(phrase)):
            if match.group(1) and match.group(1) in self.programmes:
                reference = f"{match.group(1)}{int(match.group(2))}"
            elif match.group(3) and (code := self.code_for_name(match.group(3))):
                reference = f"{code}{int(match.group(4))}"
            else:
                continue
            if reference not in found:
                found.append(reference)
        return found


CATEGORY_RULES = {
    # Order matters: the first pattern that matches decides.
    Programme.Vocabulary.INTERVENTIONAL: [
        (r"should not be used|must not be used|should not be done", "DO_NOT_USE"),
        (
            r"only (?:be used |be done |for use )?in (?:the context of )?(?:research|a trial)",
            "ONLY_IN_RESEARCH",
        ),
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
        (r"^further research is recommended|^research is recommended", "FURTHER_RESEARCH"),
    ],
    Programme.Vocabulary.APPRAISAL: [
        (
            r"only in (?:the context of )?research|only for use in research|in research only",
            "ONLY_IN_RESEARCH",
        ),
        (r"^further research is recommended", "FURTHER_RESEARCH"),
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
BARE_NUMBER = re.compile(r"^(\d{1,2}(?:\.\d{1,3})+)\.?$")
ISBN = re.compile(r"^ISBN:?\s*([0-9][0-9 -]{8,16}[0-9Xx])\s*\.?$")
PUBLISHED = re.compile(
    r"^(?:Published|Publication date|Published date|Date issued|Issued|Issue date):?\s+(.+)$",
    re.IGNORECASE,
)
LAST_UPDATED = re.compile(r"^Last updated:?\s+(.+)$", re.IGNORECASE)
REVIEW_DECISION = re.compile(r"^Review decision(?: date)?:?\s+(.+)$", re.IGNORECASE)
LAST_REVIEWED = re.compile(r"^Last reviewed:?\s+(.+)$", re.IGNORECASE)
DATED_NOTICE = re.compile(rf"^({DATE_TEXT}):\s+(\S.*)$", re.DOTALL)
REFERENCE_LINE = re.compile(r"^Reference(?: number)?:?\s+(\S+)$", re.IGNORECASE)
GUIDANCE_URL = re.compile(
    r"^\[?(?:https?://)?(?:www\.)?nice\.org\.uk/(?:guidance|advice)/([A-Za-z]{1,8}\d{1,6})/?\]?"
    r"(?:\([^)\s]*\))?$",
    re.IGNORECASE,
)
MARKDOWN_LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]*)\)")
# 'This guidance', 'This guideline', 'This clinical guideline', 'This technology appraisal
# guidance', 'This NICE guideline', 'This quality standard', 'This evidence summary' …
THIS_DOCUMENT = (
    r"This (?:[\w-]+ ){0,3}?(?:guidance|guideline|standard|appraisal|briefing|summary|evaluation)"
)
REPLACES = re.compile(
    rf"(?:^|(?<=[.:] )){THIS_DOCUMENT} (?:updates and )?(partially )?replaces "
    r"([^.]+?)(?:\.(?=\s|$)|$)",
    re.IGNORECASE,
)
REPLACED_BY = re.compile(
    rf"^{THIS_DOCUMENT} (?:has been |is |was )?(?:updated and )?(partially )?replaced by (.+?)\.?$",
    re.IGNORECASE,
)
BASED_ON = re.compile(rf"^{THIS_DOCUMENT} is (the basis of|based on) (.+?)\.?$", re.IGNORECASE)
WITHDRAWN = re.compile(
    rf"^(?:{THIS_DOCUMENT} (?:has been|was|is|have been) |NICE has )"
    r"(temporarily withdrawn|withdrawn|retired)\b",
    re.IGNORECASE,
)
TERMINATED = re.compile(
    r"\bNICE is unable to make a recommendation\b|\bterminated appraisal\b|"
    r"\b(?:appraisal|evaluation) (?:was|has been|is) (?:initially )?terminated\b",
    re.IGNORECASE,
)
NOT_GUIDANCE = re.compile(r"\bis not NICE guidance\b", re.IGNORECASE)
MIGRATED = re.compile(r"^(.+?) (?:has been|was) migrated to (.+?)\.(?:\s|$)", re.IGNORECASE)
ENDORSED = re.compile(r"has been endorsed by (.+?)\.?$", re.IGNORECASE)
UPDATE_ENTRY = re.compile(rf"^(?:\*\*)?({DATE_TEXT})\s*:?\s*(?:\*\*)?\s*:?\s*(.*)$", re.DOTALL)
MINOR_HEADING = re.compile(
    r"^(?:\*\*)?(minor (?:changes|updates) (?:since|after) publication)(?:\*\*)?$", re.I
)
MAJOR_HEADING = re.compile(
    r"^(?:\*\*)?(?:major )?(?:changes|updates) (?:since|after) publication(?:\*\*)?$", re.I
)
RATIONALE_HEADING = re.compile(
    r"^(why the committee made (?:the|these) recommendations?|"
    r"how the recommendations? might affect (?:practice|services)|rationale)$",
    re.IGNORECASE,
)
RESEARCH_CHAPTER = re.compile(r"research recommendations|recommendations for research", re.I)
# Headings of a research chapter that are not research recommendations themselves.
RESEARCH_GROUP = re.compile(
    r"^(?:why this is important|(?:key |other )?(?:research recommendations|"
    r"recommendations for (?:further )?research))$",
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
    def __init__(self, text, finder=None, *, strict=False):
        self.elements = read_elements(text)
        self.finder = finder or ReferenceFinder()
        self.strict = strict
        self.warnings = []  # (line, message): lines kept as plain text
        self.doc = ParsedDocument()
        self.section = "front"
        self.chapter = None
        self.update_kind = ChangeKind.MAJOR
        self.pending_number = None  # an NG recommendation number printed on a line of its own
        self.summary_line = None
        self.notices = []  # relation and status notices; read once the reference is known

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

    def _odd(self, element, message):
        """A line not understood: refused under --strict, else kept as plain text and reported."""
        if self.strict:
            raise InvalidDocument(message, element.line)
        self.warnings.append((element.line, f"{message}; kept as plain text"))
        if self.section == "chapter" and self.chapter is not None:
            self.chapter.blocks.append(
                ParsedBlock(Block.Kind.PARAGRAPH, element.line, text=element.text)
            )
        elif self.section == "front":
            self._overview_text(element, reported=True)
        else:
            self.doc.notices.append(element.text)

    def _date(self, text, element):
        """A date, or None (reported) when the text is not one."""
        try:
            return parse_date(text, element.line)
        except InvalidDocument as error:
            self._odd(element, error.message)
            return None, ""

    # -- the title block and overview

    def _title(self, element):
        try:
            self.doc.reference = normalise_reference(element.text)
        except MalformedReference:
            self.doc.title = element.text
        if self.doc.title.lower().endswith("(terminated appraisal)"):
            self.doc.status = GuidanceStatus.TERMINATED

    def _front_matter(self, element):
        text = element.text
        if element.kind == "item":
            self._overview_text(element)
        elif published := PUBLISHED.match(text):
            self._title_block(element)
            self.doc.published_on, self.doc.published_precision = self._date(
                published.group(1), element
            )
        elif updated := LAST_UPDATED.match(text):
            self.doc.last_updated_on, self.doc.last_updated_precision = self._date(
                updated.group(1), element
            )
        elif review := REVIEW_DECISION.match(text):
            self.doc.review_decision_on, self.doc.review_decision_precision = self._date(
                review.group(1), element
            )
        elif reviewed := LAST_REVIEWED.match(text):
            self.doc.last_reviewed_on, self.doc.last_reviewed_precision = self._date(
                reviewed.group(1), element
            )
        elif reference := REFERENCE_LINE.match(text):
            self._title_block(element)
            self._set_reference(reference.group(1), element.line)
        elif url := GUIDANCE_URL.match(text):
            self._set_reference(url.group(1), element.line)
        elif not self.doc.programme_name and self.finder.programme_code(text):
            self.doc.programme_name = text
        elif self._is_dated_notice(text) or NOT_GUIDANCE.search(text):
            self.doc.notices.append(text)
        elif self._is_notice(text):
            self.notices.append(element)
        elif TERMINATED.search(text):
            self.doc.status = GuidanceStatus.TERMINATED
            self.doc.status_explanation = text
        else:
            self._overview_text(element)

    def _title_block(self, element):
        """The line just above 'Published:' or 'Reference:' names the programme, known or not."""
        if not self.doc.programme_name and self.summary_line == element.line - 1:
            self.doc.programme_name, self.doc.summary = self.doc.summary, ""
            self.summary_line = None

    def _overview_text(self, element, *, reported=False):
        """The overview under the title: its first paragraph, then any more, bullets too."""
        if not self.doc.summary:
            self.doc.summary = element.text
            self.summary_line = element.line
            return
        if self.strict and not reported:
            raise InvalidDocument(
                f"unexpected text before the first chapter: {element.text[:60]!r}", element.line
            )
        if element.kind == "item":
            self.doc.summary += f"\n- {element.text}"
        else:
            self.doc.summary += f"\n\n{element.text}"
        if not reported:
            self.warnings.append((element.line, "kept as plain text in the overview"))

    @staticmethod
    def _is_dated_notice(text):
        notice = DATED_NOTICE.match(text)
        if not notice:
            return False
        try:
            parse_date(notice.group(1), None)
        except InvalidDocument:
            return False
        return True

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
        self.pending_number = None
        key = element.text.strip().lower()
        if key in SPECIAL_SECTIONS:
            self.section = SPECIAL_SECTIONS[key]
            self.chapter = None
            return
        if self.section == "updates":
            if minor := MINOR_HEADING.match(element.text):
                self.update_kind = ChangeKind.MINOR
                self.doc.minor_changes_heading = minor.group(1)
                return
            if MAJOR_HEADING.match(element.text):
                self.update_kind = ChangeKind.MAJOR
                return
        numbered = NUMBERED_CHAPTER.match(element.text)
        sub_numbered = NUMBERED_PARAGRAPH.match(element.text)
        if self.chapter and self._is_sub_heading(element, numbered, sub_numbered):
            self._sub_heading(element, numbered, sub_numbered)
            return
        number, title = (numbered.group(1), numbered.group(2)) if numbered else ("", element.text)
        chapter = ParsedChapter(number, title.strip(), element.line, element.level)
        if chapter.slug in {c.slug for c in self.doc.chapters}:
            message = f"chapter {element.text!r} has the same heading as an earlier chapter"
            if self.strict or self.section != "chapter":
                raise InvalidDocument(message, element.line)
            # Often a heading printed twice; two chapters cannot share one address.
            self.warnings.append((element.line, f"{message}; kept as a heading in the chapter"))
            self._add_block(ParsedBlock(Block.Kind.HEADING, element.line, text=element.text))
            return
        self.chapter = chapter
        self.doc.chapters.append(chapter)
        self.section = "chapter"

    def _is_sub_heading(self, element, numbered, sub_numbered):
        """Heading levels differ between documents: decide by numbering first, then level."""
        if sub_numbered or RATIONALE_HEADING.match(element.text):
            return True
        if self.chapter.is_research:
            # Research recommendations are numbered '1 …', '2 …' like chapters.
            return element.level > self.chapter.level
        if numbered:
            # '## 2 The condition' after '# 1 Recommendations' is the next chapter; a '### 1 …'
            # inside chapter 2 is a heading within it.
            current = int(self.chapter.number) if self.chapter.number else 0
            return element.level > self.chapter.level and int(numbered.group(1)) <= current
        return element.level > self.chapter.level

    def _sub_heading(self, element, numbered, sub_numbered):
        level = max(1, element.level - self.chapter.level)
        if RATIONALE_HEADING.match(element.text):
            self._add_block(
                ParsedBlock(Block.Kind.RATIONALE, element.line, title=element.text, level=level)
            )
            return
        if self.chapter.is_research and not RESEARCH_GROUP.match(element.text):
            found = sub_numbered or numbered
            number, text = (found.group(1), found.group(2)) if found else ("", element.text)
            self._add_block(
                ParsedBlock(
                    Block.Kind.RESEARCH, element.line, number=number, title=text, level=level
                )
            )
            return
        # A heading numbered like a chapter ('1 Biomarkers') keeps its number in its words.
        number, text = sub_numbered.groups() if sub_numbered else ("", element.text)
        self._add_block(
            ParsedBlock(Block.Kind.HEADING, element.line, number=number, text=text, level=level)
        )

    # -- content

    def _content(self, element):
        if isbn := ISBN.match(element.text):
            try:
                self.doc.isbn = check_isbn(isbn.group(1), element.line)
            except InvalidDocument as error:
                self._odd(element, error.message)
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
            self._odd(element, "expected 'This guidance has been endorsed by <organisation>.'")
            return
        self.doc.endorsements.append((endorsed.group(1).strip(), element.text))

    def _update(self, element):
        if element.kind == "text" and (minor := MINOR_HEADING.match(element.text)):
            self.update_kind = ChangeKind.MINOR
            self.doc.minor_changes_heading = minor.group(1)
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
        elif self._is_notice(element.text):
            self.notices.append(element)  # 'This guideline updates and replaces …'
        else:
            if self.strict:
                raise InvalidDocument(
                    "expected a dated update entry such as 'January 2026: …'", element.line
                )
            self.warnings.append(
                (element.line, "undated text before the first update entry; kept as a notice")
            )
            self.doc.notices.append(element.text)

    def _chapter_content(self, element):
        if self.chapter is None:  # pragma: no cover - section is "chapter" only inside one
            raise InvalidDocument("text outside any chapter", element.line)
        if endorsed := ENDORSED.search(element.text):
            self.doc.endorsements.append((endorsed.group(1).strip(), element.text))
        if TERMINATED.search(element.text) and self.doc.status == GuidanceStatus.PUBLISHED:
            self.doc.status = GuidanceStatus.TERMINATED  # the wording of the text says so
        if element.kind == "text" and (bare := BARE_NUMBER.match(element.text)):
            self.pending_number = (bare.group(1), element.line)
            return
        blocks = self.chapter.blocks
        previous = blocks[-1] if blocks else None
        numbered = NUMBERED_PARAGRAPH.match(element.text)
        if self.pending_number and element.kind == "text" and not numbered:
            number, line = self.pending_number
            self.pending_number = None
            self._numbered(number, element.text, line)
        elif numbered:
            self.pending_number = None
            self._numbered(numbered.group(1), numbered.group(2), element.line)
        elif element.kind == "item":
            if previous is None or previous.kind == Block.Kind.HEADING:
                previous = self._add_block(ParsedBlock(Block.Kind.PARAGRAPH, element.line))
            previous.bullets.append(element.text)
        elif previous and previous.kind in (Block.Kind.RATIONALE, Block.Kind.RESEARCH):
            if previous.bullets:
                self._add_block(ParsedBlock(Block.Kind.PARAGRAPH, element.line, text=element.text))
            else:
                previous.text = (
                    f"{previous.text}\n\n{element.text}" if previous.text else element.text
                )
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

    def _numbered(self, number, text, line):
        if self.chapter.is_research:
            kind = Block.Kind.RESEARCH
        elif is_recommendations_title(self.chapter.title):
            kind = Block.Kind.RECOMMENDATION
        else:
            kind = Block.Kind.PARAGRAPH
        self._add_block(ParsedBlock(kind, line, number=number, text=text))

    def _add_block(self, block):
        if block.number and any(b.number == block.number for b in self.chapter.blocks):
            message = (
                f"paragraph number {block.number} appears twice in chapter "
                f"{(self.chapter.number + ' ' + self.chapter.title).strip()!r}"
            )
            if self.strict:
                raise InvalidDocument(message, block.line)
            self.warnings.append((block.line, f"{message}; kept as plain text"))
            block.kind = Block.Kind.PARAGRAPH if block.kind != Block.Kind.HEADING else block.kind
            block.text = f"{block.number} {block.title or block.text}".strip()
            block.number = block.title = ""
        self.chapter.blocks.append(block)
        return block

    # -- notices and relations

    @staticmethod
    def _is_notice(text):
        text = plain(text)
        return bool(
            REPLACES.match(text)
            or REPLACED_BY.match(text)
            or WITHDRAWN.match(text)
            or BASED_ON.match(text)
            or MIGRATED.match(text)
        )

    def _relate(self, source, kind, target, line, note="", **dates):
        if source == target or any(
            (r.source, r.type, r.target) == (source, kind, target) for r in self.doc.relations
        ):
            return
        self.doc.relations.append(ParsedRelation(source, kind, target, line, note=note, **dates))

    def _named(self, phrase, element, *, keep=True):
        """The references a notice names; a notice naming none is kept as plain text."""
        references = [r for r in self.finder.find(phrase) if r != self.doc.reference]
        if not references and keep:
            self._odd(element, f"cannot tell which guidance {phrase!r} names")
        return references

    def _notice(self, element):
        text = plain(element.text)
        this, line = self.doc.reference, element.line
        if replaced_by := REPLACED_BY.match(text):
            partially = replaced_by.group(1)
            kind = RelationType.PARTIALLY_REPLACES if partially else RelationType.REPLACES
            for successor in self._named(replaced_by.group(2), element):
                self._relate(successor, kind, this, line, note=element.text)
        elif REPLACES.match(text):
            self._replaces(element.text, element, whole=True)
        elif based := BASED_ON.match(text):
            for other in self._named(based.group(2), element):
                source, target = (
                    (this, other)
                    if based.group(1).lower() == "based on"
                    else (
                        other,
                        this,
                    )
                )
                self._relate(source, RelationType.BASED_ON, target, line, note=element.text)
        elif migrated := MIGRATED.match(text):
            old, new = self.finder.find(migrated.group(1)), self.finder.find(migrated.group(2))
            if old and new:
                self._relate(old[-1], RelationType.MIGRATED_TO, new[-1], line, element.text)
            else:
                self._odd(element, "cannot tell which references a migration notice names")
        elif withdrawn := WITHDRAWN.match(text):
            self.doc.status = {
                "temporarily withdrawn": GuidanceStatus.TEMPORARILY_WITHDRAWN,
                "withdrawn": GuidanceStatus.WITHDRAWN,
                "retired": GuidanceStatus.RETIRED,
            }[withdrawn.group(1).lower()]
            self.doc.status_explanation = element.text

    def _replaces(self, text, element, *, whole=False):
        """Every 'This guideline (updates and) replaces …' sentence of a text: relations.

        The note is the wording as published: the whole notice line, or the sentence where it
        stands inside a paragraph or an update entry, so that an export can tell the two apart.
        """
        migrated_from = {r.source for r in self.doc.relations if r.type == RelationType.MIGRATED_TO}
        for replaces in REPLACES.finditer(plain(text)):
            kind = RelationType.PARTIALLY_REPLACES if replaces.group(1) else RelationType.REPLACES
            note = text if whole else replaces.group(0)
            for older in self._named(replaces.group(2), element, keep=whole):
                if older not in migrated_from:  # recorded as the migration it was
                    self._relate(self.doc.reference, kind, older, element.line, note=note)

    def _finish(self):
        doc = self.doc
        if not doc.reference:
            raise InvalidDocument(
                "not a guidance document: no reference found (expected a 'Reference: …' line "
                "or a nice.org.uk/guidance/<reference> link under the title)",
                self.elements[0].line,
            )
        self._programme_of(doc.reference, self.elements[0].line, own=True)
        self.section = "front"  # a notice not understood from here on joins the overview
        for update in doc.updates:
            if migrated := MIGRATED.match(plain(update.text)):
                old, new = self.finder.find(migrated.group(1)), self.finder.find(migrated.group(2))
                if old and new:
                    self._relate(
                        old[-1],
                        RelationType.MIGRATED_TO,
                        new[-1],
                        update.line,
                        note=update.text,
                        effective_on=update.date,
                        effective_precision=update.precision,
                    )
        for chapter in [c for c in doc.chapters if not c.number and c.blocks]:
            # A section that holds nothing but notices (NICE's page of a replaced document).
            if all(not b.number and self._is_notice(b.text) for b in chapter.blocks):
                self.notices += [Element("text", b.text, b.line) for b in chapter.blocks]
                chapter.blocks = []
        for element in self.notices:
            self._notice(element)
        # 'This guideline updates and replaces …' inside the overview, a chapter or an update.
        texts = [(doc.summary, self.elements[0].line)]
        texts += [(u.text, u.line) for u in doc.updates]
        texts += [
            (b.text, b.line)
            for c in doc.chapters
            for b in c.blocks
            if b.kind == Block.Kind.PARAGRAPH
        ]
        for text, line in texts:
            if REPLACES.search(plain(text)):
                self._replaces(text, Element("text", text, line))
        doc.chapters = [c for c in doc.chapters if c.blocks or c.number]
        for relation in doc.relations:
            for reference in (relation.source, relation.target):
                self._programme_of(reference, relation.line)
        self._last_updated()
        self._section_headings()
        self._check_lengths()
        vocabulary = self._origin_programme().recommendation_vocabulary
        for chapter in doc.chapters:
            for block in chapter.blocks:
                if block.kind == Block.Kind.RECOMMENDATION:
                    block.category = classify_recommendation(block.text, vocabulary)

    def _programme_of(self, reference, line, own=False):
        """The programme of a reference; an unknown but well-formed prefix is created."""
        try:
            prefix, _number = split_reference(reference)
        except MalformedReference as error:
            raise InvalidDocument(str(error), line) from None
        if self.finder.known(prefix) or prefix in self.doc.new_programmes:
            return
        message = (
            f"unknown programme prefix {prefix!r} in reference {reference!r} "
            f"(known: {', '.join(sorted(self.finder.programmes))})"
        )
        if self.strict:
            raise InvalidDocument(message, line)
        name = self.doc.programme_name if own and self.doc.programme_name else prefix
        self.doc.new_programmes[prefix] = name
        self.warnings.append((line, f"{message}: programme {prefix} ({name!r}) created; check it"))

    def _last_updated(self):
        """Only the document's own 'Last updated', or a dated major update after publication."""
        doc = self.doc
        if doc.last_updated_on or not doc.published_on:
            return
        later = [
            u
            for u in doc.updates
            if u.kind == ChangeKind.MAJOR
            and is_later(u.date, u.precision, doc.published_on, doc.published_precision)
        ]
        if later:
            latest = max(later, key=lambda u: u.date)
            doc.last_updated_on, doc.last_updated_precision = latest.date, latest.precision

    def _section_headings(self):
        """'1.1 <topic>' above recommendations 1.1.1, 1.1.2 … is a heading, not a paragraph."""
        for chapter in self.doc.chapters:
            numbers = {b.number for b in chapter.blocks if b.number}
            for block in chapter.blocks:
                if (
                    block.kind in (Block.Kind.RECOMMENDATION, Block.Kind.PARAGRAPH)
                    and block.number
                    and not block.bullets
                    and any(n.startswith(block.number + ".") for n in numbers)
                    and not block.text.rstrip().endswith((".", ":", "?", "!"))
                ):
                    block.kind, block.level = Block.Kind.HEADING, 1

    def _check_lengths(self):
        limits = [
            (self.doc.title, Guidance, "title", self.elements[0].line),
            *((c.title, Chapter, "title", c.line) for c in self.doc.chapters),
            *(
                (b.title, Block, "title", b.line)
                for c in self.doc.chapters
                for b in c.blocks
                if b.title
            ),
        ]
        for value, model, name, line in limits:
            limit = model._meta.get_field(name).max_length
            if len(value) > limit:
                raise InvalidDocument(
                    f"a {model._meta.verbose_name} {name} of {len(value):,} characters "
                    f"(at most {limit})",
                    line,
                )

    def _origin_programme(self):
        """Migrated guidance keeps its original wording: categorise by the first programme."""
        code = split_reference(self.doc.reference)[0]
        for relation in self.doc.relations:
            if relation.type == RelationType.MIGRATED_TO and relation.target == self.doc.reference:
                code = split_reference(relation.source)[0]
        return self.finder.programmes.get(code) or Programme(
            recommendation_vocabulary=Programme.Vocabulary.NONE
        )


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


def parse_document(text, finder=None, *, strict=False):
    return DocumentParser(text, finder, strict=strict).parse()


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
    warnings: list = field(default_factory=list)  # (line, message)
    error: InvalidDocument | None = None

    @property
    def changed(self):
        return bool(+self.created or +self.updated or +self.deleted)

    def warning_lines(self):
        return [f"{self.path}, line {line}: {message}" for line, message in self.warnings]

    def summary(self):
        if self.error:
            return f"error: {self.error}"
        if not self.changed:
            return f"{self.reference}: unchanged"
        parts = [
            f"{verb} {', '.join(f'{n} {name}' for name, n in sorted((+counter).items()))}"
            for verb, counter in (
                ("created", self.created),
                ("updated", self.updated),
                ("deleted", self.deleted),
            )
            if +counter
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
            programme=self._programme(prefix),
            number=number,
            status=GuidanceStatus.PUBLISHED,
            is_stub=True,
        )

    def _programme(self, prefix):
        """A known programme, or the one an unknown but well-formed prefix asks for."""
        programme = self.programmes.get(prefix) or Programme.objects.filter(code=prefix).first()
        if programme is None:
            name = self.parsed.new_programmes[prefix]
            programme = self._save(Programme(code=prefix, name=name), "programme")
        return programme

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
            "review_decision_on": parsed.review_decision_on,
            "review_decision_precision": parsed.review_decision_precision,
            "last_reviewed_on": parsed.last_reviewed_on,
            "last_reviewed_precision": parsed.last_reviewed_precision,
            "notices": "\n\n".join(parsed.notices),
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
        if created:
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
        fields = ("kind", "number", "title", "text", "bullets", "category", "level")
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
            relation = existing or Relation(source=source, type=parsed.type, target=target)
            # Both documents may word one relation ('replaces …', 'replaced by …'): a notice
            # corrects the words said from its own side only, its order only among its own
            # document's relations, and a notice that gives no date clears none.
            side = self._words_of_side(parsed)
            values = {}
            if parsed.effective_on:
                values["effective_on"] = parsed.effective_on
                values["effective_precision"] = parsed.effective_precision
            if parsed.note and (not relation.note or side in relation.note.lower()):
                values["note"] = parsed.note
            if parsed.source == self.parsed.reference or relation.pk is None:
                values["position"] = position
            self._save(relation, "relation", values)

    def _words_of_side(self, parsed):
        """What a notice of this relation says when the document being imported words it."""
        if parsed.type == RelationType.MIGRATED_TO:
            return "migrated to"
        outgoing = parsed.source == self.parsed.reference
        if parsed.type == RelationType.BASED_ON:
            return "based on" if outgoing else "basis of"
        return "replaces" if outgoing else "replaced by"

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


def import_guidance_text(
    text, *, path="<text>", user=None, dry_run=False, finder=None, strict=False
):
    """Import one document's text in one audited transaction; return what changed.

    Lines it does not understand are kept as plain text and listed in the result's warnings;
    with strict=True the first of them refuses the file instead.
    """
    result = ImportResult(path=str(path))
    try:
        check_text(text)
        finder = finder or ReferenceFinder()
        parser = DocumentParser(text, finder, strict=strict)
        parsed = parser.parse()
        result.reference = parsed.reference
        result.warnings = parser.warnings
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
    except DatabaseError as error:
        result.error = InvalidDocument(f"the database refused it: {error}", path=path)
    return result


def read_document(path, *, max_bytes=None):
    """The text of a file, or InvalidDocument: too large, binary or not UTF-8, with the line."""
    max_bytes = max_bytes or settings.GUIDANCE_IMPORT_MAX_BYTES
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InvalidDocument(
                f"{size:,} bytes, over the import limit of {max_bytes:,} "
                "(GUIDANCE_IMPORT_MAX_BYTES, or --max-bytes)",
                path=path,
            )
        data = path.read_bytes()
    except OSError as error:
        raise InvalidDocument(f"cannot read: {error.strerror or error}", path=path) from None
    if (nul := data.find(b"\0")) >= 0:
        line = data.count(b"\n", 0, nul) + 1
        raise InvalidDocument("a NUL byte: this is a binary file, not text", line, path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise InvalidDocument(
            f"not UTF-8 text (byte 0x{data[error.start]:02x}); save the file as UTF-8", line, path
        ) from None


def import_guidance_file(
    path, *, user=None, dry_run=False, finder=None, strict=False, max_bytes=None
):
    path = Path(path)
    try:
        text = read_document(path, max_bytes=max_bytes)
    except InvalidDocument as error:
        return ImportResult(path=str(path), error=error)
    return import_guidance_text(
        text, path=path, user=user, dry_run=dry_run, finder=finder, strict=strict
    )
