"""A guided Lesson: a page opened from a Lesson step says "step k of 8", links back to the Lesson and on to the
next step; the sidebar choices the step's link changed (models, dataset, seed) come back as they were once the
visitor leaves the step's page.

A step's link carries ``lesson=k``. On arrival, app.py calls ``arrive(page)`` before the sidebar is drawn: the
sidebar's values are saved (once, at the first step of a walk) and the step is remembered with its page; while
the visitor stays on that page the banner shows and the link keeps ``lesson=k``; on any other page the saved
values are put back and the walk ends.
"""

from __future__ import annotations

import streamlit as st

from lesson_steps import STEPS

SIDEBAR_KEYS = ("dataset", "kinds", "seed")  # what a step's link may change in the sidebar
LESSON_PAGE = "app_pages/lesson.py"
_MISSING = "__missing__"  # a control the visitor had not set yet: its default comes back
STATE = "_lesson_walk"  # {"step", "page", "saved"}


def step_link(number: int) -> dict[str, str]:
    """The query parameters of step ``number`` (1-based): the page's settings, the visitor's dataset and
    presenter mode, and ``lesson``."""
    params = dict(STEPS[number - 1][7])
    link = {"dataset": st.session_state.get("dataset", "mnist"), **params, "lesson": str(number)}
    if st.session_state.get("present"):
        link["present"] = "1"
    return link


def _step_from_link() -> int | None:
    text = st.query_params.get("lesson")
    if text is None:
        return None
    if not (text.isascii() and text.isdigit() and 1 <= int(text) <= len(STEPS)):
        st.toast(f"The link's lesson step {text[:12]!r} is not one of 1 to {len(STEPS)}; the page opens on its own.")
        return None
    return int(text)


def _url_path(script: str) -> str:
    """The URL path Streamlit gives a page script: its file name without the suffix."""
    return script.rsplit("/", 1)[-1].removesuffix(".py")


def arrive(page: str) -> None:
    """Start, go on with or end the walk, for a run of the page whose URL path is ``page`` (st.navigation's)."""
    walk = st.session_state.get(STATE)
    step = _step_from_link()
    if step is not None and _url_path(STEPS[step - 1][5]) == page:
        saved = walk["saved"] if walk else {key: st.session_state.get(key, _MISSING) for key in SIDEBAR_KEYS}
        st.session_state[STATE] = {"step": step, "page": page, "saved": saved}
        return
    if walk and walk["page"] != page:  # left the step's page: the visitor's own choices come back
        for key, value in walk["saved"].items():
            if value == _MISSING:
                st.session_state.pop(key, None)
            else:
                st.session_state[key] = value
            st.session_state.setdefault("_written", {}).pop(key, None)
        del st.session_state[STATE]


def link_params() -> dict[str, str]:
    """What the page's link keeps while a step is open (its ``lesson``), so a reload keeps the guide."""
    walk = st.session_state.get(STATE)
    return {"lesson": str(walk["step"])} if walk else {}


def banner() -> None:
    """On a step's page: "Lesson, step k of 8", the way back and the next step."""
    walk = st.session_state.get(STATE)
    if not walk:
        return
    step = walk["step"]
    with st.container(border=True, key="lesson-banner"):
        left, middle, right = st.columns([3, 2, 2], vertical_alignment="center")
        left.markdown(f"**Lesson, step {step} of {len(STEPS)}:** {STEPS[step - 1][0]}")
        middle.page_link(LESSON_PAGE, label="Back to the Lesson", icon=":material/arrow_back:")
        if step < len(STEPS):
            following = STEPS[step]
            right.page_link(following[5], label=f"Next: step {step + 1}, {following[0]}",
                            icon=":material/arrow_forward:", query_params=step_link(step + 1))
        else:
            right.markdown("Last step: back to the Lesson for the summary.")
