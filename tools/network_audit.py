"""Run a Python module (``streamlit`` by default) with an audit hook that writes every attempt to reach a host
other than this machine to a file, one line each: the offline test's proof that the app never tries the network.

    python tools/network_audit.py LOG -m streamlit run demo/app.py ...
    python tools/network_audit.py LOG demo/gradio_app.py

Python raises the audit events ``socket.connect``, ``socket.sendto`` and ``socket.getaddrinfo`` for every
socket of the interpreter (sys.addaudithook, PEP 578), so a telemetry call, a font or CDN fetch or a Hub
lookup shows up here even where the network is cut off and the attempt fails.
"""

from __future__ import annotations

import os
import runpy
import sys
from pathlib import Path

LOCAL = ("127.", "::1", "localhost", "0.0.0.0", "::", "")


def _host(event: str, args) -> str | None:
    address = args[0] if event == "socket.getaddrinfo" else args[1]
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str) or host.startswith("/") or host.startswith("\0"):
        return None  # a Unix socket (a path) or something that is not a host
    return None if host.startswith(LOCAL) or host in LOCAL else host


def main() -> None:
    log, rest = sys.argv[1], sys.argv[2:]
    if not rest or (rest[0] == "-m" and len(rest) < 2):
        raise SystemExit("usage: network_audit.py LOG (-m MODULE | SCRIPT) [ARGS...]")

    def hook(event: str, args) -> None:
        if event in ("socket.connect", "socket.sendto", "socket.getaddrinfo"):
            host = _host(event, args)
            if host is not None:
                with open(log, "a", encoding="utf-8") as out:
                    out.write(f"{event} {host}\n")

    sys.addaudithook(hook)
    run_program(rest)


def run_program(rest: list[str]) -> None:
    """Run ``-m MODULE ARGS...`` or ``SCRIPT ARGS...`` in this interpreter, as ``python REST...`` would."""
    if rest[0] == "-m":
        sys.argv = [rest[1], *rest[2:]]
        sys.path.insert(0, os.getcwd())  # as `python -m` puts the working folder first
        runpy.run_module(rest[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = rest
        sys.path.insert(0, str(Path(rest[0]).resolve().parent))  # as `python SCRIPT` puts the script's folder first
        runpy.run_path(rest[0], run_name="__main__")


if __name__ == "__main__":
    main()
