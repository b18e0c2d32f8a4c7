"""The Space image, built and run here: the real Dockerfile built with podman from a Debian bookworm base made by
debootstrap, its command run as its user in its own file system with no network, and every page rendered in
Chromium with no error and no request to another host.

There is no Docker daemon, Docker Hub or `podman run` on these machines (DESIGN.md), so: (a) `debootstrap
--variant=minbase` with python3 and python3-venv, imported as localhost/vaegan-base:bookworm (kept in podman's
storage, so a second run on the same machine skips it); (b) `podman build --isolation chroot --network host` with
that base; (c) the image's Cmd, Env, WorkingDir and User, run with `chroot` in the file system of a container made from
it (`podman create` + `podman mount`: the image and a writable layer) a new network namespace with only loopback (HF_HUB_OFFLINE=1, no data directory); (d) its health endpoint,
then every page through tests/offline_visit.py. The image size and the cold start (command to healthy) are printed.

torch comes from the CPU index by default; where the machine has a CPU torch wheel in /opt/wheels (and a local
package mirror in /opt/pypi), the build mounts them and uses them instead, as the machine's own pip does.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import require_tools

from conftest import REPO  # noqa: E402
BASE = "localhost/vaegan-base:bookworm"
IMAGE = "localhost/vaegan-explorer:test"
pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def run(command: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)
    if done.returncode != 0:
        pytest.fail(f"{shlex.join(command)[:200]} failed ({done.returncode}):\n{(done.stdout + done.stderr)[-3000:]}")
    return done


def debian_mirror() -> str:
    """The Debian mirror apt uses here (deb822 or one-line sources), else deb.debian.org."""
    for path in [*Path("/etc/apt/sources.list.d").glob("*"), Path("/etc/apt/sources.list")]:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError:
            continue
        found = re.search(r"^(?:URIs:|deb)\s+(?:\[[^\]]*\]\s+)?(https?://\S+debian)/?\s", text, re.MULTILINE)
        if found:
            return found.group(1)
    return "http://deb.debian.org/debian"


def base_image(folder: Path) -> None:
    if subprocess.run(["podman", "image", "exists", BASE]).returncode == 0:
        return
    rootfs = folder / "rootfs"
    run(["debootstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates", "bookworm",
         str(rootfs), debian_mirror()], timeout=1200)
    tar = subprocess.Popen(["tar", "-C", str(rootfs), "-c", "."], stdout=subprocess.PIPE)
    imported = subprocess.run(["podman", "import", "-", BASE], stdin=tar.stdout, capture_output=True, text=True,
                              timeout=600)
    tar.wait()
    assert imported.returncode == 0, imported.stderr[-2000:]


def local_packages() -> list[str]:
    """Build arguments and volumes that give the build what this machine's own pip uses: its CPU torch wheel
    (/opt/wheels), its package mirrors (/opt/pypi*) and its certificate bundle (HTTPS goes through a proxy
    whose certificate Debian's bundle lacks). Nothing when the machine has no CPU torch wheel: the defaults."""
    wheels = sorted(Path("/opt/wheels").glob("torch-*+cpu-cp3*-manylinux*_x86_64.whl"))
    if not wheels:
        return []
    version = wheels[-1].name.split("-")[1]
    options, volumes = ["--find-links /opt/wheels"], ["-v", "/opt/wheels:/opt/wheels:ro"]
    for mirror in ("/opt/pypi", "/opt/pypi-more"):
        if Path(mirror, "simple").is_dir():
            options.append(f"--extra-index-url file://{mirror}/simple")
            volumes += ["-v", f"{mirror}:{mirror}:ro"]
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    if bundle.is_file():
        options.append("--cert /etc/host-ca.crt")
        volumes += ["-v", f"{bundle}:/etc/host-ca.crt:ro"]
    return ["--build-arg", "TORCH_INDEX=https://pypi.org/simple",
            "--build-arg", f"TORCH_SPEC=torch=={version} torchvision",
            "--build-arg", f"PIP_OPTIONS={' '.join(options)}", *volumes]


def test_the_space_image_builds_and_serves_every_page_offline(tmp_path):
    require_tools(("podman", "debootstrap", "unshare", "chroot"), install="podman debootstrap chromium")
    if os.geteuid() != 0:
        pytest.skip("debootstrap, podman image mount and chroot need root here")

    base_image(tmp_path)
    started = time.perf_counter()
    run(["podman", "build", "--isolation", "chroot", "--network", "host", "--build-arg", f"BASE_IMAGE={BASE}",
         *local_packages(), "-t", IMAGE, str(REPO)], timeout=2400)
    build_seconds = time.perf_counter() - started
    config = json.loads(run(["podman", "image", "inspect", IMAGE], timeout=60).stdout)[0]
    size_mb = config["Size"] / 1e6
    image = config["Config"]
    # a container's file system (the image plus a writable layer, as a running container has), not the image's
    # own read-only mount; `podman create` and `podman mount` are allowed here, `podman run` is not
    subprocess.run(["podman", "rm", "--force", "vaegan-space-test"], capture_output=True, timeout=120)
    container = run(["podman", "create", "--name", "vaegan-space-test", IMAGE], timeout=120).stdout.strip()
    try:
        mount = run(["podman", "mount", container], timeout=120).stdout.strip()
        result = serve_and_visit(Path(mount), image, tmp_path)
    finally:
        subprocess.run(["podman", "umount", container], capture_output=True, timeout=120)
        subprocess.run(["podman", "rm", "--force", container], capture_output=True, timeout=120)
    print(f"\nSpace image: {size_mb:,.0f} MB; build {build_seconds:.0f} s; cold start to healthy "
          f"{result['cold_start_seconds']:.1f} s; first page rendered in {result['pages']['overview']['seconds']:.1f} s; "
          + ", ".join(f"{name} {page['seconds']:.1f} s" for name, page in result["pages"].items()))
    assert result["offline"], "the namespace could reach the internet: the test proves nothing"
    import page_list

    assert len(result["pages"]) == len(page_list.PAGES) - 1  # every page but Train live (tests/offline_visit.py)
    for name, page in result["pages"].items():
        assert not page["errors"], (name, page["errors"])
    assert result["outside_requests"] == [], result["outside_requests"]


def serve_and_visit(root: Path, image: dict, folder: Path) -> dict:
    """Run the image's command as its user in ``root`` (chroot) in a namespace with only loopback; wait for its
    health endpoint, then visit every page from the same namespace."""
    env = ["HF_HUB_OFFLINE=1", *image.get("Env", [])]
    inside = (f"cd {shlex.quote(image.get('WorkingDir') or '/')} && exec "
              f"{shlex.join(image.get('Entrypoint') or [])} {shlex.join(image['Cmd'])}")
    user = image.get("User") or "root"
    result_path, log = folder / "space.json", folder / "server.log"
    script = f"""
set -e
ip link set lo up
mount --rbind /dev {shlex.quote(str(root))}/dev
mount -t proc proc {shlex.quote(str(root))}/proc
start=$(date +%s.%N)
chroot --userspec={shlex.quote(user)} {shlex.quote(str(root))} /usr/bin/env -i {shlex.join(env)} \
    /bin/sh -c {shlex.quote(inside)} > {shlex.quote(str(log))} 2>&1 &
server=$!
{shlex.quote(sys.executable)} - "$start" <<'EOF'
import sys, time, urllib.request
start = float(sys.argv[1])
while time.time() - start < 300:
    try:
        if urllib.request.urlopen("http://127.0.0.1:7860/_stcore/health", timeout=2).read() == b"ok":
            print(f"cold_start {{time.time() - start:.2f}}")
            sys.exit(0)
    except OSError:
        time.sleep(0.5)
sys.exit("the image's server did not become healthy within 300 s")
EOF
{shlex.quote(sys.executable)} {shlex.quote(str(REPO / 'tests' / 'offline_visit.py'))} \
    {shlex.quote(str(result_path))} http://127.0.0.1:7860
kill $server
"""
    done = subprocess.run(["unshare", "-n", "-m", "sh", "-c", script], capture_output=True, text=True, timeout=1200,
                          cwd=REPO)
    server_log = log.read_text(errors="replace")[-3000:] if log.exists() else ""
    assert done.returncode == 0, f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}\nserver:\n{server_log}"
    result = json.loads(result_path.read_text())
    result["cold_start_seconds"] = float(re.search(r"cold_start ([\d.]+)", done.stdout).group(1))
    return result
