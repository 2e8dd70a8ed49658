"""The HTML leaderboard is rendered from the package's Jinja2 templates: every template is
found, an edit to one shows up in the page, a missing value raises, and names are escaped
exactly once wherever they appear (text, attributes, <pre>)."""
import json
from html.parser import HTMLParser
from importlib import resources

import jinja2
import pytest

from benchmark.reporting import html
from benchmark.reporting.leaderboard import build_leaderboard
from records import make_record

TEMPLATES = {"leaderboard.html.j2", "leaderboard.css", "leaderboard.js"}
FIGURES = {f"{n}.png": b"\x89PNG fake" for n in ("accuracy_curves", "auc_bars", "teacher_on_queried")}
HOSTILE_METHOD = "</script><script>alert(\"m\")</script>"
HOSTILE_TASK = "x'\"><img src=x onerror=alert(1)>"
HOSTILE_PARAM = "</pre><b>&"


def _template_text(name: str) -> str:
    return resources.files("benchmark.reporting").joinpath("templates", name).read_text(encoding="utf-8")


def _page(task: str = "digits", method: str = "margin", params: dict | None = None) -> str:
    recs = [make_record(m, s, [0.5, a + 0.01 * s], task=task, params=params if m == method else None)
            for s in range(2) for m, a in ((method, 0.7), ("random", 0.6))]
    return html.render_html(build_leaderboard(recs), FIGURES)


def test_the_package_loader_finds_every_template():
    assert TEMPLATES <= set(html.environment().list_templates())
    assert html.PAGE_TEMPLATE in TEMPLATES


def test_the_page_inlines_the_stylesheet_and_the_script_files():
    page = _page()
    assert f"<style>\n{_template_text('leaderboard.css')}</style>\n" in page
    assert f"<script>\n{_template_text('leaderboard.js')}</script>\n</body>\n</html>\n" in page
    assert page.count("<script>") == 1 and page.count("<style>") == 1 and "<link" not in page


def test_an_edited_template_shows_up_in_the_page(monkeypatch):
    env = html.environment()
    edited = {"leaderboard.html.j2": _template_text("leaderboard.html.j2").replace("<h2>Plots</h2>",
                                                                                 "<h2>Edited plots</h2>"),
              "leaderboard.css": "body{color:red}\n", "leaderboard.js": "/* edited */\n"}
    monkeypatch.setattr(env, "loader", jinja2.ChoiceLoader([jinja2.DictLoader(edited), env.loader]))
    page = _page()
    assert "<h2>Edited plots</h2>" in page and "<h2>Plots</h2>" not in page
    assert "<style>\nbody{color:red}\n</style>" in page and "<script>\n/* edited */\n</script>" in page


def test_every_value_the_page_uses_must_be_given(monkeypatch):
    """StrictUndefined: leaving out any one context value raises instead of printing ''."""
    seen = {}
    render = html.render_page
    monkeypatch.setattr(html, "render_page", lambda template, **context: seen.update(context) or "")
    _page()
    monkeypatch.undo()
    assert seen and render(html.PAGE_TEMPLATE, **seen).startswith("<!DOCTYPE html>\n")
    for key in seen:
        with pytest.raises(jinja2.UndefinedError):
            render(html.PAGE_TEMPLATE, **{k: v for k, v in seen.items() if k != key})


def test_an_unknown_template_raises():
    with pytest.raises(jinja2.TemplateNotFound):
        html.render_page("no_such_page.html.j2")


class _Parsed(HTMLParser):
    """What a browser's parser sees: start tags with their attributes, and the text of each tag."""

    def __init__(self, page: str):
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.text: dict[str, list[str]] = {}
        self._open: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._open.append(tag)

    def handle_endtag(self, tag):
        if tag in self._open:
            del self._open[len(self._open) - 1 - self._open[::-1].index(tag):]

    def handle_data(self, data):
        if self._open:
            self.text.setdefault(self._open[-1], []).append(data)


def test_hostile_names_are_escaped_exactly_once():
    page = _page(task=HOSTILE_TASK, method=HOSTILE_METHOD, params={"p": HOSTILE_PARAM})
    parsed = _Parsed(page)
    assert [t for t, _ in parsed.tags].count("script") == 1 and [t for t, _ in parsed.tags].count("img") == 3
    rows = [a for t, a in parsed.tags if t == "tr" and "data-method" in a]
    assert {a["data-method"] for a in rows} == {HOSTILE_METHOD, "random"}
    assert {a["data-task"] for a in rows} == {HOSTILE_TASK}
    assert HOSTILE_METHOD in parsed.text["td"] and HOSTILE_TASK in parsed.text["td"]
    assert f'{{"p": "{HOSTILE_PARAM}"}}' in parsed.text["td"]  # the methods table's parameters
    assert any(f'"name": {json.dumps(HOSTILE_TASK)}' in t for t in parsed.text["pre"])  # the resolved task configuration
    # the standard library's entities, as the page has always written them, and nothing escaped twice
    assert 'data-method="&lt;/script&gt;&lt;script&gt;alert(&quot;m&quot;)&lt;/script&gt;"' in page
    assert 'data-task="x&#x27;&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"' in page
    assert "&amp;lt;" not in page and "&amp;quot;" not in page and "&amp;#x27;" not in page
