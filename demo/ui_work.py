"""Long work on a page, shown honestly: progress bars with the time so far and left, a Stop button, and heavy
work that runs one at a time per process with each waiting visitor told how many are ahead."""

from __future__ import annotations

import contextlib
import threading

import streamlit as st


def progress_callback(bar):
    """A ``progress(fraction, message)`` callback that drives an ``st.progress`` bar."""
    def report(fraction: float, message: str) -> None:
        bar.progress(min(max(float(fraction), 0.0), 1.0), text=message)
    return report


@contextlib.contextmanager
def slow_work(what: str, key: str):
    """Work of several seconds, shown honestly: a bar that says the time so far and, from the pace so far, the time
    left, and a Stop button (its click reruns the page, which ends the work; nothing it made is kept). Yields the
    ``progress(fraction, message)`` callback; afterwards the time it took is remembered for ``took_last_time``."""
    import time

    bar = st.progress(0.0, text=f"{what}: starting")
    stop = st.empty()
    stop.button("Stop", key=f"stop-{key}", icon=":material/stop_circle:", help="Ends this now; nothing it made is kept")
    start = time.perf_counter()

    def report(fraction: float, message: str) -> None:
        fraction = min(max(float(fraction), 0.0), 1.0)
        elapsed = time.perf_counter() - start
        left = f", about {elapsed * (1 - fraction) / fraction:.0f} s left" if 0.05 <= fraction < 1 else ""
        bar.progress(fraction, text=f"{what}: {message} ({elapsed:.0f} s so far{left})")

    yield report
    st.session_state[f"took-{key}"] = time.perf_counter() - start
    bar.empty()
    stop.empty()


def took_last_time(key: str) -> str:
    """" (took 12 s last time)" after ``slow_work(..., key)`` ran in this session; "" before."""
    seconds = st.session_state.get(f"took-{key}")
    return f" (took {seconds:.0f} s last time)" if seconds is not None else ""


class _HeavyWork:
    """One kind of heavy work (an FID, a live study) that runs one at a time in this process: two at once would
    only halve each other's speed and slow every other visitor's page. Counts who is waiting."""

    def __init__(self):
        self.lock = threading.Lock()
        self.count_lock = threading.Lock()
        self.queued = 0


@st.cache_resource
def _heavy_work(name: str) -> _HeavyWork:
    return _HeavyWork()


def busy_message(ahead: int, name: str) -> str:
    """What a visitor reads while ``ahead`` runs of heavy work ``name`` of other visitors go first."""
    return (f"Busy: {ahead} {name} of other visitors {'is' if ahead == 1 else 'are'} ahead of yours; it starts as soon "
            "as they finish (keep this page open).")


@contextlib.contextmanager
def one_at_a_time(name: str):
    """Run the block when no other session of this process is running work called ``name``; meanwhile say
    how many are ahead ("busy, your turn in N"), instead of everyone slowing down."""
    work = _heavy_work(name)
    with work.count_lock:
        ahead = work.queued
        work.queued += 1
    notice = st.empty()
    if ahead:
        notice.info(busy_message(ahead, name))
    try:
        with work.lock:
            notice.empty()
            yield
    finally:
        with work.count_lock:
            work.queued -= 1
