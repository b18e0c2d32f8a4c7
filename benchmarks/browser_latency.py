"""What a user waits for: page round trips of the Streamlit app in Chromium, against the budgets of issue 21.

    python benchmarks/browser_latency.py [--repeats 5]

Starts `streamlit run demo/app.py` on 127.0.0.1 (the shipped checkpoints, or $VAEGAN_CHECKPOINTS_DIR), times the
first render (the server's first visitor, a new tab), lets the server warm up as one started before a lesson does
(its background import of torch, the default models, UMAP's compilation), and then times in Chromium with
Playwright: (a) the first visit of each page as a user makes it, a click on the page's link in the sidebar of the
open app, to the page's script finished running; (b) on a second, fresh server (warmed up the same way), each
page opened in a new tab, as a shared link opens it (the app's frontend, its websocket, then the script);
(c) on Reconstruction, Interpolation and Compare, a control change: the sidebar seed set to a new value, from the
key press to the rerun finished. Each is timed twice: in the browser, by the page's own clock, from the input (the
key press, the click, or for a new tab the navigation's start) to the end of the rerun drawn (the script's end
reported, every picture decoded, the next frame painted): what the user waits for; and as Playwright sees it from
outside (its polling adds 0.1-0.5 s of its own on a busy 2-core machine). Prints one Markdown table with the budget
of each row (a first visit 2 s, the Latent map 5 s, a control change 0.5 s) and whether the browser's time holds. `benchmarks/demo_latency.py` times the functions
behind the pages; this is the round trip around them.

    python benchmarks/browser_latency.py --against REV [--rounds 3]

A/B in one run, so that a busy machine slows both sides alike: the app of git revision REV (checked out into a
temporary worktree) against this working tree's, on fresh warmed servers that take turns, ``--rounds`` each; times
the server's first page, four pages opened in a new tab, the first visit of Reconstruction, Interpolation and Compare by the sidebar link,
and their seed changes; prints the medians of both and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tools"), str(REPO / "demo")]  # local_server; page_list
from local_server import CHROMIUM, CHROMIUM_ARGS, READY, rerun_finished, streamlit_server  # noqa: E402
import page_list  # noqa: E402
from page_list import url_path  # noqa: E402

PAGES = [url_path(name) for name in page_list.PAGES if name != "train_live"]
CHANGED = ["reconstruction", "interpolation", "compare"]


def budget(name: str) -> float:
    """Issue 21's budget of a page's first visit: 5 s for the Latent map, 2 s for the others."""
    return 5.0 if name == "latent_map" else 2.0


# What the user sees, timed by the browser's own clock (Playwright's polling adds 0.1-0.5 s of its own on a busy
# 2-core machine): from the input (a key press or a click; for a new tab, the navigation's start) to the rerun's
# end drawn, i.e. the script's end reported and the next frame painted with every picture of the page decoded.
TIMING = """
window.__timing = {input: 0, runs: []};
new MutationObserver(records => {
  for (const record of records) {
    if (record.oldValue !== 'running' || record.target.getAttribute('data-test-script-state') !== 'notRunning') continue;
    const finished = performance.now();
    requestAnimationFrame(() => {
      const pending = [...document.querySelectorAll('img')].filter(image => !image.complete);
      Promise.all(pending.map(image => image.decode().catch(() => null)))
        .then(() => requestAnimationFrame(() => window.__timing.runs.push([finished, performance.now()])));
    });
  }
}).observe(document, {attributes: true, attributeOldValue: true, subtree: true,
                      attributeFilter: ['data-test-script-state']});
for (const kind of ['keydown', 'mousedown'])
  document.addEventListener(kind, () => { window.__timing.input = performance.now(); }, true);
"""


def new_page(browser):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})  # a fresh context: no cache, as a new visitor
    page.add_init_script(TIMING)
    return page


# the runs that finished after the last input, drawn
AFTER_INPUT = "window.__timing.runs.filter(run => run[0] >= window.__timing.input)"
QUIET = "[" + AFTER_INPUT + ".length, document.querySelector(\"[data-testid='stApp']\")" \
        "?.getAttribute('data-test-script-state')]"


def drawn(page) -> float:
    """Seconds from the last input (or the navigation's start) to the last rerun after it drawn. A page may run
    more than once for one input, and the pictures of the page before may still be decoding: so only runs that
    finished after the input count, and the page must stay quiet (no run, no new drawing) for 0.5 s."""
    page.wait_for_function(f"{AFTER_INPUT}.length > 0", timeout=300_000)
    last = None
    while (state := page.evaluate(QUIET)) != last or state[1] != "notRunning":
        last = state
        page.wait_for_timeout(500)
    return page.evaluate(f"(Math.max(...{AFTER_INPUT}.map(run => run[1])) - window.__timing.input) / 1000")


def first_visit(browser, url: str, name: str) -> tuple[float, float]:
    """A page opened in a new tab: (seconds in the browser, seconds as Playwright saw them)."""
    page = new_page(browser)
    start = time.perf_counter()
    page.goto(f"{url}/{name}")
    page.wait_for_selector(READY, timeout=300_000)
    seconds = time.perf_counter() - start
    in_browser = drawn(page)
    page.close()
    return in_browser, seconds


def in_app_visits(browser, url: str, pages=PAGES[1:]) -> list[tuple[str, float, float]]:
    """Each page's first visit in one open app, by the page's link in the sidebar: (page, seconds in the browser,
    seconds as Playwright saw them)."""
    page = new_page(browser)
    page.goto(url)
    page.wait_for_selector(READY, timeout=300_000)
    drawn(page)
    visits = []
    for name in pages:
        link = page.locator(f"[data-testid='stSidebarNavLink'][href$='/{name}']")
        start = time.perf_counter()
        link.click()
        page.wait_for_url(f"**/{name}*", timeout=60_000)
        rerun_finished(page, 3_000, 300_000)
        seconds = time.perf_counter() - start
        visits.append((name, drawn(page), seconds))
    page.close()
    return visits


def warmed_server(report: Path, root: Path = REPO):
    """A fresh server with its warm-up on, reporting its seconds into ``report`` (wait_for_warm_up reads them)."""
    return streamlit_server({"VAEGAN_NO_WARMUP": "0", "VAEGAN_WARMUP_REPORT": str(report)}, timeout=120, root=root)


def wait_for_warm_up(report: Path) -> float:
    deadline = time.time() + 300
    while not report.exists() and time.time() < deadline:
        time.sleep(1)
    return float(report.read_text()) if report.exists() else float("nan")


def seed_changes(browser, url: str, name: str, repeats: int) -> list[tuple[float, float]]:
    """The sidebar seed changed ``repeats`` times on page ``name``: (seconds in the browser, as Playwright saw
    them) each."""
    page = new_page(browser)
    page.goto(f"{url}/{name}")
    page.wait_for_selector(READY, timeout=300_000)
    drawn(page)
    field = page.get_by_label("Seed", exact=True).and_(page.locator("input"))
    times = []
    for seed in range(1, repeats + 2):  # the first change warms the page's caches for its other controls
        field.fill(str(seed))
        start = time.perf_counter()
        field.press("Enter")
        rerun_finished(page, 1500, 300_000)
        seconds = time.perf_counter() - start
        times.append((drawn(page), seconds))
    page.close()
    return times[1:]


def medians(pairs) -> tuple[float, float]:
    return statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs)


NEW_TABS = ["", "compare", "lesson", "fid"]  # the A/B's new-tab rows: the landing page and three others


def against(browser, revision: str, rounds: int, repeats: int) -> None:
    """The A/B table: the app of ``revision`` against this working tree's, servers taking turns."""
    import subprocess

    directory = Path(tempfile.mkdtemp())
    other = directory / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(other), revision], cwd=REPO, check=True)
    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    try:
        for turn in range(rounds):
            sides = [(revision, other), ("this tree", REPO)]
            for side, root in sides if turn % 2 == 0 else sides[::-1]:
                report = directory / f"warm-up-{turn}-{side.replace(' ', '-')}"
                with warmed_server(report, root) as url:
                    times.setdefault(("first render of the app (a fresh server's first visitor)", side), []).append(
                        first_visit(browser, url, ""))  # it starts the warm-up
                    wait_for_warm_up(report)
                    for name in NEW_TABS:
                        times.setdefault((f"new tab (a shared link): {name or 'overview'}", side), []).append(
                            first_visit(browser, url, name))
                    for name, *seconds in in_app_visits(browser, url, CHANGED):
                        times.setdefault((f"first visit, sidebar link: {name}", side), []).append(tuple(seconds))
                    for name in CHANGED:
                        times.setdefault((f"seed change: {name}", side), []).extend(
                            seed_changes(browser, url, name, repeats))
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(other)], cwd=REPO, check=False)
    print("Medians; in the browser (input to the rerun drawn, the page's clock), Playwright's round trip in brackets\n")
    print(f"| round trip | {revision} | this tree | ratio | budget |")
    print("|---|---:|---:|---:|---:|")
    for what in dict.fromkeys(what for what, _ in times):
        (before, before_pw), (after, after_pw) = (medians(times[what, side]) for side in (revision, "this tree"))
        limit = 0.5 if what.startswith("seed") else budget(what.rsplit(" ", 1)[-1])
        print(f"| {what} ({len(times[what, revision])} each) | {before:.2f} ({before_pw:.2f}) | {after:.2f} "
              f"({after_pw:.2f}) | {after / before:.2f} | {limit:.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="control changes timed per page (median reported)")
    parser.add_argument("--against", metavar="REV", help="A/B: the app of this git revision against the working tree")
    parser.add_argument("--rounds", type=int, default=3, help="with --against: fresh servers per side")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    if args.against:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            against(browser, args.against, args.rounds, args.repeats)
            browser.close()
        return

    rows = []
    directory = Path(tempfile.mkdtemp())
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        # (a) as in a classroom: the server was started before the lesson; its first visitor starts the warm-up
        # (torch imported, the default models loaded, UMAP compiled), which is over when the class clicks through
        with warmed_server(directory / "warm-up-a") as url:
            first_visit(browser, url, "")  # starts the warm-up
            warm_up = wait_for_warm_up(directory / "warm-up-a")
            visits = in_app_visits(browser, url)
        for name, *seconds in visits:
            rows.append((f"first visit, sidebar link: {name}", *seconds, budget(name)))
        # (b) shared links: each page in a new tab of a fresh, warmed server
        with warmed_server(directory / "warm-up-b") as url:
            rows.insert(0, ("first render of the app (its first visitor, a new tab)", *first_visit(browser, url, ""),
                            2.0))
            wait_for_warm_up(directory / "warm-up-b")
            for name in PAGES:
                rows.append((f"new tab (a shared link): {name or 'overview'}", *first_visit(browser, url, name),
                             budget(name)))
            for name in CHANGED:
                times = seed_changes(browser, url, name, args.repeats)
                rows.append((f"seed change: {name} (median of {len(times)})", *medians(times), 0.5))
        browser.close()
    print(f"(server warm-up: {warm_up:.1f} s after the first page, waited for before any other timing)\n")
    print("| round trip | in the browser (s) | Playwright (s) | budget | holds |")
    print("|---|---:|---:|---:|---|")
    for what, seconds, seconds_pw, limit in rows:
        print(f"| {what} | {seconds:.2f} | {seconds_pw:.2f} | {limit:.1f} | {'yes' if seconds <= limit else 'no'} |")


if __name__ == "__main__":
    main()
