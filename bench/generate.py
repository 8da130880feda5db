"""Generate the benchmark's data set through the product's own write paths.

Documents follow the shapes of the real samples and of DOMAIN.md (numbered chapters with
unnumbered sub-headings, numbered paragraphs with bullets, recommendations with the
programme's categories, rationale blocks, update information, endorsements, relations to
stub records known only from a notice). Every write runs inside
``guidance.history.recording()``, in bulk through ``bulk_create_with_history`` and
``bulk_update_with_history``, so each change is a real ChangeSet chained into the ledger.

The registry is made to look two years old: the catalogue is imported in January 2024,
editors and publishers revise it month by month until November 2025, and the HealthTech
migrations of December 2025 and January 2026 run through the editor workflow when it is
there. Each change is dated by setting the start time of the change being recorded.
"""

import contextlib
import datetime
import itertools
import multiprocessing
import random
import time
from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import OperationalError, connections, models
from django.db.backends.signals import connection_created

from guidance import ledger
from guidance.editorial import services
from guidance.history import (
    bulk_create_with_history,
    bulk_update_with_history,
    change_committed,
    recording,
    set_change_guidance,
    system_user,
)
from guidance.models import (
    Block,
    ChangeKind,
    ChangeSet,
    Chapter,
    DatePrecision,
    Endorsement,
    Guidance,
    GuidanceStatus,
    Organisation,
    Programme,
    Relation,
    RelationType,
    TrackedQuerySet,
    UpdateEntry,
    chapter_slug,
)

UTC = datetime.UTC

# Share of the catalogue per programme, roughly as NICE's.
PROGRAMME_MIX = {
    "IPG": 0.30,
    "TA": 0.24,
    "NG": 0.10,
    "CG": 0.07,
    "MTG": 0.05,
    "DG": 0.05,
    "HTG": 0.05,
    "PH": 0.04,
    "QS": 0.06,
    "SC": 0.02,
    "HST": 0.02,
}
# Generated documents are numbered from here; stubs named by notices take numbers below it,
# away from the references of the shipped samples.
FIRST_NUMBER = 1000
SAMPLE_NUMBERS = {1, 346, 420, 501, 508, 640}
FIRST_MIGRATED_HTG = 5000

PROCEDURES = [
    "Percutaneous venoplasty",
    "Endoscopic ultrasound-guided biliary drainage",
    "Transcatheter aortic valve implantation",
    "Laparoscopic sacrocolpopexy",
    "Extracorporeal shockwave therapy",
    "Radiofrequency ablation",
    "Cryoablation",
    "Deep brain stimulation",
    "Balloon sinuplasty",
    "Microwave ablation",
    "Irreversible electroporation",
    "Transanal total mesorectal excision",
    "Endovascular stent-graft placement",
    "Autologous chondrocyte implantation",
    "High-intensity focused ultrasound",
    "Peroral endoscopic myotomy",
    "Selective internal radiation therapy",
    "Vagus nerve stimulation",
    "Minimally invasive sacroiliac joint fusion",
    "Photodynamic therapy",
    "Intravascular lithotripsy",
    "Prostatic urethral lift",
    "Bronchoscopic lung volume reduction",
    "Hypoglossal nerve stimulation",
    "Cervical total disc replacement",
]
CONDITIONS = [
    "chronic cerebrospinal venous insufficiency in multiple sclerosis",
    "in-stent coronary restenosis",
    "refractory angina",
    "Barrett's oesophagus",
    "primary open-angle glaucoma",
    "varicose veins of the leg",
    "obstructive sleep apnoea",
    "benign prostatic hyperplasia",
    "severe emphysema",
    "symptomatic aortic stenosis",
    "treatment-resistant depression",
    "drug-resistant epilepsy",
    "hepatocellular carcinoma",
    "early-stage breast cancer",
    "knee osteoarthritis",
    "chronic rhinosinusitis",
    "faecal incontinence",
    "atrial fibrillation",
    "type 2 diabetes",
    "chronic kidney disease",
    "heart failure with reduced ejection fraction",
    "psoriatic arthritis",
    "rheumatoid arthritis",
    "ulcerative colitis",
    "Crohn's disease",
    "non-small-cell lung cancer",
    "multiple myeloma",
    "migraine",
    "spinal muscular atrophy",
    "cystic fibrosis",
    "achalasia",
    "pelvic organ prolapse",
    "sacroiliac joint pain",
    "venous leg ulcers",
    "peripheral arterial disease",
    "asthma",
    "chronic obstructive pulmonary disease",
    "hypertension in adults",
    "sepsis",
    "dementia",
]
GUIDELINE_TOPICS = [
    "Multiple sclerosis in adults: management",
    "Hypertension in adults: diagnosis and management",
    "Chronic kidney disease: assessment and management",
    "Type 2 diabetes in adults: management",
    "Depression in adults: treatment and management",
    "Atrial fibrillation: diagnosis and management",
    "Asthma: diagnosis, monitoring and chronic asthma management",
    "Sepsis: recognition, diagnosis and early management",
    "Dementia: assessment, management and support",
    "Heart failure: diagnosis and management",
    "Falls in older people: assessing risk and prevention",
    "Medicines optimisation in care homes",
    "Physical activity: encouraging activity in the community",
    "Looked-after children and young people",
    "Workplace health: management practices",
]
SYLLABLES = ["zel", "va", "ra", "tor", "mi", "lo", "sen", "quo", "dex", "ti", "na", "bre", "cor"]
DRUG_ENDINGS = ["mab", "nib", "tide", "parin", "vastatin", "zumab", "ciclib", "lisib"]
COMPANIES = ["B Braun Medical", "Medtronic", "Boston Scientific", "Abbott", "Olympus", "Philips"]
OUTCOMES = [
    "quality of life",
    "relapse rates",
    "measures of disability and disease progression",
    "overall survival",
    "progression-free survival",
    "need for re-intervention",
    "length of hospital stay",
    "major adverse cardiac events",
    "symptom scores",
    "time to recurrence",
]
COMPLICATIONS = [
    "vascular rupture or dissection",
    "venous thrombosis or occlusion",
    "bleeding needing transfusion",
    "infection at the access site",
    "stent fracture",
    "cardiac arrhythmia",
    "perforation",
    "transient neurological symptoms",
]
SENTENCE_TEMPLATES = [
    "Current evidence on {procedure} for {condition} shows that there are {safety} and "
    "that the evidence on efficacy is {strength}.",
    "The aim of {procedure} is to relieve symptoms of {condition} and improve {outcome}.",
    "{procedure} is done under {anaesthesia} and usually takes about {minutes} minutes.",
    "The evidence included {n} randomised controlled trials, {m} case series and 1 registry "
    "report, with {patients} patients in total.",
    "The specialist advisers and the committee considered the key efficacy outcomes to be "
    "{outcome} and {outcome2}.",
    "The key safety outcomes were {complication} and {complication2}.",
    "Submissions were received from {n} patient organisations, which were discussed by the "
    "committee.",
    "{condition_cap} affects about {n} in {patients} people in England, and is more common "
    "with increasing age.",
    "Current treatments for {condition} include medication, lifestyle advice and, when "
    "these fail, surgery.",
    "The committee noted that the evidence came mostly from small studies with short "
    "follow-up, so the long-term benefits are uncertain.",
    "Clinicians should enter details about all patients having {procedure} onto the UK "
    "registry and review local clinical outcomes.",
    "The cost of {technology} is approximately £{price} per patient, excluding VAT.",
    "The company's base-case incremental cost-effectiveness ratio was £{icer} per "
    "quality-adjusted life year gained.",
    "Patient selection should be done by a multidisciplinary team that includes a "
    "specialist in {condition}.",
    "NICE encourages further research into {procedure}, reporting {outcome} after at least "
    "{n} years.",
    "{technology} ({company}) is a device intended to improve {outcome} in people with "
    "{condition}.",
    "The external assessment group considered that the results may not be generalisable to "
    "NHS practice.",
    "People should be given clear written information, and a discussion about the "
    "uncertainty of the benefits, before they agree to treatment.",
]
BULLETS = [
    "there are clinical reasons to minimise the duration of treatment",
    "placement of further stents is not technically possible",
    "the person has had at least 2 previous treatments",
    "the disease has progressed after chemotherapy",
    "the person has a life expectancy of more than 12 months",
    "the procedure is done in a centre with on-site surgical support",
    "the company provides it according to the commercial arrangement",
    "inform the clinical governance leads in their NHS trusts",
    "audit and review clinical outcomes of all patients",
    "ensure that patients understand the uncertainty about the procedure's safety",
]
# Categories and the verbs that go with them, by programme vocabulary.
CATEGORY_WORDING = {
    "interventional": [
        (
            "standard arrangements",
            "Evidence on the safety and efficacy of {procedure} "
            "for {condition} is adequate to support the use of this procedure provided that "
            "standard arrangements are in place for clinical governance, consent and audit.",
        ),
        (
            "special arrangements",
            "Evidence on the efficacy of {procedure} for {condition} "
            "is limited in quality and quantity. Therefore, this procedure should only be used "
            "with special arrangements for clinical governance, consent, and audit or research.",
        ),
        (
            "only in research",
            "Evidence on {procedure} for {condition} is inadequate in "
            "quality. Therefore, this procedure should only be used in the context of research.",
        ),
        (
            "do not use",
            "Current evidence on {procedure} for {condition} shows that there are "
            "serious complications and that it provides no benefit. Therefore, this procedure "
            "should not be used.",
        ),
    ],
    "healthtech": [
        ("can be used", "{procedure} can be used as an option for {condition}."),
        (
            "can be used during evidence generation",
            "{procedure} can be used during evidence generation as an option for {condition}.",
        ),
        ("more research is needed", "More research is needed on {procedure} for {condition}."),
        ("should not be used", "{procedure} should not be used for {condition}."),
    ],
    "medtech": [
        (
            "case for adoption supported",
            "The case for adopting {technology} in the NHS for "
            "{condition} is supported by the evidence.",
        ),
        (
            "case for adoption partially supported",
            "The case for adopting {technology} is "
            "partially supported by the evidence for people with {condition}.",
        ),
        (
            "case for adoption not supported",
            "The case for adopting {technology} for {condition} is not supported by the evidence.",
        ),
    ],
    "appraisal": [
        (
            "recommended",
            "{technology} is recommended, within its marketing authorisation, "
            "as an option for treating {condition} in adults.",
        ),
        (
            "optimised",
            "{technology} is recommended as an option for treating {condition} "
            "only if the person has had at least 2 previous treatments.",
        ),
        (
            "only in research",
            "{technology} is only recommended for use in research for {condition}.",
        ),
        (
            "not recommended",
            "{technology} is not recommended, within its marketing "
            "authorisation, for treating {condition}.",
        ),
    ],
    "guideline": [
        (
            "offer",
            "Offer {technology} to people with {condition} if lifestyle advice has not helped.",
        ),
        (
            "consider",
            "Consider {procedure} for people with {condition} who cannot take {technology}.",
        ),
        (
            "do not offer",
            "Do not offer {technology} to people with {condition} unless a specialist advises it.",
        ),
    ],
    "none": [("", "{technology} should be available to people with {condition}.")],
}
RESPONSIBILITY_ORGANISATIONS = [
    "Healthcare Improvement Scotland",
    "Welsh Government",
    "Department of Health, Northern Ireland",
]


class ValuesUpdateQuerySet(TrackedQuerySet):
    """bulk_update as one UPDATE … FROM (VALUES …) per batch on PostgreSQL.

    Django's bulk_update builds a CASE WHEN per object and field, which costs more CPU than
    everything else an editorial pass does; the rows written (and the history rows
    bulk_update_with_history writes beside them) are the same.
    """

    def bulk_update(self, objs, fields, batch_size=None):
        self._refuse_untracked("bulk_update")
        connection = connections[self.db]
        if connection.vendor != "postgresql":
            return super().bulk_update(objs, fields, batch_size=batch_size)
        meta = self.model._meta
        columns = [meta.get_field(name) for name in fields]
        quote = connection.ops.quote_name
        assignments = ", ".join(
            f"{quote(f.column)} = v.{quote(f.column)}::{f.db_type(connection)}" for f in columns
        )
        names = ", ".join(["pk"] + [quote(f.column) for f in columns])
        pk = meta.pk
        updated = 0
        batch_size = batch_size or 1000
        with connection.cursor() as cursor:
            for start in range(0, len(objs), batch_size):
                batch = objs[start : start + batch_size]
                row = "(" + ", ".join(["%s"] * (len(columns) + 1)) + ")"
                parameters = []
                for obj in batch:
                    parameters.append(pk.get_db_prep_save(obj.pk, connection))
                    parameters.extend(
                        f.get_db_prep_save(getattr(obj, f.attname), connection) for f in columns
                    )
                cursor.execute(
                    f"UPDATE {quote(meta.db_table)} AS t SET {assignments} "
                    f"FROM (VALUES {', '.join([row] * len(batch))}) AS v({names}) "
                    f"WHERE t.{quote(pk.column)} = v.pk::{pk.db_type(connection)}",
                    parameters,
                )
                updated += cursor.rowcount
        return updated


def values_update_manager(model):
    """A manager of model whose bulk_update is ValuesUpdateQuerySet's."""
    manager = models.Manager.from_queryset(ValuesUpdateQuerySet)()
    manager.model = model
    return manager


@dataclass
class Timeline:
    """Hands out strictly increasing change times between two dates."""

    start: datetime.datetime
    end: datetime.datetime
    steps: int
    _index: int = 0

    def next(self):
        step = (self.end - self.start) / max(self.steps, 1)
        moment = self.start + step * self._index
        self._index += 1
        return moment


@dataclass
class Result:
    documents: int = 0
    stubs: int = 0
    change_sets: int = 0
    history_rows: int = 0
    migrated: int = 0
    seconds: float = 0.0
    phases: dict = field(default_factory=dict)


class Writer:
    """Writes the data set; one method per kind of change a person makes."""

    def __init__(self, *, seed, log, share=0, shares=1):
        self.random = random.Random(seed)
        self.share, self.shares = share, shares
        self.log = log
        self.sentences = self._sentence_pool(3000)
        self.programmes = {p.code: p for p in Programme.objects.all()}
        self.stub_numbers = {}
        self.system = system_user()
        self.blocks = values_update_manager(Block)

    # -- text ------------------------------------------------------------------------------

    def _name(self, endings=("",)):
        r = self.random
        word = "".join(r.choice(SYLLABLES) for _ in range(r.randint(2, 3)))
        return (word + r.choice(endings)).capitalize()

    def _subjects(self):
        r = self.random
        return {
            "procedure": r.choice(PROCEDURES),
            "condition": r.choice(CONDITIONS),
            "technology": self._name(DRUG_ENDINGS),
            "company": r.choice(COMPANIES),
        }

    def _sentence_pool(self, size):
        r = self.random
        pool = []
        for _ in range(size):
            subjects = self._subjects()
            pool.append(
                r.choice(SENTENCE_TEMPLATES).format(
                    **subjects,
                    condition_cap=subjects["condition"][0].upper() + subjects["condition"][1:],
                    safety=r.choice(["serious complications", "no major safety concerns"]),
                    strength=r.choice(["adequate", "limited in quality and quantity"]),
                    anaesthesia=r.choice(["local anaesthesia", "general anaesthesia"]),
                    minutes=r.choice([20, 30, 45, 60, 90]),
                    n=r.randint(2, 12),
                    m=r.randint(1, 6),
                    patients=r.choice([100, 250, 1000, 2500, 10000]),
                    outcome=r.choice(OUTCOMES),
                    outcome2=r.choice(OUTCOMES),
                    complication=r.choice(COMPLICATIONS),
                    complication2=r.choice(COMPLICATIONS),
                    price=r.randint(2, 90) * 50,
                    icer=r.randint(8, 45) * 1000,
                )
            )
        return pool

    def paragraph(self, low=2, high=6):
        return " ".join(self.random.sample(self.sentences, self.random.randint(low, high)))

    def bullets(self):
        if self.random.random() < 0.25:
            return self.random.sample(BULLETS, self.random.randint(2, 4))
        return []

    def reword(self, text):
        """An editor's revision: one sentence rewritten, sometimes an update marker added."""
        sentences = text.split(". ")
        sentences[self.random.randrange(len(sentences))] = self.random.choice(
            self.sentences
        ).rstrip(".")
        revised = ". ".join(sentences)
        if not revised.endswith("."):
            revised += "."
        if self.random.random() < 0.2:
            revised += f" [amended {self.random.randint(2024, 2025)}]"
        return revised

    # -- document shapes -------------------------------------------------------------------

    def layout(self, code):
        """(number, title, [(sub-heading or '', paragraph count)]) per chapter, by programme."""
        r = self.random
        if code == "IPG" and r.random() < 0.5:
            return [
                ("2", "Indications and current treatments", [("", r.randint(2, 3))]),
                ("3", "The procedure", [("", r.randint(2, 4))]),
                ("4", "Efficacy", [("", r.randint(3, 6))]),
                ("5", "Safety", [("", r.randint(3, 5))]),
                ("6", "Committee comments", [("", r.randint(1, 3))]),
                ("7", "Further information", [("", 2)]),
            ]
        if code in {"IPG", "HTG"}:
            return [
                (
                    "2",
                    "The condition, current treatments and procedure",
                    [("The condition", 1), ("Current treatments", 1), ("The procedure", 2)],
                ),
                (
                    "3",
                    "Committee considerations",
                    [("The evidence", r.randint(3, 5)), ("Committee comments", r.randint(0, 3))],
                ),
            ]
        if code == "MTG":
            return [
                (
                    "2",
                    "The technology",
                    [("Description of the technology", 3), ("Current management", 3)],
                ),
                ("3", "Clinical evidence", [("Summary of clinical evidence", r.randint(3, 6))]),
                ("4", "NHS considerations", [("System impact", 2)]),
                ("6", "Conclusions", [("", 2)]),
            ]
        if code == "DG":
            return [
                ("2", "The diagnostic tests", [("Clinical need and practice", 3)]),
                ("3", "Evidence", [("Clinical effectiveness", 3), ("Cost effectiveness", 3)]),
                ("4", "Committee discussion", [("", r.randint(4, 8))]),
                ("5", "Implementation", [("", 2)]),
            ]
        if code in {"TA", "HST"}:
            return [
                (
                    "2",
                    "Information about the technology",
                    [("Marketing authorisation indication", 1), ("Price", 1)],
                ),
                (
                    "3",
                    "Committee discussion",
                    [
                        ("The condition", 2),
                        ("Clinical management", 2),
                        ("Clinical effectiveness", r.randint(3, 8)),
                        ("Cost effectiveness", r.randint(4, 10)),
                        ("Conclusion", 1),
                    ],
                ),
                ("4", "Implementation", [("", 3)]),
            ]
        if code == "QS":
            return [
                (str(n), f"Quality statement {n}", [("Rationale", 1), ("Quality measures", 2)])
                for n in range(1, r.randint(4, 7))
            ]
        # Guidelines (NG, CG, PH, SC)
        return [
            ("2", "Recommendations for research", [("", r.randint(2, 5))]),
            ("", "Rationale and impact", [("", r.randint(2, 4))]),
            ("", "Context", [("", r.randint(2, 4))]),
        ]

    def recommendations(self, code, vocabulary, subjects):
        """Blocks of the recommendations chapter: (kind, number, title, text, bullets, category)."""
        r = self.random
        wording = CATEGORY_WORDING[vocabulary]
        blocks = []
        if code == "MTG":
            blocks.append(("paragraph", "", "", self.paragraph(3, 5), [], ""))
        if vocabulary == "guideline":
            for section in range(1, r.randint(4, 9)):
                blocks.append(("heading", "", "", self.paragraph(1, 1)[:80].rstrip(". "), [], ""))
                for item in range(1, r.randint(3, 9)):
                    category, text = r.choice(wording)
                    text = text.format(**subjects) + " " + self.paragraph(0, 2)
                    number = f"1.{section}.{item}"
                    blocks.append(("recommendation", number, "", text, self.bullets(), category))
                if r.random() < 0.5:
                    blocks.append(
                        (
                            "rationale",
                            "",
                            "Why the committee made these recommendations",
                            self.paragraph(2, 4),
                            [],
                            "",
                        )
                    )
            return blocks
        for item in range(1, r.randint(2, 5)):
            category, text = wording[0] if item > 1 else r.choice(wording)
            text = text.format(**subjects) + " " + self.paragraph(0, 2)
            bullets = self.bullets()
            if category == "" and code != "QS":
                category = ""
            blocks.append(("recommendation", f"1.{item}", "", text, bullets, category))
        if code in {"TA", "HST"}:
            blocks.append(
                (
                    "rationale",
                    "",
                    "Why the committee made these recommendations",
                    self.paragraph(3, 5),
                    [],
                    "",
                )
            )
        return blocks

    def title(self, code, subjects):
        if code in {"NG", "CG", "PH", "SC"}:
            return self.random.choice(GUIDELINE_TOPICS)
        if code == "QS":
            return subjects["condition"][0].upper() + subjects["condition"][1:]
        if code in {"TA", "HST", "MTG", "DG"}:
            return f"{subjects['technology']} for treating {subjects['condition']}"
        return f"{subjects['procedure']} for {subjects['condition']}"

    # -- changes ---------------------------------------------------------------------------

    def stub(self, code):
        """A reference named only by a notice: an older number of the same programme."""
        free = self.stub_numbers.get(code)
        if free is None:
            taken = set(
                Guidance.objects.filter(programme__code=code, number__lt=FIRST_NUMBER).values_list(
                    "number", flat=True
                )
            )
            # Processes writing in parallel take different numbers.
            free = [
                n
                for n in range(100, FIRST_NUMBER)
                if n % self.shares == self.share and n not in SAMPLE_NUMBERS | taken
            ]
            self.random.shuffle(free)
            self.stub_numbers[code] = free
        if not free:
            return None
        number = free.pop()
        return Guidance(
            reference=f"{code}{number}",
            programme=self.programmes[code],
            number=number,
            status=GuidanceStatus.PUBLISHED,
            is_stub=True,
        )

    def import_documents(self, specs, organisations, *, user, reason, moment, source):
        """Write whole documents (record and every part) as one change, as an import does."""
        with recording(user=user, reason=reason, source=source) as change:
            change.effective_at = moment
            documents = self.documents(specs, organisations, moment)
            if len(documents) == 1:
                set_change_guidance(documents[0])
        return documents

    def documents(self, specs, organisations, moment):
        r = self.random
        guidance_rows, shapes = [], []
        for code, number in specs:
            programme = self.programmes[code]
            subjects = self._subjects()
            published = datetime.date(
                r.randint(2004, moment.year - 1), r.randint(1, 12), r.randint(1, 28)
            )
            guidance_rows.append(
                Guidance(
                    reference=f"{code}{number}",
                    programme=programme,
                    number=number,
                    title=self.title(code, subjects),
                    status=GuidanceStatus.PUBLISHED,
                    published_on=published,
                    published_precision=DatePrecision.DAY,
                    isbn=f"978-1-4731-{r.randint(1000, 9999)}-{r.randint(0, 9)}",
                    minor_changes_heading=(
                        "Minor changes after publication"
                        if published.year < 2015
                        else "Minor changes since publication"
                    ),
                )
            )
            shapes.append((code, programme, subjects, self.layout(code)))
        documents = bulk_create_with_history(guidance_rows, Guidance)

        chapter_rows = []
        for guidance, (_, _, _, layout) in zip(documents, shapes, strict=True):
            headings = [("1", "Recommendations")] + [(n, t) for n, t, _ in layout]
            chapter_rows.extend(
                Chapter(
                    guidance=guidance,
                    position=position,
                    number=number,
                    title=title,
                    slug=chapter_slug(number, title),
                )
                for position, (number, title) in enumerate(headings, start=1)
            )
        chapter_rows = iter(bulk_create_with_history(chapter_rows, Chapter))

        blocks, entries, endorsements, stubs, replacing = [], [], [], [], []
        for guidance, (code, programme, subjects, layout) in zip(documents, shapes, strict=True):
            recommendations = next(chapter_rows)
            for position, (kind, number, title, text, bullets, category) in enumerate(
                self.recommendations(code, programme.recommendation_vocabulary, subjects), start=1
            ):
                blocks.append(
                    Block(
                        guidance=guidance,
                        chapter=recommendations,
                        position=position,
                        kind=kind,
                        number=number,
                        title=title,
                        text=text,
                        bullets=bullets,
                        category=category,
                    )
                )
            for chapter_number, _, sections in layout:
                chapter = next(chapter_rows)
                position = itertools.count(1)
                paragraph_number = itertools.count(1)
                for heading, paragraphs in sections:
                    if heading:
                        blocks.append(
                            Block(
                                guidance=guidance,
                                chapter=chapter,
                                position=next(position),
                                kind=Block.Kind.HEADING,
                                text=heading,
                            )
                        )
                    for _ in range(paragraphs):
                        number = f"{chapter_number}.{next(paragraph_number)}"
                        blocks.append(
                            Block(
                                guidance=guidance,
                                chapter=chapter,
                                position=next(position),
                                kind=Block.Kind.PARAGRAPH,
                                number=number if chapter_number else "",
                                text=self.paragraph(),
                                bullets=self.bullets(),
                            )
                        )
            published = guidance.published_on
            for position in range(1, r.choice([0, 1, 1, 2, 3]) + 1):
                entries.append(
                    UpdateEntry(
                        guidance=guidance,
                        position=position,
                        date=datetime.date(
                            r.randint(published.year, moment.year - 1), r.randint(1, 12), 1
                        ),
                        precision=DatePrecision.MONTH,
                        kind=ChangeKind.MINOR,
                        text="Minor maintenance updates: " + self.paragraph(1, 1),
                    )
                )
            if r.random() < 0.3:
                organisation = r.choice(organisations)
                endorsements.append(
                    Endorsement(
                        guidance=guidance,
                        organisation=organisation,
                        statement=f"This guidance has been endorsed by {organisation.name}.",
                    )
                )
            if r.random() < 0.2 and (stub := self.stub(code)):
                stubs.append(stub)
                replacing.append(guidance)
        bulk_create_with_history(blocks, Block)
        if entries:
            bulk_create_with_history(entries, UpdateEntry)
        if endorsements:
            bulk_create_with_history(endorsements, Endorsement)
        if stubs:
            stubs = bulk_create_with_history(stubs, Guidance)
            bulk_create_with_history(
                [
                    Relation(
                        source=guidance,
                        type=RelationType.REPLACES,
                        target=stub,
                        effective_on=guidance.published_on.replace(day=1),
                        effective_precision=DatePrecision.MONTH,
                        note=f"This guidance replaces {stub.reference}.",
                    )
                    for guidance, stub in zip(replacing, stubs, strict=True)
                ],
                Relation,
            )
        return documents

    def revise(self, document_ids, *, per_document=None):
        """Reword the paragraphs and recommendations of the given documents."""
        blocks = list(
            Block.objects.filter(guidance_id__in=document_ids).exclude(kind=Block.Kind.HEADING)
        )
        if per_document:
            by_document = {}
            for block in blocks:
                by_document.setdefault(block.guidance_id, []).append(block)
            blocks = [
                block
                for group in by_document.values()
                for block in self.random.sample(group, min(len(group), per_document))
            ]
        for block in blocks:
            block.text = self.reword(block.text)
        # One statement per pass (and one for its history rows).
        bulk_update_with_history(
            blocks, Block, ["text"], batch_size=max(len(blocks), 1), manager=self.blocks
        )
        return len(blocks)

    def major_update(self, guidance, user, moment):
        """A publisher's major update: recommendations revised, an entry, 'Last updated' moves."""
        with recording(
            user=user,
            reason="Updated the recommendations after a review of new evidence",
            kind=ChangeKind.MAJOR,
            source=ChangeSet.Source.ADMIN,
            guidance=guidance,
        ) as change:
            change.effective_at = moment
            recommendations = list(
                Block.objects.filter(guidance=guidance, kind=Block.Kind.RECOMMENDATION)
            )
            for block in recommendations:
                block.text = self.reword(block.text) + f" [{moment.year}]"
            bulk_update_with_history(recommendations, Block, ["text"], manager=self.blocks)
            self.revise([guidance.id], per_document=4)
            services.add_major_update(
                guidance,
                text="We reviewed the evidence and updated the recommendations.",
                on=moment.date(),
            )
            guidance.version += 1
            guidance.save()

    def editorial_pass(self, document_ids, user, moment):
        """An editor's house-style pass over many documents, as one minor change."""
        with recording(
            user=user,
            reason="House style: plain English and corrected links",
            kind=ChangeKind.MINOR,
            source=ChangeSet.Source.ADMIN,
        ) as change:
            change.effective_at = moment
            return self.revise(document_ids)

    def withdraw(self, guidance, user, moment):
        reason = "Withdrawn: the technology is no longer available in the NHS"
        with recording(
            user=user, reason=reason, source=ChangeSet.Source.WORKFLOW, guidance=guidance
        ) as change:
            change.effective_at = moment
            guidance.withdraw(
                by=user,
                reason=reason,
                explanation=(
                    "This guidance has been withdrawn because the technology is no longer "
                    "available in the NHS."
                ),
            )

    def replace(self, newer, older, user, moment):
        reason = f"Recorded that {newer.reference} replaces {older.reference}"
        with recording(
            user=user, reason=reason, source=ChangeSet.Source.WORKFLOW, guidance=newer
        ) as change:
            change.effective_at = moment
            services.replace_guidance(
                guidance=newer,
                replaced=older,
                user=user,
                reason=reason,
                effective_on=moment.date().replace(day=1),
                note=f"This guidance replaces {older.reference}.",
            )

    def migrate(self, pairs, user, moment, reason):
        """Move documents to new references with the bulk migration workflow, as one change."""
        csv_text = "old reference,new reference,month\n" + "".join(
            f"{old},{new},{moment:%Y-%m}\n" for old, new in pairs
        )
        with recording(
            user=user, reason=reason, kind=ChangeKind.MINOR, source=ChangeSet.Source.WORKFLOW
        ) as change:
            change.effective_at = moment
            services.apply_bulk_migration(csv_text=csv_text, user=user, reason=reason)
        return len(pairs)


def history_row_count():
    return sum(model.objects.count() for model in ledger.history_models())


def users():
    """Editors, publishers and auditors who make and read the changes (no usable password)."""
    model = get_user_model()
    made = {}
    for role, count in (("editor", 16), ("publisher", 4), ("auditor", 2)):
        group = Group.objects.filter(name=f"{role.capitalize()}s").first()
        made[role] = []
        for n in range(1, count + 1):
            user, created = model.objects.get_or_create(
                username=f"{role}{n:02d}",
                defaults={
                    "first_name": role.capitalize(),
                    "last_name": f"{n:02d}",
                    "is_staff": True,
                },
            )
            if created:
                user.set_unusable_password()
                user.save()
                if group:
                    user.groups.add(group)
            made[role].append(user)
    return made


@contextlib.contextmanager
def receivers_paused(signal):
    """Pause cache purging while the data set is written: no server runs, nothing is cached."""
    saved = signal.receivers
    signal.receivers = []
    signal.sender_receivers_cache.clear()
    try:
        yield
    finally:
        signal.receivers = saved
        signal.sender_receivers_cache.clear()


def generate(*, documents=10_000, history_rows=1_000_000, seed=20190130, log=print, processes=1):
    """Fill an empty, migrated database with the data set; return what was made and how long.

    On PostgreSQL, processes > 1 writes different documents in parallel.
    """
    connection_created.connect(_commit_without_waiting)
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None:
            _commit_without_waiting(None, connection)
    try:
        with receivers_paused(change_committed):
            return _generate(
                documents=documents,
                history_rows=history_rows,
                seed=seed,
                log=log,
                processes=processes,
            )
    finally:
        connection_created.disconnect(_commit_without_waiting)


# Kept by PostgreSQL at every statement that writes blocks (migration 0004).
SEARCH_TRIGGERS = (
    "guidance_block_search_insert",
    "guidance_block_search_update",
    "guidance_block_search_delete",
)


def search_index_paused():
    """Stop keeping each document's search words at every write; search_index_resumed() redoes them.

    An editorial pass would otherwise recompute the words of every document it touches, once
    per statement: the largest part of PostgreSQL's work while the data set is written.
    """
    connection = connections["default"]
    # Inside a transaction (a test) writes may have left trigger events pending.
    if connection.vendor != "postgresql" or connection.in_atomic_block:
        return False
    with connection.cursor() as cursor:
        for trigger in SEARCH_TRIGGERS:
            cursor.execute(f"ALTER TABLE guidance_block DISABLE TRIGGER {trigger}")
    return True


def search_index_resumed():
    """Keep the search words at every write again, and compute every document's once."""
    connection = connections["default"]
    with connection.cursor() as cursor:
        for trigger in SEARCH_TRIGGERS:
            cursor.execute(f"ALTER TABLE guidance_block ENABLE TRIGGER {trigger}")
        # What migration 0004 runs to fill the table.
        cursor.execute(
            "SELECT guidance_search_document_refresh(ARRAY(SELECT id FROM guidance_guidance))"
        )


def analyse():
    """Give the planner statistics of the tables as they now are (autovacuum lags behind)."""
    connection = connections["default"]
    if connection.vendor == "postgresql" and not connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _commit_without_waiting(sender, connection, **kwargs):
    """Generating sessions do not wait for each commit to reach the disk.

    A crash loses the last changes whole (PostgreSQL stays consistent), and an unfinished
    data set is never kept: it is made again.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = off")


def _generate(*, documents, history_rows, seed, log, processes):
    started = time.perf_counter()
    result = Result()
    writer = Writer(seed=seed, log=log)
    people = users()
    r = writer.random
    system = writer.system

    with recording(user=system, reason="Loaded the organisations that endorse guidance") as change:
        change.effective_at = datetime.datetime(2024, 1, 8, 8, tzinfo=UTC)
        bulk_create_with_history(
            [Organisation(name=name) for name in RESPONSIBILITY_ORGANISATIONS], Organisation
        )
    codes = list(PROGRAMME_MIX)
    counters = {code: itertools.count(FIRST_NUMBER) for code in codes}
    specs = [
        (code, next(counters[code]))
        for code in r.choices(codes, [PROGRAMME_MIX[c] for c in codes], k=documents)
    ]
    # Nine in ten documents come with the catalogue in January 2024; the rest are published
    # one by one over the following two years.
    catalogue, later = specs[: documents * 9 // 10], specs[documents * 9 // 10 :]
    batches = [catalogue[start : start + 50] for start in range(0, len(catalogue), 50)]

    phase = time.perf_counter()
    paused = search_index_paused()
    in_parallel(processes, _import_share, seed=seed, batches=batches, log=log)
    analyse()
    result.phases["catalogue import"] = round(time.perf_counter() - phase, 1)

    # Two years of editing, month by month; editorial passes fill the history to its size.
    phase = time.perf_counter()
    ids = list(Guidance.objects.documents().order_by("id").values_list("id", flat=True))
    blocks_per_document = Block.objects.count() / max(len(ids), 1)
    # Single-document changes cost far more per history row than editorial passes.
    majors_per_month = max(1, documents // 200)
    pass_size = max(1, min(100, documents // 25))
    expected = (
        history_row_count()
        + len(later) * (blocks_per_document + 8)
        + len(MONTHS) * majors_per_month * 10
        + documents // 5 * 4
    )
    passes = max(0, int((history_rows - expected) / (pass_size * blocks_per_document * 0.9)))
    in_parallel(
        processes,
        _edit_share,
        seed=seed,
        ids=ids,
        later=later,
        majors=majors_per_month * len(MONTHS),
        passes=passes,
        pass_size=pass_size,
        log=log,
    )
    result.phases["two years of edits"] = round(time.perf_counter() - phase, 1)
    phase = time.perf_counter()
    if paused:
        search_index_resumed()
    result.phases["search index"] = round(time.perf_counter() - phase, 1)

    # The HealthTech migrations: MTGs in December 2025, half of the IPGs in January 2026
    # (the other half is left for the bulk-migration benchmark).
    phase = time.perf_counter()
    htg = itertools.count(FIRST_MIGRATED_HTG)
    for code, moment, share in (
        ("MTG", datetime.datetime(2025, 12, 10, 10, tzinfo=UTC), 1.0),
        ("IPG", datetime.datetime(2026, 1, 14, 10, tzinfo=UTC), 0.5),
    ):
        references = list(
            Guidance.objects.documents()
            .filter(programme__code=code, status=GuidanceStatus.PUBLISHED)
            .order_by("number")
            .values_list("reference", flat=True)
        )
        references = references[: int(len(references) * share)]
        for start in range(0, len(references), 1000):
            pairs = [(old, f"HTG{next(htg)}") for old in references[start : start + 1000]]
            result.migrated += writer.migrate(
                pairs,
                r.choice(people["publisher"]),
                moment,
                f"HealthTech migration of {code} guidance",
            )
    result.phases["migrations"] = round(time.perf_counter() - phase, 1)

    # Top up with editorial passes if the history is still short of its size.
    phase = time.perf_counter()
    ids = list(Guidance.objects.documents().values_list("id", flat=True))
    moments = Timeline(
        datetime.datetime(2026, 2, 2, 8, tzinfo=UTC),
        datetime.datetime(2026, 2, 27, tzinfo=UTC),
        500,
    )
    while (rows := history_row_count()) < history_rows:
        writer.editorial_pass(r.sample(ids, pass_size), r.choice(people["editor"]), moments.next())
    result.phases["top-up"] = round(time.perf_counter() - phase, 1)

    analyse()
    result.documents = Guidance.objects.documents().count()
    result.stubs = Guidance.objects.filter(is_stub=True).count()
    result.change_sets = ChangeSet.objects.count()
    result.history_rows = rows
    result.seconds = round(time.perf_counter() - started, 1)
    return result


MONTHS = [(2024, m) for m in range(2, 13)] + [(2025, m) for m in range(1, 12)]


def in_parallel(processes, work, **arguments):
    """Run work(share, shares, ...) in that many processes, or in this one when it is 1.

    Each process writes its own documents; their changes chain into the one ledger, whose
    lock serialises only the sealing of each change.
    """
    if processes == 1:
        work(0, 1, **arguments)
        return
    connections.close_all()
    context = multiprocessing.get_context("fork")
    children = [
        context.Process(target=work, args=(share, processes), kwargs=arguments)
        for share in range(processes)
    ]
    for child in children:
        child.start()
    for child in children:
        child.join()
    failed = [child.exitcode for child in children if child.exitcode]
    if failed:
        raise RuntimeError(f"{len(failed)} of {processes} generating processes failed")


def retried(change, *arguments, **keywords):
    """Make a change again when PostgreSQL chose it as a deadlock's victim (nothing was kept)."""
    for attempt in range(5):
        try:
            return change(*arguments, **keywords)
        except OperationalError as error:
            if "deadlock" not in str(error) or attempt == 4:
                raise
            time.sleep(0.05 * (attempt + 1))
    return None


def _import_share(share, shares, *, seed, batches, log):
    writer = Writer(seed=seed + share, log=log, share=share, shares=shares)
    organisations = list(Organisation.objects.all())
    mine = range(share, len(batches), shares)
    moments = Timeline(
        datetime.datetime(2024, 1, 8, 9, tzinfo=UTC) + datetime.timedelta(seconds=share),
        datetime.datetime(2024, 1, 31, 17, tzinfo=UTC),
        len(mine) + 1,
    )
    for done, index in enumerate(mine, start=1):
        part = batches[index]
        retried(
            writer.import_documents,
            part,
            organisations,
            user=writer.system,
            reason=f"Imported the NICE catalogue ({len(part)} documents)",
            moment=moments.next(),
            source=ChangeSet.Source.IMPORT,
        )
        if share == 0 and done % 20 == 0:
            log(f"  imported {done * shares * 50}/{len(batches) * 50} documents")


def _edit_share(share, shares, *, seed, ids, later, majors, passes, pass_size, log):
    """Two years of one share of the documents: publications, updates, passes, withdrawals."""
    writer = Writer(seed=seed + 100 + share, log=log, share=share, shares=shares)
    r = writer.random
    people = users()
    organisations = list(Organisation.objects.all())
    ids = ids[share::shares]
    later = iter(later[share::shares])
    per_month = len(MONTHS)
    for index, (year, month) in enumerate(MONTHS):
        publications = [next(later, None) for _ in range(len(ids) // 9 // per_month + 1)]
        mine = passes // shares + (share < passes % shares)
        events = (
            [("publish", spec) for spec in publications if spec]
            + [("major", None)] * (majors // shares // per_month)
            + [("pass", None)] * (mine // per_month + (index < mine % per_month))
            + [("withdraw", None), ("replace", None)]
        )
        r.shuffle(events)
        moments = Timeline(
            datetime.datetime(year, month, 1, 8, tzinfo=UTC) + datetime.timedelta(seconds=share),
            datetime.datetime(year, month, 28, 18, tzinfo=UTC),
            len(events),
        )
        for event, spec in events:
            moment = moments.next()
            if event == "publish":
                [document] = retried(
                    writer.import_documents,
                    [spec],
                    organisations,
                    user=r.choice(people["publisher"]),
                    reason=f"Published {spec[0]}{spec[1]}",
                    moment=moment,
                    source=ChangeSet.Source.ADMIN,
                )
                ids.append(document.id)
            elif event == "major":
                guidance = Guidance.objects.get(pk=r.choice(ids))
                retried(writer.major_update, guidance, r.choice(people["publisher"]), moment)
            elif event == "pass":
                size = min(pass_size, len(ids))
                chosen, editor = r.sample(ids, size), r.choice(people["editor"])
                retried(writer.editorial_pass, chosen, editor, moment)
            elif event == "withdraw":
                guidance = Guidance.objects.get(pk=r.choice(ids))
                if guidance.status == GuidanceStatus.PUBLISHED:
                    retried(writer.withdraw, guidance, r.choice(people["publisher"]), moment)
            elif len(ids) > 1:
                older, newer = Guidance.objects.filter(pk__in=r.sample(ids, 2)).order_by("pk")
                with contextlib.suppress(services.RefusedChange):
                    retried(writer.replace, newer, older, r.choice(people["publisher"]), moment)
        if share == 0:
            log(f"  edited {year}-{month:02d}: {history_row_count()} history rows")
