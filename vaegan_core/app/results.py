"""The FID results of one app process, shared by every visitor and every front end (Streamlit's FID page, Gradio's
FID tab): computed on demand, one computation at a time (two would only halve each other's speed and slow every
other visitor), and kept by what they measured: the model's fingerprint, the images, the features, the seed, the
metrics and the prior."""

from __future__ import annotations

import threading
from typing import Any, Callable

from .memo import Memo

FID_METRICS = ("fid", "is", "modes", "pr")  # with precision and recall: every real test image needs features
FID_METRICS_WITHOUT_PR = ("fid", "is", "modes")  # FID from the shipped reference statistics when not cached


class ResultStore:
    def __init__(self, max_entries: int = 256):
        self._results = Memo(max_entries)
        self._estimates = Memo(64)
        self._work = threading.Lock()
        self._count_lock = threading.Lock()
        self._waiting = 0

    @staticmethod
    def key(model, data: str, n: int, extractor: str, seed: int, metrics: tuple, prior: str) -> tuple:
        """What a result measured: the same key, the same numbers."""
        return (model.fingerprint, data, int(n), extractor, int(seed), tuple(metrics), prior)

    def get(self, key: tuple) -> dict | None:
        return self._results.peek(key)

    def __contains__(self, key: tuple) -> bool:
        return key in self._results

    @property
    def waiting(self) -> int:
        """How many FIDs are running or waiting their turn in this process."""
        with self._count_lock:
            return self._waiting

    def compute(self, model, data: str, n: int, extractor: str, seed: int, metrics: tuple, prior: str,
                progress: Callable[[float, str], None] | None = None, waiting: Callable[[int], None] | None = None
                ) -> dict[str, Any]:
        """``evaluate`` of ``model`` against ``data``'s test split, or the result kept from before. Waits for any
        other FID of this process to finish first (``waiting(ahead)`` is called once when there is one); raises
        what ``evaluate`` raises (VaeganError for a user's cause) and keeps nothing then."""
        key = self.key(model, data, n, extractor, seed, metrics, prior)
        found = self._results.peek(key)
        if found is not None:
            return found
        with self._count_lock:
            ahead = self._waiting
            self._waiting += 1
        try:
            if ahead and waiting is not None:
                waiting(ahead)
            with self._work:
                def run():
                    from ..metrics.evaluate import evaluate

                    return evaluate(model, data, n=n, extractor=extractor, seed=seed, metrics=metrics, prior=prior,
                                    progress=progress)
                return self._results.get(key, run)
        finally:
            with self._count_lock:
                self._waiting -= 1

    def estimate_seconds(self, extractor: str, n: int, data: str, metrics: tuple, model=None,
                         prior: str = "normal") -> float:
        """The time of one model's FID on this machine: its features' speed and (``model``) its sampling speed,
        each timed once per process."""
        def time_it():
            from ..metrics.evaluate import estimate_seconds

            return estimate_seconds(extractor, n, data, metrics=metrics, model=model, prior=prior)

        fingerprint = None if model is None else getattr(model, "fingerprint", None) or id(model)
        return self._estimates.get((extractor, int(n), data, tuple(metrics), fingerprint, prior), time_it)
