"""Hub push and pull against a local stand-in of the Hugging Face Hub (tests/hub_standin.py).

The push and the loads run in fresh processes with HF_ENDPOINT pointing at the stand-in and
HF_HOME in a temporary folder: huggingface_hub reads both at import, and its real code path runs
(create_repo, preupload, commit, model_info, tree listing, HEAD/GET resolve, the cache layout).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from conftest import tiny_model_config, tiny_train_config
from hub_standin import HubStandIn
from vaegan_core.storage.checkpoint import load_model, read_config, save_checkpoint
from vaegan_core.cli import main
from vaegan_core.errors import CheckpointError
from vaegan_core.storage.hub import parse_hub_id
from vaegan_core.models.prior import LatentGMM

TOKEN = "hf_test_token"
REPO_ID = "user/tiny"
HUB_ENV = ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_ENDPOINT", "HF_HOME",
           "HF_HUB_CACHE", "HF_TOKEN_PATH", "HF_HUB_DISABLE_XET")

# Loads each spec in argv[2:] and saves model.sample(4, seed 0) to argv[1]/<i>.pt, or records the error.
LOAD = r"""
import json, sys, torch, vaegan_core
from vaegan_core.errors import CheckpointError
results = {}
for index, spec in enumerate(sys.argv[2:]):
    try:
        model = vaegan_core.load_model(spec)
        path = f"{sys.argv[1]}/{index}.pt"
        torch.save(model.sample(4, generator=torch.Generator().manual_seed(0)), path)
        results[spec] = {"samples": path, "folder": model.checkpoint_dir}
    except CheckpointError as error:
        results[spec] = {"error": str(error)}
print("RESULT " + json.dumps(results))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def hub_env(endpoint: str, hf_home: Path, **extra: str) -> dict:
    env = {key: value for key, value in os.environ.items() if key not in HUB_ENV}
    env.update(HF_ENDPOINT=endpoint, HF_HOME=str(hf_home), HF_HUB_DISABLE_TELEMETRY="1", **extra)
    return env


def python(args: list[str], env: dict, cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def vaegan(args: list[str], env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return python(["-m", "vaegan_core.cli", *args], env, cwd)


def load_in_subprocess(specs: list[str], env: dict, cwd: Path) -> dict:
    out = cwd / f"samples-{len(list(cwd.glob('samples-*')))}"
    out.mkdir()
    result = python(["-c", LOAD, str(out), *specs], env, cwd)
    assert result.returncode == 0, result.stderr[-3000:]
    line = next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))
    return json.loads(line[len("RESULT "):])


def reference_samples(folder) -> torch.Tensor:
    return load_model(folder).sample(4, generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def pushed(tmp_path_factory):
    """A tiny trained checkpoint pushed (private) to main of the stand-in, and a variant with other weights
    pushed to the branch ``dev``."""
    from vaegan_core.training.train import Trainer

    root = tmp_path_factory.mktemp("hub")
    checkpoint = root / "checkpoint"
    Trainer(tiny_model_config("vaegan"), tiny_train_config(epochs=1), checkpoint, progress=False).fit()
    LatentGMM([1.0], [[0.5] * 8], [torch.eye(8).numpy()]).save(checkpoint)  # the optional second prior travels too
    variant = root / "variant"
    model = load_model(checkpoint)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn(parameter.shape, generator=generator))
    config = read_config(checkpoint)
    save_checkpoint(variant, model, config["train_config"], config["state"])

    hub = HubStandIn(tokens=[TOKEN]).start()
    env = hub_env(hub.url, root / "hf-push", HF_TOKEN=TOKEN)
    pushes = {}
    for name, folder, extra in (("main", checkpoint, ["--private"]), ("dev", variant, ["--revision", "dev"])):
        result = vaegan(["push", str(folder), "--repo", REPO_ID, *extra], env, root)
        assert result.returncode == 0, result.stderr[-3000:]
        pushes[name] = json.loads(result.stdout)
    yield SimpleNamespace(root=root, checkpoint=checkpoint, variant=variant, hub=hub, pushes=pushes)
    hub.stop()


def test_push_uploads_the_checkpoint_but_not_the_trainer_state(pushed):
    main_push = pushed.pushes["main"]
    assert main_push["repo_id"] == REPO_ID and main_push["revision"] == "main"
    assert len(main_push["commit_sha"]) == 40 and main_push["commit_sha"] in main_push["commit_url"]
    remote = pushed.hub.files(REPO_ID, "main")
    assert (pushed.checkpoint / "trainer_state.pt").is_file()
    expected = {"config.json", "model.safetensors", "latent_gmm.safetensors", "README.md", "history.jsonl",
                "samples/epoch_001.png"}
    assert set(remote) == expected | {".gitattributes"}  # the stand-in's initial commit holds .gitattributes
    assert sorted(main_push["files"]) == sorted(expected)
    for name in expected:
        assert remote[name] == (pushed.checkpoint / name).read_bytes(), name
    assert pushed.hub.repos[REPO_ID].private
    assert pushed.hub.repos[REPO_ID].branches["main"] == main_push["commit_sha"]
    # small files go inline in the commit: no LFS batch or Xet endpoints were asked for
    assert not [path for _, path in pushed.hub.requests if "lfs" in path or "xet" in path]


def test_push_to_a_branch_leaves_main_alone(pushed):
    assert pushed.pushes["dev"]["revision"] == "dev"
    dev, main_files = pushed.hub.files(REPO_ID, "dev"), pushed.hub.files(REPO_ID, "main")
    assert dev["model.safetensors"] == (pushed.variant / "model.safetensors").read_bytes()
    assert main_files["model.safetensors"] == (pushed.checkpoint / "model.safetensors").read_bytes()
    assert dev["model.safetensors"] != main_files["model.safetensors"]


def test_load_from_the_hub_matches_the_local_model_then_works_offline(pushed, tmp_path):
    hf_home = tmp_path / "hf"  # a fresh cache: everything is downloaded
    sha = pushed.pushes["main"]["commit_sha"]
    specs = [f"hf://{REPO_ID}", REPO_ID, f"hf://{REPO_ID}@{sha}", f"hf://{REPO_ID}@dev", f"hf://{REPO_ID}@no-branch"]
    online = load_in_subprocess(specs, hub_env(pushed.hub.url, hf_home, HF_TOKEN=TOKEN), tmp_path)

    original, variant = reference_samples(pushed.checkpoint), reference_samples(pushed.variant)
    for spec in specs[:3]:
        assert "error" not in online[spec], online[spec]
        assert torch.equal(torch.load(online[spec]["samples"]), original), spec
        folder = Path(online[spec]["folder"])
        assert folder == hf_home / "hub" / "models--user--tiny" / "snapshots" / sha
        assert not (folder / "trainer_state.pt").exists() and (folder / "latent_gmm.safetensors").is_file()
    assert torch.equal(torch.load(online[specs[3]]["samples"]), variant)
    assert "no such revision" in online[specs[4]]["error"]

    # offline, with the stand-in out of reach: the cache answers, an uncached repo gets one clear sentence
    requests_before = len(pushed.hub.requests)
    dead = f"http://127.0.0.1:{free_port()}"
    offline_specs = [f"hf://{REPO_ID}", REPO_ID, f"hf://{REPO_ID}@dev", "hf://user/never-pushed"]
    offline = load_in_subprocess(offline_specs, hub_env(dead, hf_home, HF_HUB_OFFLINE="1"), tmp_path)
    assert torch.equal(torch.load(offline[offline_specs[0]]["samples"]), original)
    assert torch.equal(torch.load(offline[offline_specs[1]]["samples"]), original)
    assert torch.equal(torch.load(offline[offline_specs[2]]["samples"]), variant)
    message = offline["hf://user/never-pushed"]["error"]
    assert "user/never-pushed" in message and "not in the Hugging Face cache" in message
    assert "offline mode is on" in message and "\n" not in message
    assert len(pushed.hub.requests) == requests_before


def test_push_and_pull_errors_are_one_clear_line(pushed, tmp_path):
    """No token, a refused token, a private repo without a token, and a Hub that cannot be reached."""
    script = r"""
import contextlib, io, json, sys
from vaegan_core.cli import main
import vaegan_core
from vaegan_core.errors import CheckpointError
results = {}
for name, argv in (("no-token", ["push", sys.argv[1], "--repo", "user/other"]),
                   ("bad-token", ["push", sys.argv[1], "--repo", "user/other", "--token", "hf_wrong"])):
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        code = main(argv)
    results[name] = [code, stderr.getvalue()]
try:
    vaegan_core.load_model("hf://user/tiny")
    results["private"] = "loaded"
except CheckpointError as error:
    results["private"] = str(error)
print("RESULT " + json.dumps(results))
"""
    result = python(["-c", script, str(pushed.checkpoint)], hub_env(pushed.hub.url, tmp_path / "hf"), tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads(next(line for line in result.stdout.splitlines() if line.startswith("RESULT "))[7:])
    code, stderr = results["no-token"]
    assert code == 1 and "no Hugging Face token" in stderr and "hf auth login" in stderr
    code, stderr = results["bad-token"]
    assert code == 1 and "refused the token (401" in stderr
    assert "user/tiny" in results["private"] and "HF_TOKEN" in results["private"]
    for text in (results["no-token"][1], results["bad-token"][1], results["private"]):
        assert text.strip().count("\n") == 0 and "Traceback" not in text
    assert "user/other" not in pushed.hub.repos

    dead = f"http://127.0.0.1:{free_port()}"
    result = vaegan(["push", str(pushed.checkpoint), "--repo", "user/other"],
                    hub_env(dead, tmp_path / "hf", HF_TOKEN=TOKEN), tmp_path)
    assert result.returncode == 1
    assert "could not reach the Hub" in result.stderr and result.stderr.strip().count("\n") == 0


@pytest.mark.parametrize("make, message", [
    (lambda root: root / "missing", "does not exist"),
    (lambda root: root, "config.json is missing"),
])
def test_push_refuses_a_folder_that_is_not_a_checkpoint(tmp_path, capsys, make, message):
    code = main(["push", str(make(tmp_path)), "--repo", REPO_ID, "--token", TOKEN])
    error = capsys.readouterr().err
    assert code == 1 and message in error and error.count("\n") == 1


def test_push_refuses_a_bad_repo_id_and_offline_mode(pushed, capsys, monkeypatch):
    assert main(["push", str(pushed.checkpoint), "--repo", "no-slash", "--token", TOKEN]) == 1
    assert "USER/NAME" in capsys.readouterr().err
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["push", str(pushed.checkpoint), "--repo", REPO_ID, "--token", TOKEN]) == 1
    assert "offline mode is on" in capsys.readouterr().err


def test_a_local_folder_wins_over_a_repo_id(pushed, tmp_path, monkeypatch):
    shutil.copytree(pushed.variant, tmp_path / "user" / "tiny")
    monkeypatch.chdir(tmp_path)
    model = load_model(REPO_ID)  # no network: the folder exists
    assert model.checkpoint_dir == REPO_ID
    assert torch.equal(model.sample(4, generator=torch.Generator().manual_seed(0)), reference_samples(pushed.variant))


@pytest.mark.parametrize("spec, parsed", [
    ("user/name", ("user/name", None)),
    ("hf://user/name", ("user/name", None)),
    ("hf://user/name@dev", ("user/name", "dev")),
    ("hf://org-1/model.v2@" + "a" * 40, ("org-1/model.v2", "a" * 40)),
    ("hf://user/name@", None),
    ("a/b/c", None),
    ("just-a-name", None),
    ("../x", None),
])
def test_parse_hub_id(spec, parsed):
    assert parse_hub_id(spec) == parsed


def test_a_malformed_hub_address_is_refused():
    with pytest.raises(CheckpointError, match="not a Hub address"):
        load_model("hf://not-a-repo")


# ---------------------------------------------------------------- paths from the cache and the folder stay inside

SHA = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def tiny_checkpoint(tmp_path):
    """A tiny untrained checkpoint (config.json, model.safetensors, samples/), made in milliseconds."""
    from vaegan_core.models import build_model

    folder = tmp_path / "tiny-checkpoint"
    save_checkpoint(folder, build_model(tiny_model_config("vae")).eval())
    (folder / "samples").mkdir()
    (folder / "samples" / "epoch_001.png").write_bytes(b"\x89PNG not really")
    return folder


@pytest.fixture
def offline_cache(tmp_path, monkeypatch, tiny_checkpoint):
    """A Hugging Face cache laid out as huggingface_hub writes it (refs/main -> snapshots/SHA/* -> ../../blobs/*),
    holding the tiny checkpoint as user/tiny, with offline mode on; and ``outside``, a checkpoint folder beside
    the cache that no cache entry may lead to."""
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    storage = cache / "models--user--tiny"
    (storage / "refs").mkdir(parents=True)
    (storage / "refs" / "main").write_text(SHA)
    snapshot = storage / "snapshots" / SHA
    for name in ("config.json", "model.safetensors", "samples/epoch_001.png"):
        blob = storage / "blobs" / git_blob_name(name)
        blob.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tiny_checkpoint / name, blob)
        (snapshot / name).parent.mkdir(parents=True, exist_ok=True)
        (snapshot / name).symlink_to(os.path.relpath(blob, (snapshot / name).parent))
    outside = tmp_path / "outside"
    shutil.copytree(tiny_checkpoint, outside)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return SimpleNamespace(storage=storage, snapshot=snapshot, outside=outside, tmp_path=tmp_path)


def git_blob_name(name: str) -> str:
    import hashlib

    return hashlib.sha1(name.encode()).hexdigest()


def test_a_well_formed_cache_loads_offline(offline_cache):
    from vaegan_core.storage.hub import download

    assert download(REPO_ID) == offline_cache.snapshot
    assert download(REPO_ID, SHA) == offline_cache.snapshot
    assert load_model(f"hf://{REPO_ID}").checkpoint_dir == str(offline_cache.snapshot)


def _point_ref_outside(cache, absolute):
    target = cache.outside if absolute else os.path.relpath(cache.outside, cache.storage / "snapshots")
    (cache.storage / "refs" / "main").write_text(str(target))


def _link_weights_outside(cache):
    (cache.snapshot / "model.safetensors").unlink()
    (cache.snapshot / "model.safetensors").symlink_to(cache.outside / "model.safetensors")


def _link_snapshot_outside(cache):
    shutil.rmtree(cache.snapshot)
    cache.snapshot.symlink_to(cache.outside, target_is_directory=True)


def _link_samples_outside(cache):
    shutil.rmtree(cache.snapshot / "samples")
    (cache.snapshot / "samples").symlink_to(cache.outside / "samples", target_is_directory=True)


@pytest.mark.parametrize("tamper", [
    lambda cache: _point_ref_outside(cache, absolute=False),
    lambda cache: _point_ref_outside(cache, absolute=True),
    _link_weights_outside,
    _link_snapshot_outside,
    _link_samples_outside,
], ids=["ref-relative", "ref-absolute", "weights-link", "snapshot-link", "samples-folder-link"])
def test_a_cache_entry_leading_outside_the_repo_folder_is_refused(offline_cache, tamper):
    tamper(offline_cache)
    with pytest.raises(CheckpointError) as caught:
        load_model(f"hf://{REPO_ID}")
    message = str(caught.value)
    assert REPO_ID in message and str(offline_cache.storage) in message and "delete" in message
    assert "\n" not in message


@pytest.mark.parametrize("revision", ["../refs/main", "/etc", "main/../main", "a\\b", "a\0b", "./main", "dev/"])
def test_a_revision_that_could_leave_the_refs_folder_is_refused(offline_cache, revision):
    (offline_cache.storage / "main").write_text(SHA)  # what "../main" would reach from refs/
    with pytest.raises(CheckpointError, match="is not a branch, tag or commit name") as caught:
        load_model(f"hf://{REPO_ID}@{revision}")
    assert REPO_ID in str(caught.value) and "\n" not in str(caught.value)


# Runs download() offline with the cache in argv[1], under a memory cap so that an unbounded read fails fast.
DOWNLOAD_CAPPED = r"""
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))
from huggingface_hub import constants
constants.HF_HUB_CACHE = sys.argv[1]
from vaegan_core.errors import CheckpointError
from vaegan_core.storage.hub import download
try:
    print("RESULT loaded", download("user/tiny"))
except CheckpointError as error:
    print("RESULT", error)
"""


@pytest.mark.parametrize("make_ref", [
    lambda ref: os.mkfifo(ref),  # huggingface_hub's open().read() would wait for a writer forever
    lambda ref: ref.symlink_to("/dev/zero"),  # ... and read this until memory runs out
    lambda ref: ref.write_text(SHA + "\n" * 5000),  # a regular file, but far larger than a commit hash
], ids=["fifo", "dev-zero", "oversized"])
def test_a_ref_is_read_bounded(offline_cache, make_ref):
    ref = offline_cache.storage / "refs" / "main"
    ref.unlink()
    make_ref(ref)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    try:
        result = python(["-c", DOWNLOAD_CAPPED, str(offline_cache.storage.parent)], env, offline_cache.tmp_path,
                        timeout=60)
    except subprocess.TimeoutExpired:
        pytest.fail("reading the ref hung")
    line = next((line for line in result.stdout.splitlines() if line.startswith("RESULT ")), result.stderr[-2000:])
    assert REPO_ID in line and str(ref) in line and ("not a regular file" in line or "over the" in line), line


def test_push_sends_only_the_folders_own_regular_files(tiny_checkpoint, tmp_path, monkeypatch, capsys):
    """A link to a file outside (here a stand-in for a system file) and files in a linked sub-folder are left
    out, named in one warning line; the rest is pushed."""
    from huggingface_hub import constants

    secret = tmp_path / "secret.txt"
    secret.write_text("not for the Hub")
    (tiny_checkpoint / "metrics.json").symlink_to(secret)
    (tiny_checkpoint / "README.md").symlink_to(tiny_checkpoint / "config.json")  # even a link inside the folder
    linked_samples = tmp_path / "elsewhere"
    linked_samples.mkdir()
    (linked_samples / "epoch_002.png").write_bytes(b"elsewhere")
    shutil.rmtree(tiny_checkpoint / "samples")
    (tiny_checkpoint / "samples").symlink_to(linked_samples, target_is_directory=True)
    (tiny_checkpoint / "history.jsonl").write_text('{"step": 1}\n')

    with HubStandIn(tokens=[TOKEN]) as hub:
        monkeypatch.setattr(constants, "ENDPOINT", hub.url)
        # online, whatever an earlier test left: huggingface_hub reads HF_HUB_OFFLINE once, at its import
        monkeypatch.setenv("HF_HUB_OFFLINE", "0")
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        with pytest.warns(UserWarning, match="left out of the push") as caught:
            code = main(["push", str(tiny_checkpoint), "--repo", "user/links", "--token", TOKEN])
        captured = capsys.readouterr()
        assert code == 0, captured.err
        remote = hub.files("user/links")
    assert set(remote) == {".gitattributes", "config.json", "model.safetensors", "history.jsonl"}
    assert json.loads(captured.out)["left_out"] == ["README.md", "metrics.json", "samples/epoch_002.png"]
    (warning,) = [str(record.message) for record in caught]
    assert "metrics.json" in warning and "samples/epoch_002.png" in warning and "\n" not in warning


def test_push_refuses_weights_that_are_a_link(tiny_checkpoint, tmp_path, capsys):
    moved = tmp_path / "weights.safetensors"
    (tiny_checkpoint / "model.safetensors").rename(moved)
    (tiny_checkpoint / "model.safetensors").symlink_to(moved)
    code = main(["push", str(tiny_checkpoint), "--repo", REPO_ID, "--token", TOKEN])
    error = capsys.readouterr().err
    assert code == 1 and "is a link" in error and "cp --dereference" in error and error.count("\n") == 1
