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


# The terms each page links at their first use (issue 50: "a glossary reachable from every term's first use on a page")
FIRST_USES = {"overview": ["elbo", "mode-collapse", "gmm-prior"], "compare": ["gmm-prior"],
              "fid": ["fid", "precision-recall", "is"], "anomalies": ["elbo", "roc-auc"],
              "latent_space": ["posterior-collapse", "kl", "active-units"],
              "collapse": ["mode-collapse", "precision-recall", "model-collapse"]}


@pytest.mark.parametrize("page", sorted(FIRST_USES))
def test_each_page_links_its_terms_to_the_glossary(page):
    text = (REPO / "demo" / "app_pages" / f"{page}.py").read_text(encoding="utf-8")
    linked = re.findall(r"ui\.term\(\"([a-z-]+)\"", text)
    assert set(FIRST_USES[page]) <= set(linked), sorted(set(FIRST_USES[page]) - set(linked))


def test_the_fid_page_links_its_measures_in_its_first_words(monkeypatch, tiny_checkpoints):
    from test_app import assert_clean, new_app, open_page

    at = new_app(monkeypatch, tiny_checkpoints)
    at.run()
    open_page(at, "fid")
    assert_clean(at)
    header = at.caption[0].value
    assert all(f"(glossary#{anchor})" in header for anchor in ("fid", "precision-recall", "is")), header
