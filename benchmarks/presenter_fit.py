"""Does each page fit one projector screen in presenter mode? Issue 21: "keeps each page within one screen at
1920x1080 where it can".

    python benchmarks/presenter_fit.py

Starts `streamlit run demo/app.py` on 127.0.0.1 (the shipped checkpoints, or $VAEGAN_CHECKPOINTS_DIR), opens every
page with `?present=1` in Debian's Chromium at 1920 x 1080 and measures the height of the page's content (the
main column's scroll height), where the page's main figure ends (the bottom of its first picture, chart or table) and
the sidebar's width (presenter mode folds it away). Prints one Markdown table: the heights in pixels, in screens of
1080, and whether the main figure is whole on the first screen.
The Latent map opens with PCA (UMAP's first compile is minutes on a busy CPU; the layout is the same).
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tools"), str(REPO / "demo")]  # local_server; page_list
from local_server import CHROMIUM, CHROMIUM_ARGS, READY, streamlit_server  # noqa: E402
import page_list  # noqa: E402
from page_list import url_path  # noqa: E402

PAGES = [{"latent_map": "latent_map?projection=pca"}.get(name, url_path(name)) for name in page_list.PAGES
         if name != "train_live"]
SCREEN = (1920, 1080)
FIGURES = ("[data-testid='stImage']", "[data-testid='stPlotlyChart']", "[data-testid='stVegaLiteChart']",
           "[data-testid='stDataFrame']", "[data-testid='stMarkdownContainer'] table", "[data-testid='stImageContainer']")
FIGURE = """(selectors) => {  // the bottom of the page's first figure, in page pixels (null: the page has none)
  const figures = selectors.flatMap(s => [...document.querySelectorAll("[data-testid='stMain'] " + s)])
    .map(e => e.getBoundingClientRect()).filter(r => r.height > 0);
  if (!figures.length) return null;
  const first = figures.reduce((a, b) => (b.top < a.top ? b : a));
  return first.bottom + window.scrollY;
}"""
SIDEBAR = """() => { const s = document.querySelector("[data-testid='stSidebar']");
  return s ? Math.max(0, Math.round(s.getBoundingClientRect().right)) : 0; }"""  # 0: folded away
HEIGHT = """() => {
  const main = document.querySelector("[data-testid='stMain']") || document.scrollingElement;
  return Math.max(main.scrollHeight, document.scrollingElement.scrollHeight);
}"""


def main() -> None:
    from playwright.sync_api import sync_playwright

    rows = []
    with streamlit_server(timeout=180) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for name in PAGES:
            page = browser.new_page(viewport={"width": SCREEN[0], "height": SCREEN[1]})
            joiner = "&" if "?" in name else "?"
            page.goto(f"{url}/{name}{joiner}present=1")
            page.wait_for_selector(READY, timeout=600_000)
            page.wait_for_timeout(1500)  # images and charts settle
            height = page.evaluate(HEIGHT)
            figure = page.evaluate(FIGURE, list(FIGURES))
            rows.append((name.split("?")[0] or "overview", height, figure, page.evaluate(SIDEBAR)))
            page.close()
        browser.close()
    print(f"| page (presenter mode, {SCREEN[0]} x {SCREEN[1]}) | content height (px) | screens | main figure ends at "
          "(px) | main figure on the first screen | sidebar (px) |")
    print("|---|---:|---:|---:|---|---:|")
    fits = 0
    for name, height, figure, sidebar in rows:
        whole = height <= SCREEN[1] or (figure is not None and figure <= SCREEN[1])
        fits += whole
        shown = "-" if figure is None else f"{figure:,.0f}"
        print(f"| {name} | {height:,} | {height / SCREEN[1]:.1f} | {shown} | {'yes' if whole else 'no'} | {sidebar} |")
    print(f"\nMain figure on one screen: {fits} of {len(rows)} pages.")


if __name__ == "__main__":
    main()
