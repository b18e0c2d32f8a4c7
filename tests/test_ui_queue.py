"""The apps' queue for heavy work: one FID (or live study) at a time per process, the others told their place."""

import threading
import time

import ui


class _Notice:
    def __init__(self, log):
        self.log = log

    def info(self, text):
        self.log.append(text)

    def empty(self):
        self.log.append(None)


def test_heavy_work_runs_one_at_a_time_and_says_who_is_ahead(monkeypatch):
    log, order = [], []
    monkeypatch.setattr(ui.st, "empty", lambda: _Notice(log))
    started = threading.Event()

    def first():
        with ui.one_at_a_time("test jobs"):
            order.append("first starts")
            started.set()
            time.sleep(0.3)
            order.append("first ends")

    thread = threading.Thread(target=first)
    thread.start()
    started.wait(5)
    with ui.one_at_a_time("test jobs"):
        order.append("second starts")
    thread.join()
    assert order == ["first starts", "first ends", "second starts"]
    assert any(text and text.startswith("Busy: 1 test jobs of other visitors is ahead of yours") for text in log)
    assert ui._heavy_work("test jobs").queued == 0
