"""In Chromium: every control's focus state is seen (3:1 or better, axe clean while focused), and
printed pages name the site, their address and the date, with links in full."""

import io
import re

import pypdf
import pytest

from tests.browser import needs_chromium
from tests.test_browser import WCAG_22_AA, Watched, site  # noqa: F401 - the fixture

pytestmark = [*needs_chromium]

# The focused control's indicator (its outline) against what is behind the control.
FOCUS_INDICATOR = """element => {
  const rgb = colour => colour.match(/[\\d.]+/g).map(Number);
  const channel = v => (v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
  const luminance = ([r, g, b]) => 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b);
  const contrast = (a, b) => {
    const [high, low] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (high + 0.05) / (low + 0.05);
  };
  const behind = node => {
    for (let n = node.parentElement; n; n = n.parentElement) {
      const colour = rgb(getComputedStyle(n).backgroundColor);
      if (colour.length < 4 || colour[3] > 0) return colour.slice(0, 3);
    }
    return [255, 255, 255];
  };
  const style = getComputedStyle(element);
  return {
    control: `${element.tagName} ${element.textContent.trim() || element.name}`.slice(0, 50),
    style: style.outlineStyle,
    width: parseFloat(style.outlineWidth),
    contrast: contrast(rgb(style.outlineColor).slice(0, 3), behind(element)),
  };
}"""


@pytest.fixture
def watched(browser, site):  # noqa: F811 - the fixture imported above
    watched = Watched(browser, site)
    yield watched
    watched.close()


def tab_stops(page, limit=80):
    """Press Tab through the page; the focus state of every control it stops at."""
    seen = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        handle = page.evaluate_handle("document.activeElement")
        if page.evaluate("element => element === document.body", handle):
            break
        stop = page.evaluate(FOCUS_INDICATOR, handle)
        if seen and stop == seen[0]:
            break
        seen.append(stop)
    return seen


@pytest.mark.parametrize(
    "path", ["/guidance/", "/guidance/htg501/", "/guidance/htg501/chapter/1-recommendations/"]
)
def test_every_control_shows_its_focus_at_3_to_1_or_better(watched, path):
    watched.open(path)

    stops = tab_stops(watched.page)

    assert len(stops) > 8
    for stop in stops:
        assert stop["style"] != "none" and stop["width"] >= 2, stop
        assert stop["contrast"] >= 3, stop


@pytest.mark.parametrize(
    ("path", "control"),
    [
        ("/guidance/", "button[type=submit]"),
        ("/guidance/", "input[name=q]"),
        ("/guidance/", "select[name=programme]"),
        ("/guidance/htg501/", ".guidance-tabs__link[aria-current]"),
        ("/guidance/htg501/", ".pdf-link a"),
        ("/guidance/htg501/", ".contents a[aria-current]"),
        ("/guidance/htg501/", ".breadcrumbs a"),
    ],
)
def test_axe_finds_nothing_while_a_control_is_focused(watched, path, control):
    from axe_playwright_python.sync_playwright import Axe  # noqa: PLC0415

    watched.open(path)
    target = watched.page.locator(control).first
    target.focus()
    assert target.evaluate("element => element === document.activeElement")
    results = Axe().run(
        watched.page,
        options={"runOnly": {"type": "tag", "values": WCAG_22_AA}, "resultTypes": []},
    )
    assert results.violations_count == 0, results.generate_report()


def test_the_focused_search_button_is_black_on_yellow(watched):
    watched.open("/guidance/")
    button = watched.page.locator("button[type=submit]")
    button.focus()
    colours = button.evaluate(
        "b => [getComputedStyle(b).color, getComputedStyle(b).backgroundColor]"
    )
    assert colours == ["rgb(14, 14, 14)", "rgb(255, 221, 0)"]


def printed(watched, path):
    """The text of each page Chromium prints of a path."""
    watched.open(path)
    pages = pypdf.PdfReader(io.BytesIO(watched.page.pdf())).pages
    return [" ".join(page.extract_text().split()) for page in pages]


def test_every_printed_page_names_the_site_its_address_and_the_date(watched):
    pages = printed(watched, "/guidance/htg501/whole/")

    assert len(pages) > 1
    address = f"{watched.base_url}/guidance/htg501/whole/"
    for page in pages:
        assert re.search(
            rf"Guidance registry · {re.escape(address)} · printed \d{{1,2}} \w+ \d{{4}}", page
        ), page[:200]


def test_printed_links_give_their_full_address(watched):
    text = " ".join(printed(watched, "/guidance/htg501/"))

    assert f"IPG420 ({watched.base_url}/guidance/ipg420/)" in text
    assert "Download guidance" not in text
    assert "Skip to content" not in text
