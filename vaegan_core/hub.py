"""Hugging Face Hub push and pull of checkpoint folders.

    vaegan push DIR --repo USER/NAME [--revision BRANCH] [--private] [--token T]
    vaegan_core.load_model("USER/NAME")  or  "hf://USER/NAME"  or  "hf://USER/NAME@REVISION"

A push uploads the files that describe and reproduce a model (``HUB_FILES``); the trainer
state stays home: it is only for --resume and holds optimizer moments. A pull downloads the same
files by revision into the standard Hugging Face cache (``$HF_HOME/hub``), so a second load,
and any load with ``HF_HUB_OFFLINE=1``, reads the cache without touching the network.

Every failure (no token, a refused token, an unknown repo or revision, no network, offline and
not cached) becomes one ``CheckpointError`` sentence that says what to do.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from . import __version__
from .errors import CheckpointError, first_line
from .paths import (CONFIG_FILE, HISTORY_FILE, LATENT_GMM_FILE, METRICS_FILE, MODEL_CARD_FILE, SAMPLES_DIR,
                    WEIGHTS_FILE)
from .zoo import read_config_json

HUB_PREFIX = "hf://"
DEFAULT_REVISION = "main"
# What a Hub repo of a checkpoint holds (fnmatch patterns relative to the folder); never trainer_state.pt.
HUB_FILES = [CONFIG_FILE, WEIGHTS_FILE, LATENT_GMM_FILE, MODEL_CARD_FILE, METRICS_FILE, HISTORY_FILE,
             f"{SAMPLES_DIR}/*.png"]
_TOKEN_HELP = "run `hf auth login`, set HF_TOKEN, or pass --token (a write token from huggingface.co/settings/tokens)"


def parse_hub_id(spec: str) -> tuple[str, str | None] | None:
    """``"USER/NAME"``, ``"hf://USER/NAME"`` or ``"hf://USER/NAME@REVISION"`` -> (repo id, revision or None);
    None when ``spec`` does not have the shape of a repo id."""
    text = str(spec)
    if text.startswith(HUB_PREFIX):
        text = text[len(HUB_PREFIX):]
    repo_id, _, revision = text.partition("@")
    if not re.fullmatch(r"[A-Za-z0-9][\w.-]*/[\w.-]+", repo_id) or ".." in repo_id:
        return None
    if "@" in str(spec) and not revision:
        return None
    return repo_id, revision or None


def is_offline() -> bool:
    """HF_HUB_OFFLINE as it is now (huggingface_hub reads it once, at import; a later change is honoured too)."""
    from huggingface_hub import constants

    value = os.environ.get("HF_HUB_OFFLINE")
    if value is not None:
        return value.strip().upper() in ("1", "ON", "YES", "TRUE")
    return bool(constants.HF_HUB_OFFLINE)


def download(repo_id: str, revision: str | None = None) -> Path:
    """The checkpoint files of a Hub repo at ``revision`` (branch, tag or commit; default main), from the
    Hugging Face cache or downloaded into it. Returns the snapshot folder."""
    from huggingface_hub import constants, errors, snapshot_download

    incomplete = getattr(errors, "IncompleteSnapshotError", ())  # newer huggingface_hub only

    revision = revision or DEFAULT_REVISION
    where = f"Hub repo {repo_id} (revision {revision})"
    offline = is_offline()
    try:
        folder = Path(snapshot_download(repo_id=repo_id, revision=revision, allow_patterns=HUB_FILES,
                                        local_files_only=offline))
    except incomplete:
        raise CheckpointError(f"{where} is only partly in the Hugging Face cache ({constants.HF_HUB_CACHE}), "
                              "probably from an interrupted download; load it once more with a connection "
                              "(and HF_HUB_OFFLINE unset) to complete it") from None
    except errors.LocalEntryNotFoundError as error:
        if offline:
            raise CheckpointError(
                f"{where} is not in the Hugging Face cache ({constants.HF_HUB_CACHE}) and offline mode is on "
                "(HF_HUB_OFFLINE=1): load it once with a connection to download it, or unset HF_HUB_OFFLINE") from None
        reason = first_line(error.__cause__ or error)
        raise CheckpointError(f"{where} could not be downloaded and is not in the Hugging Face cache ({reason}); "
                              "check the connection or HF_ENDPOINT") from None
    except Exception as error:  # huggingface_hub's HTTP and validation errors, network errors
        raise CheckpointError(f"{where}: {_explain(error, repo_id)}") from None
    if not (folder / CONFIG_FILE).is_file() or not (folder / WEIGHTS_FILE).is_file():
        raise CheckpointError(f"{where} has no {CONFIG_FILE} and {WEIGHTS_FILE}: it is not a vaegan checkpoint "
                              "(push one with `vaegan push DIR --repo USER/NAME`)")
    return folder


def push_to_hub(directory: str | os.PathLike, repo_id: str, revision: str | None = None, private: bool = False,
                token: str | None = None, commit_message: str | None = None) -> dict[str, Any]:
    """Upload a checkpoint folder's ``HUB_FILES`` to the model repo ``repo_id`` (created if needed).

    This only uploads: ``vaegan push`` first checks that the folder is a checkpoint that loads (never
    publish a broken model); a caller from Python does the same with ``vaegan_core.load_model(directory)``.

    ``revision``: a branch (created from main if it does not exist); default main. ``private`` only
    applies when the repo is created. Returns the repo id, revision, commit sha and URLs, and the files sent.
    """
    directory = Path(directory)
    parsed = parse_hub_id(repo_id)
    if parsed is None or parsed[1] is not None or str(repo_id).startswith(HUB_PREFIX):
        raise CheckpointError(f"--repo {repo_id!r} is not a repo id: use USER/NAME (letters, digits, '-', '_', '.')")
    if not directory.is_dir():
        raise CheckpointError(f"checkpoint folder {directory} does not exist; train one with "
                              f"`vaegan train --out {directory}` or check the path")
    files = sorted(str(path.relative_to(directory)) for pattern in HUB_FILES for path in directory.glob(pattern)
                   if path.is_file())
    if is_offline():
        raise CheckpointError("offline mode is on (HF_HUB_OFFLINE=1), so nothing can be pushed; unset it and retry")

    from huggingface_hub import HfApi, get_token

    token = token or get_token()
    if not token:
        raise CheckpointError(f"no Hugging Face token found: {_TOKEN_HELP}")
    api = HfApi(token=token)
    revision = revision or DEFAULT_REVISION
    message = commit_message or (f"Upload {read_config_json(directory).get('class', 'vaegan')} checkpoint with "
                                 f"vaegan {__version__}")
    try:
        # private=None, not False: a new repo without --private follows the user's or organisation's default
        repo_url = api.create_repo(repo_id, private=True if private else None, exist_ok=True)
        if revision != DEFAULT_REVISION:
            api.create_branch(repo_id, branch=revision, exist_ok=True)
        commit = api.upload_folder(repo_id=repo_id, folder_path=str(directory), revision=revision,
                                   allow_patterns=HUB_FILES, commit_message=message)
    except Exception as error:  # huggingface_hub's HTTP errors, network errors
        reason = _explain(error, repo_id, writing=True)
        raise CheckpointError(f"pushing {directory} to {repo_id} failed: {reason}") from None
    return {"repo_id": repo_id, "revision": revision, "commit_sha": commit.oid, "commit_url": commit.commit_url,
            "repo_url": str(repo_url), "files": files,
            "load_with": f'vaegan_core.load_model("{HUB_PREFIX}{repo_id}@{commit.oid}")'}


def _explain(error: Exception, repo_id: str, writing: bool = False) -> str:
    """One actionable clause for an exception raised by huggingface_hub (or by the network under it)."""
    from huggingface_hub.errors import (GatedRepoError, HfHubHTTPError, OfflineModeIsEnabled, RepositoryNotFoundError,
                                        RevisionNotFoundError)

    detail = first_line(error)
    if isinstance(error, OfflineModeIsEnabled):
        return "offline mode is on (HF_HUB_OFFLINE=1); unset it to reach the Hub"
    if isinstance(error, RevisionNotFoundError):
        return "no such revision (branch, tag or commit) in the repo; check the name after '@'"
    if isinstance(error, GatedRepoError):
        return "the repo is gated: request access on its page, then log in with `hf auth login` or set HF_TOKEN"
    if isinstance(error, RepositoryNotFoundError):
        return (f"no repo {repo_id} that this token can see ({detail}); check the name, and for a private repo "
                "log in with `hf auth login` or set HF_TOKEN")
    if isinstance(error, HfHubHTTPError):
        status = getattr(getattr(error, "response", None), "status_code", None)
        if status == 401:
            return f"the Hub refused the token (401 Unauthorized): it is invalid or expired; {_TOKEN_HELP}"
        if status == 403:
            return (f"the token may not {'write to' if writing else 'read'} {repo_id} (403 Forbidden); use a token "
                    "with write access to that user or organisation")
        return f"the Hub answered {status or 'an error'} ({detail}); retry later"
    if isinstance(error, (ConnectionError, TimeoutError, OSError)) or _is_network_error(error):
        from huggingface_hub import constants

        return (f"could not reach the Hub at {constants.ENDPOINT} ({type(error).__name__}: {detail}); "
                "check the connection (or HF_ENDPOINT)")
    return f"{type(error).__name__}: {detail}"


def _is_network_error(error: Exception) -> bool:
    """httpx / httpx2 / requests transport errors, recognised by name so no HTTP client needs importing."""
    return any(cls.__name__ in ("TransportError", "RequestError", "ConnectionError", "Timeout", "TimeoutException")
               for cls in type(error).__mro__)
