"""A small thread-safe cache for the app layer: the last ``max_entries`` results by key, each computed once even
when several visitors ask for it at the same moment (the others wait for the first), never under a lock that
would hold up a visitor who asks for something else."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Callable, Hashable


class Memo:
    def __init__(self, max_entries: int):
        self.max_entries = max_entries
        self._values: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()
        self._computing: dict[Hashable, threading.Lock] = {}

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._values

    def __len__(self) -> int:
        with self._lock:
            return len(self._values)

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The value of ``key``, computed by ``compute()`` the first time; an exception is raised to the caller and
        nothing is kept (the next call tries again)."""
        with self._lock:
            if key in self._values:
                self._values.move_to_end(key)
                return self._values[key]
            busy = self._computing.setdefault(key, threading.Lock())
        with busy:  # one computation per key; a second caller waits for it, then finds the value
            with self._lock:
                if key in self._values:
                    self._values.move_to_end(key)
                    return self._values[key]
            try:
                value = compute()
            except BaseException:
                with self._lock:
                    if self._computing.get(key) is busy:  # not a newer caller's lock
                        del self._computing[key]
                raise
            with self._lock:  # kept and released in one step: a caller arriving now finds the value
                self._values[key] = value
                while len(self._values) > self.max_entries:
                    self._values.popitem(last=False)
                if self._computing.get(key) is busy:
                    del self._computing[key]
            return value

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._values[key] = value
            self._values.move_to_end(key)
            while len(self._values) > self.max_entries:
                self._values.popitem(last=False)

    def peek(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            return self._values.get(key, default)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
