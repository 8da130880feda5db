"""The programme's 'Your responsibility' wording in force today, read once per site version.

Every overview shows it; it changes only with a programme or a statement, which moves the site
token (see purge), or at midnight. Each process keeps what it read under the site token's
version and the date, so an entry is never read once it is out of date.
"""

from django.conf import settings
from django.utils import timezone

from .tokens import SITE_TOKEN, versions

MAX_ENTRIES = 1000

statements = {}


def responsibility_statement(guidance):
    today = timezone.localdate()
    site = versions([SITE_TOKEN]) if getattr(settings, "GUIDANCE_PAGE_CACHE", True) else None
    if site is None:
        return guidance.responsibility_statement(on=today)
    key = (site, guidance.programme_id, today)
    try:
        return statements[key]
    except KeyError:
        pass
    if len(statements) > MAX_ENTRIES:
        statements.clear()
    statement = statements[key] = guidance.responsibility_statement(on=today)
    return statement
