"""The app layer (vaegan_core.app) on its own: its cache computes each value once under concurrent visitors and forgets
failures cleanly, and a checkpoints root whose dataset is named for something else (a live run's "live" models) is
served by what its models trained on: class names, upload style, training split."""

from __future__ import annotations

import json
import shutil
import threading
import time

import pytest

from vaegan_core.app import LIVE, Explorer
from vaegan_core.app.memo import Memo
from vaegan_core.training.data import CLASS_NAMES


def test_memo_computes_once_for_concurrent_callers_and_retries_after_a_failure():
    memo, calls, gate = Memo(4), [], threading.Event()

    def slow():
        calls.append(1)
        gate.wait(5)
        return len(calls)

    threads = [threading.Thread(target=lambda: memo.get("k", slow)) for _ in range(4)]
    for thread in threads:
        thread.start()
    time.sleep(0.2)
    gate.set()
    for thread in threads:
        thread.join(5)
    assert calls == [1] and memo.get("k", slow) == 1
    assert memo._computing == {}  # nothing left behind for a later caller to wait on

    def broken():
        raise ValueError("no")

    with pytest.raises(ValueError):
        memo.get("x", broken)
    assert "x" not in memo and memo._computing == {}
    assert memo.get("x", lambda: 7) == 7  # tried again, not stuck


def test_memo_keeps_the_last_entries():
    memo = Memo(2)
    for key in "abc":
        memo.get(key, lambda key=key: key.upper())
    assert "a" not in memo and memo.get("b", lambda: "?") == "B" and len(memo) == 2


def test_a_live_root_is_served_by_the_data_its_models_trained_on(tiny_checkpoints, tmp_path):
    """The models of a live run sit under the dataset "live"; they trained on MNIST here, so the view has MNIST's
    class names and the MNIST upload style, and the training split is MNIST's."""
    root = tmp_path / "session"
    shutil.copytree(tiny_checkpoints / "mnist" / "vae", root / LIVE / "vae")
    config = root / LIVE / "vae" / "config.json"  # the tiny model trained on digits: say MNIST, as a live run may
    saved = json.loads(config.read_text())
    saved["train"]["dataset"] = "mnist"
    config.write_text(json.dumps(saved))
    explorer = Explorer(root)
    assert LIVE in explorer.datasets() and explorer.data_of(LIVE) == "mnist"
    view = explorer.dataset(LIVE)
    assert view.style == "mnist" and explorer.upload_style(LIVE) == "mnist"
    assert explorer.class_names(LIVE) == CLASS_NAMES["mnist"] == view.class_names
    assert view.caption(0).startswith("#0 (")
    opened = explorer.open(LIVE, "vae")
    assert opened.model is not None and opened.message is None
    assert explorer.open(LIVE, "gan").missing
