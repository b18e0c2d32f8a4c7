"""Shareable views: every linked control lives in the URL, both ways, and ``stop`` ends a page with its link and
zip written."""

from __future__ import annotations

import streamlit as st

from ui_exports import page_zip


# ---- Shareable views: every linked control lives in the URL (?seed=3&compare-grid=8...), both ways ----------------
# A control is linked by creating it with key=ui.linked(name, default, check) and no default value of its own: on
# the session's first run (or the page's, after a page change) it starts from the link, else from the default; after
# each run app.py writes the values that differ from the defaults back into the link (ui.write_link).


def in_range(cast, low, high):
    """A link parser: ``cast(text)`` within [low, high]."""
    def parse(text: str):
        try:
            value = cast(text)
        except (TypeError, ValueError):  # Python's own text ("invalid literal for int()...") is not for a visitor
            raise ValueError("not a whole number" if cast is int else "not a number") from None
        if not low <= value <= high:
            raise ValueError(f"not in {low}-{high}")
        return value
    return parse


def as_int(low: int, high: int):
    return in_range(int, low, high)


def as_float(low: float, high: float):
    return in_range(float, low, high)


def one_of(options, cast=str):
    allowed = list(options)

    def parse(text: str):
        value = cast(text)
        if value not in allowed:
            raise ValueError(f"not one of {', '.join(map(str, allowed))}")
        return value
    return parse


def tabs(name: str, labels: list[str]) -> list:
    """Tabs whose content runs only while open (Streamlit's lazy tabs: a page computes one tab, not all of them),
    the open one kept in the link (?name=label). Use as ``if tab.open:`` then ``with tab:``."""
    return st.tabs(labels, key=linked(name, labels[0], one_of(labels)), on_change="rerun")


def many_of(options):
    allowed = list(options)

    def parse(text: str) -> list:
        values = [part for part in text.split(",") if part]
        if not values or any(value not in allowed for value in values):
            raise ValueError(f"choose from {', '.join(allowed)}")
        return [value for value in allowed if value in values]
    return parse


def _registry() -> dict:
    """The linked controls of this run: name -> default."""
    registry = st.session_state.setdefault("_linked", {})
    return registry


def linked(name: str, default, parse=str) -> str:
    """The key of a control that lives in the URL (see above); ``parse`` turns the link's text into a value or
    raises ValueError, and then the default is used with a small notice. A link's value that this session did
    not write itself (a pasted link, a Lesson button) wins over the control's current value."""
    text = st.query_params.get(name)
    from_outside = text is not None and text != st.session_state.get("_written", {}).get(name)
    if name not in st.session_state or from_outside:
        value = st.session_state.get(name, default)
        if text is not None:
            try:
                value = parse(text)
            except (TypeError, ValueError) as error:
                kept = "showing the default" if name not in st.session_state else "keeping the current value"
                st.toast(f"The link's {name}={text!r} is not usable ({error}); {kept}.")
                value = default if name not in st.session_state else value
        st.session_state[name] = value
        st.session_state.setdefault("_written", {})[name] = text  # read once: later runs keep the control's value
    elif st.session_state[name] not in ([], ()):  # (an emptied multiselect is a choice; the page says so)
        # a value that no longer fits the control (its options or range follow other settings): the default
        try:
            parse(_as_text(st.session_state[name]))
        except (TypeError, ValueError):
            st.session_state[name] = default
    # Told to the browser on every run, not only when it changes: a browser that mounts the control afresh (it can, on
    # a page change) and holds no value for it takes the widget's own default (an empty multiselect, the first
    # dataset, seed 0) and sends that back on the next click, silently replacing the choice.
    st.session_state[name] = st.session_state[name]
    _registry()[name] = default
    return name


def as_bool(text: str) -> bool:
    """A link parser for a toggle: 1/true/yes/on or 0/false/no/off."""
    lowered = text.strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ValueError("use 1 or 0")


def _as_text(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return ",".join(map(str, value)) if isinstance(value, (list, tuple)) else str(value)


def _link_params() -> dict[str, str]:
    """The linked controls of this run whose values differ from their defaults, as the link's text."""
    registry = st.session_state.get("_linked", {})
    return {name: _as_text(st.session_state[name]) for name, default in registry.items()
            if name in st.session_state and _as_text(st.session_state[name]) != _as_text(default)}


def write_link() -> None:
    """After a run: the linked controls that differ from their defaults, and presenter mode, into the URL; the
    other parameters out of it."""
    import lesson_nav

    wanted = {**_link_params(), **lesson_nav.link_params()}  # a Lesson step's page keeps its step in the link
    registry = st.session_state.get("_linked", {})
    # a link that says what the page shows, only with some defaults spelled out (a Lesson step's, a pasted one), is
    # left as it is: rewriting it would add a browser history entry, and Back would take two presses
    meaningful = {name: text for name, text in st.query_params.to_dict().items()
                  if not (name in registry and text == _as_text(registry[name]))}
    if meaningful != wanted:
        st.query_params.from_dict(wanted)
    # what the link says now came from this session (a default left spelled out in it too: not a link from outside)
    st.session_state["_written"] = st.query_params.to_dict() if meaningful == wanted else dict(wanted)
    st.session_state["_linked"] = {}


def stop() -> None:
    """``st.stop()`` for the pages: the link and its box are written first (after st.stop, Streamlit accepts no
    more calls, so app.py could not write them), and so is the page's zip of what it offered so far."""
    page_zip()
    link_to_this_view()
    write_link()
    st.stop()


def link_to_this_view() -> None:
    """The sidebar's "Link to this view": the page's URL with its settings, with a copy button."""
    params = _link_params()
    from urllib.parse import urlencode

    base = (getattr(st.context, "url", "") or "").split("?")[0]
    # filled only while open: the code box's frontend (1.5 MB of JavaScript) is then loaded when someone opens the
    # box, not by every new tab of every page
    box = st.sidebar.expander("Link to this view", key="link-box", on_change="rerun")
    if box.open:
        with box:
            st.code(base + ("?" + urlencode(params) if params else ""), language=None)
            st.caption("Copy it (the button at its right): it opens this page with these settings.")
