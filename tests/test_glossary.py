"""The glossary (issue 50): a page with every term, each reachable by its anchor, and every link to it from a page
names an entry that exists."""

from __future__ import annotations

import re

import pytest

from conftest import REPO
from glossary_terms import TERMS, term  # demo/ (conftest puts it on the path)

pytest.importorskip("streamlit")


def test_every_term_has_a_name_and_a_few_sentences():
    for anchor, (name, meaning) in TERMS.items():
        assert re.fullmatch(r"[a-z][a-z-]*", anchor) and name and meaning.count(".") >= 1, anchor
    assert term("fid") == "[FID (Fréchet Inception Distance)](glossary#fid)" and term("kl", "KL") == "[KL](glossary#kl)"
    with pytest.raises(KeyError):
        term("no-such-term")


def test_every_link_into_the_glossary_names_an_entry():
    """Links spelled out (glossary#anchor) or made by ui.term("anchor") in the apps' sources."""
    found = set()
    for path in sorted((REPO / "demo").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        found |= set(re.findall(r"glossary#([a-z-]+)", text)) | set(re.findall(r"ui\.term\(\"([a-z-]+)\"", text))
    assert found, "no page links a term to the glossary"
    assert found <= set(TERMS), sorted(found - set(TERMS))


def test_the_glossary_page_shows_each_term_and_a_page_links_its_first_use(monkeypatch, tiny_checkpoints):
    from test_app import assert_clean, new_app, open_page

    at = new_app(monkeypatch, tiny_checkpoints)
    at.run()
    open_page(at, "glossary")
    assert_clean(at)
    shown = {header.proto.anchor for header in at.subheader}
    assert set(TERMS) <= shown
    open_page(at, "compare")
    assert_clean(at)
    assert any("glossary#gmm-prior" in caption.value for caption in at.caption)
