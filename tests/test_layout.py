"""Layout checks that can fail (issue 50): every page in Debian's Chromium at a laptop's 1366 x 768 and a
projector's 1920 x 1080, plain and in presenter mode (``?present=1``), with nothing wider than the window and no two
texts on top of each other.

The check runs in the page (``LAYOUT_CHECK``, one JavaScript function) once the page has finished running:

- *overflow*: the page scrolls sideways (the document, the main column or the sidebar is wider than its box), or a
  visible text element ends right of the window;
- *overlap*: two visible text elements, neither inside the other, whose letters cross by more than 2 px both ways
  (the box of each element's text lines, without padding or leading: a slider's value stands under its label, their
  line boxes touching by a few pixels, by Streamlit's design).

Text elements: paragraphs, headings, list items, table cells, labels, buttons, summaries, captions, metric
values, and the text-holding ``div``s of Markdown (a row of captions). A box that scrolls or clips its own content
(``overflow`` other than visible: a wide table in a scrolling wrapper, a formula) cuts what is inside it to its own
box: scrolling there is on purpose, neither overflow nor overlap. Not looked into at all, as they draw or scroll
their content themselves: dataframes (a canvas grid), code blocks, Plotly and Vega charts, formulas (KaTeX places
its glyphs on top of each other on purpose), SVG, and tooltips.

Each page is checked as it opens and again with every expander opened. Marked e2e (a server and a browser, 52
page visits: about 3 minutes on a busy 2-core CPU); CI installs chromium and runs it. The app is served with the
shipped checkpoints (``checkpoints/``): the Overview's cards show their metrics.json tables, which the tiny
checkpoints of the other browser tests do not have.
"""

from __future__ import annotations

import pytest

from conftest import REPO, require_tools  # noqa: E402

import page_list  # noqa: E402
from local_server import READY, streamlit_server  # noqa: E402

pytestmark = pytest.mark.e2e

LAYOUT_CHECK = """() => {
  const W = window.innerWidth, SLACK = 1, CROSS = 2;
  const TEXT = "p, h1, h2, h3, h4, h5, h6, li, th, td, label, button, summary, [data-testid='stCaptionContainer'], "
    + "[data-testid='stMetricValue'], [data-testid='stMetricLabel'], [data-testid='stMarkdownContainer'] div";
  const SKIP = "[data-testid='stDataFrame'], [data-testid='stCode'], pre, "
    + ".js-plotly-plot, [data-testid='stVegaLiteChart'], .katex, svg, [data-baseweb='tooltip'], "
    + "[data-testid='stTooltipContent'], [data-testid='stToolbar']";
  const sidebar = document.querySelector("[data-testid='stSidebar']");
  const folded = sidebar && sidebar.getBoundingClientRect().right <= 0;  // presenter mode folds it out of the window
  const PAGE = [document.scrollingElement, document.querySelector("[data-testid='stMain']"),
                folded ? null : document.querySelector("[data-testid='stSidebarContent']")].filter(Boolean);
  const name = (el) => {
    const holder = el.closest("[data-testid]");
    const text = (el.innerText || "").trim().replace(/\\s+/g, " ").slice(0, 50);
    return `${el.tagName.toLowerCase()}${holder ? `[${holder.dataset.testid}]` : ""} "${text}"`;
  };
  const ownText = (el) => [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  const ink = (el) => {  // where el's letters are: the union of its text's line boxes (no leading, no padding)
    const box = {left: Infinity, right: -Infinity, top: Infinity, bottom: -Infinity}, range = document.createRange();
    const walker = document.createTreeWalker(el, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      if (!node.textContent.trim()) continue;
      range.selectNodeContents(node);
      for (const r of range.getClientRects()) {
        if (r.width < 1 || r.height < 1) continue;
        box.left = Math.min(box.left, r.left); box.right = Math.max(box.right, r.right);
        box.top = Math.min(box.top, r.top); box.bottom = Math.max(box.bottom, r.bottom);
      }
    }
    return box;
  };
  const seen = (el, box) => {  // the part of box not cut off by a box that scrolls or clips (below the page's own)
    box = {...box};
    for (let up = el.parentElement; up && !PAGE.includes(up); up = up.parentElement) {
      const style = getComputedStyle(up), b = up.getBoundingClientRect();
      if (style.overflowX !== "visible") {
        box.left = Math.max(box.left, b.left); box.right = Math.min(box.right, b.right);
      }
      if (style.overflowY !== "visible") {
        box.top = Math.max(box.top, b.top); box.bottom = Math.min(box.bottom, b.bottom);
      }
    }
    return box;
  };
  const texts = [];
  for (const el of document.querySelectorAll(TEXT)) {
    if (el.closest(SKIP) || !(el.innerText || "").trim() || (folded && sidebar.contains(el))) continue;
    if (el.tagName === "DIV" && !ownText(el)) continue;  // a Markdown div that only holds other blocks
    if (!el.checkVisibility({checkOpacity: false, checkVisibilityCSS: true})) continue;
    const r = el.getBoundingClientRect();
    const box = seen(el, {left: r.left, right: r.right, top: r.top, bottom: r.bottom}), letters = seen(el, ink(el));
    if (letters.right - letters.left < 1 || letters.bottom - letters.top < 1) continue;  // hidden, or scrolled away
    texts.push({el, box, letters});
  }
  const problems = [];
  for (const scroller of PAGE) {
    if (scroller.scrollWidth > scroller.clientWidth + SLACK)
      problems.push(`overflow: ${scroller === document.scrollingElement ? "the document" : scroller.dataset.testid} `
                    + `is ${scroller.scrollWidth} px wide in ${scroller.clientWidth} px (it scrolls sideways)`);
  }
  for (const {el, box, letters} of texts) {
    const right = Math.max(box.right, letters.right);
    if (right > W + SLACK) problems.push(`overflow: ${name(el)} ends at x=${Math.round(right)} > ${W}`);
  }
  for (let i = 0; i < texts.length; i++) {
    for (let j = i + 1; j < texts.length; j++) {
      const a = texts[i], b = texts[j];
      if (a.el.contains(b.el) || b.el.contains(a.el)) continue;
      const x = Math.min(a.letters.right, b.letters.right) - Math.max(a.letters.left, b.letters.left);
      const y = Math.min(a.letters.bottom, b.letters.bottom) - Math.max(a.letters.top, b.letters.top);
      if (x > CROSS && y > CROSS)
        problems.push(`overlap: ${name(a.el)} and ${name(b.el)} cross by ${Math.round(x)} x ${Math.round(y)} px`);
    }
  }
  return problems;
}"""

# a page that is all wrong: two paragraphs on top of each other and a heading wider than the window; and one with
# what must not count: texts side by side, a wide table that scrolls in its own box, a text inside another, and two
# lines whose boxes cross in their leading only
BAD_PAGE = """<body style="margin:0">
<p id="one" style="position:absolute; left:10px; top:10px; width:200px; margin:0">The first paragraph</p>
<p id="two" style="position:absolute; left:60px; top:15px; width:200px; margin:0">The second paragraph</p>
<h2 style="position:absolute; left:0; top:100px; width:900px; margin:0">A heading wider than the window</h2>
</body>"""
GOOD_PAGE = """<body style="margin:0">
<div style="display:flex; gap:8px"><p style="flex:1; margin:0">Left</p><p style="flex:1; margin:0">Right</p></div>
<div style="overflow-x:auto; width:300px"><table style="width:1200px"><tr><th>measure</th><th>domain</th></tr>
<tr><td>FID</td><td>195.358</td></tr></table></div>
<ul><li><p>an item's paragraph is inside the item: not an overlap</p></li></ul>
<p style="line-height:3; margin:0">A slider's label</p><p style="line-height:3; margin:-20px 0 0">and its value</p>
</body>"""  # the last two: their line boxes cross (a slider's value under its label), their letters do not

# Names from the code and its files that a visitor must not read (issue 50: "no code or file names in what a visitor
# reads"; they stay in help texts, the tooltips behind a "?", for developers). Matched as whole words, case-sensitive.
CODE_NAMES = ["pixel_error", "bernoulli_elbo", "feature_error", "elbo_error", "discriminator_score", "lenet-mnist", "lenet-fashion-mnist",
              "fashion-mnist", "metrics.json", "config.json", "history.jsonl", "quality.jsonl", "model.safetensors",
              "latent_gmm", "page_cache", "loss_discriminator", "loss_generator", "loss_encoder", "loss_decoder",
              "loss_gan_decoder", "feature_nll", "recon_mse", "d_accuracy", "d_real", "d_fake", "d_recon",
              "fid_domain_train", "train_seconds", "images_per_second", "latent_dim", "intra_fid", "label_adherence",
              "label_probe", "active_units", "closer_than_test", "vaegan eval", "vaegan train", "vaegan fit-gmm",
              "vaegan anomaly", "--track-fid", "None", "NaN", "nan", "Traceback", "invalid literal", "st.session_state"]
# the visible words of the main column: no icon names (Streamlit writes a Material icon as its name in an icon font)
VISIBLE_WORDS = """() => {
  const main = document.querySelector("[data-testid='stMain']").cloneNode(true);
  main.querySelectorAll("[data-testid='stIconMaterial'], [data-testid='stTooltipIcon'], style, script")
    .forEach((e) => e.remove());
  const hidden = document.createElement("div");
  hidden.style.cssText = "position:absolute; left:-99999px; width:1900px";
  hidden.appendChild(main); document.body.appendChild(hidden);
  const text = main.innerText; hidden.remove(); return text;
}"""


def code_names(text: str) -> list[str]:
    """The code names of ``CODE_NAMES`` in ``text``, each as a problem with the words around it."""
    import re

    found = []
    for name in CODE_NAMES:
        for match in re.finditer(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", text):
            around = text[max(0, match.start() - 40):match.end() + 40].replace("\n", " ")
            found.append(f"code name: {name!r} in \"...{around}...\"")
    return found


SIZES = {"1366x768": (1366, 768), "1920x1080": (1920, 1080)}
MODES = {"plain": "", "presenter": "present=1"}
# the Latent map with PCA: UMAP's first compile is minutes on a busy CPU, and the layout is the same
LINKS = {"latent_map": "latent_map?projection=pca"}


def test_the_layout_check_reports_overflow_and_overlap(browser):
    """The check can fail: it reports the overlapping paragraphs and the too wide heading, and nothing where texts
    stand side by side or a wide table scrolls inside its own box."""
    page = browser.new_page(viewport={"width": 800, "height": 600})
    page.set_content(BAD_PAGE)
    problems = page.evaluate(LAYOUT_CHECK)
    assert any(p.startswith("overlap:") and "first paragraph" in p and "second paragraph" in p
               for p in problems), problems
    assert any(p.startswith("overflow:") and "A heading wider" in p for p in problems), problems
    assert any("the document is" in p for p in problems), problems  # and the window scrolls sideways
    page.set_content(GOOD_PAGE)
    assert page.evaluate(LAYOUT_CHECK) == []
    page.close()


def test_the_wording_check_finds_code_names():
    """The check can fail: code names are found as whole words, ordinary words holding them are not."""
    assert code_names("AUC 0.93 (pixel_error); see metrics.json") and len(code_names("x pixel_error y")) == 1
    assert code_names("None of them") and code_names("an FID of nan")
    assert not code_names("Nonetheless the nanometre scale; Fashion-MNIST; vaegan")


@pytest.fixture(scope="module")
def server():
    require_tools()
    try:
        with streamlit_server({"VAEGAN_CHECKPOINTS_DIR": str(REPO / "checkpoints")}, timeout=120) as url:
            yield url
    except RuntimeError as error:
        pytest.fail(str(error))


def settled(page) -> None:
    """Wait until the page has finished running, shows no spinner, and its pictures have loaded."""
    page.wait_for_selector(READY, timeout=180_000)
    page.wait_for_function("() => !document.querySelector(\"[data-testid='stSpinner']\")", timeout=180_000)
    page.wait_for_selector(READY, timeout=180_000)
    page.wait_for_function("() => [...document.images].every((image) => image.complete)", timeout=30_000)
    page.wait_for_timeout(500)  # fonts and the last layout pass


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", page_list.PAGES)
def test_the_page_fits_the_window(server, browser, name, size, mode):
    """Nothing overflows the window sideways and no two texts overlap, on every page, at both sizes, both modes:
    as the page opens, and again with every expander opened (presenter mode folds explanations and numbers into
    them); in presenter mode the sidebar is folded away. At 1920 x 1080, plain, with the expanders open, the page's
    words hold no code name (``CODE_NAMES``). Train live is visited too: its page shows the run's settings and starts
    nothing until Start is pressed."""
    width, height = SIZES[size]
    page = browser.new_page(viewport={"width": width, "height": height})
    link = LINKS.get(name, page_list.url_path(name))
    query = MODES[mode]
    page.goto(f"{server}/{link}" + (("&" if "?" in link else "?") + query if query else ""))
    settled(page)
    assert page.locator("[data-testid='stException']").count() == 0, name
    if mode == "presenter":  # a projector's screen is for the figures: the sidebar is folded away
        sidebar = page.evaluate("() => document.querySelector(\"[data-testid='stSidebar']\").getBoundingClientRect().right")
        assert sidebar <= 0, f"{name} at {size}: presenter mode left the sidebar open ({sidebar:.0f} px)"
    problems = page.evaluate(LAYOUT_CHECK)
    page.evaluate("() => document.querySelectorAll('details:not([open]) > summary').forEach((s) => s.click())")
    settled(page)
    problems += [f"(expanders open) {problem}" for problem in page.evaluate(LAYOUT_CHECK)]
    if (size, mode) == ("1920x1080", "plain"):
        words = page.evaluate(VISIBLE_WORDS)
        assert len(words.split()) > 5, f"{name}: no words read from the page ({words!r})"  # the check saw the page
        problems += code_names(words)
    page.close()
    shown = problems[:40] + ([f"... and {len(problems) - 40} more"] if len(problems) > 40 else [])
    assert not problems, f"{name} at {size}, {mode}: {len(problems)} problems\n" + "\n".join(shown)
