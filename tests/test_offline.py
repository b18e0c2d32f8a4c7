"""Offline, proven: the app served and browsed inside a network namespace with only loopback (`unshare -n`),
every page visited (and the Gradio app), and nothing may try the network: no request of the pages to another host (fonts, CDNs,
icons), no attempt of the server (telemetry, the Hub), each caught by tools/network_audit.py's audit hook."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from conftest import require_tools

from conftest import REPO  # noqa: E402
pytestmark = pytest.mark.e2e


def _namespace_works() -> bool:
    if shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(["unshare", "-n", "sh", "-c", "ip link set lo up"], capture_output=True)
    return probe.returncode == 0


def test_every_page_offline_tries_no_network(tiny_checkpoints, tmp_path):
    require_tools()
    if not _namespace_works():
        pytest.skip("this machine does not allow a network namespace (unshare -n needs root or user namespaces)")
    result_path = tmp_path / "offline.json"
    env = {**os.environ, "VAEGAN_CHECKPOINTS_DIR": str(tiny_checkpoints), "VAEGAN_NO_WARMUP": "1",
           "HF_HUB_OFFLINE": "1"}
    env.pop("VAEGAN_DATA_DIR", None)  # no data directory: what ships is all the app has
    command = f"ip link set lo up && exec {sys.executable} {REPO / 'tests' / 'offline_visit.py'} {result_path}"
    finished = subprocess.run(["unshare", "-n", "sh", "-c", command], cwd=REPO, env=env, capture_output=True,
                              text=True, timeout=900)
    assert finished.returncode == 0, finished.stderr[-3000:]
    result = json.loads(result_path.read_text())
    assert result["offline"], "the namespace could reach the internet: the test proves nothing"
    import page_list

    # every Streamlit page but Train live (tests/offline_visit.py: it trains only when asked), and the Gradio app
    assert len(result["pages"]) == len(page_list.PAGES) - 1 + 1
    for name, page in result["pages"].items():
        assert not page["errors"], (name, page["errors"])
    assert result["outside_requests"] == [], result["outside_requests"]
    assert result["server_attempts"] == [], result["server_attempts"]
