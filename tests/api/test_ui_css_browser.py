"""The stylesheet in a real browser (Debian Chromium through Playwright, no server): a facet's
count stays on one line beside the first line of its value, however long the value (a count
used to break between its digits when a long keyword wrapped, so "21" read as "2" and a "1" a
line below)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.browser import chromium, playwright_or_skip, shot
from tests.support.data import REPO

playwright_or_skip()

pytestmark = [pytest.mark.browser]

VALUES = {
    "short": 12,
    "a very long keyword that surely wraps over two lines in the facet column": 7,
    "supercalifragilisticexpialidocious-keyword-without-any-spaces-at-all": 3,
    "natural language processing": 21,
    "computer vision and image classification benchmarks": 1234,
}


def _facet_page() -> str:
    """A keyword facet as api/ui/templates/search.html writes it, styled by the real ui.css."""
    css = (REPO / "api" / "ui" / "static" / "ui.css").read_text()
    items = "".join(
        f'<li><input type="checkbox" id="f-{i}" name="keyword" value="{value}">'
        f'<label for="f-{i}">{value}\n<span class="count">{count}</span></label></li>'
        for i, (value, count) in enumerate(VALUES.items())
    )
    return (
        f"<!doctype html><html><head><style>{css}</style></head><body><main>"
        f'<div class="layout"><aside class="facets"><fieldset class="facet">'
        f"<legend>Keyword</legend><ul>{items}</ul></fieldset></aside>"
        f'<section class="results">results</section></div></main></body></html>'
    )


def test_a_facet_count_stays_whole_on_the_first_line_of_its_value() -> None:
    with chromium() as browser:
        page: Any = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_content(_facet_page())
        rows = page.eval_on_selector_all(
            ".facet li",
            """items => items.map(li => {
                const label = li.querySelector('label').getBoundingClientRect();
                const count = li.querySelector('.count');
                const range = document.createRange();
                range.selectNodeContents(count);  // the count's text, one rect per line box
                const lines = Array.from(range.getClientRects());
                const line = parseFloat(getComputedStyle(li.querySelector('label')).lineHeight);
                return {text: count.textContent, countLines: lines.length,
                        countTop: lines[0].top, labelTop: label.top,
                        labelHeight: label.height, line: line};
            })""",
        )
        shot(page, "facet-counts")
        page.close()
    assert [r["text"] for r in rows] == [str(c) for c in VALUES.values()]
    wrapped = [r for r in rows if r["labelHeight"] > 1.5 * r["line"]]
    assert len(wrapped) >= 2  # the long values do wrap in the facet column
    for row in rows:
        assert row["countLines"] == 1, row  # the count is on one line, whole
        assert row["countTop"] - row["labelTop"] < row["line"], row  # beside the first line
