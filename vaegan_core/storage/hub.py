"""Hugging Face Hub push and pull of checkpoint folders.

    vaegan push DIR --repo USER/NAME [--revision BRANCH] [--private] [--token T]
    vaegan_core.load_model("USER/NAME")  or  "hf://USER/NAME"  or  "hf://USER/NAME@REVISION"

A push uploads the files that describe and reproduce a model (``HUB_FILES``); the trainer
state stays home: it is only for --resume and holds optimizer moments. A pull downloads the same
files by revision into the standard Hugging Face cache (``$HF_HOME/hub``), so a second load,
and any load with ``HF_HUB_OFFLINE=1``, reads the cache without touching the network.

Every failure (no token, a refused token, an unknown repo or revision, no network, offline and
not cached) becomes one ``CheckpointError`` sentence that says what to do.

Paths that come from data stay inside their folder: a revision is a commit hash or a branch/tag name that
cannot climb out of the cache's ``refs/``, a cached ref must hold a commit hash, and everything in the snapshot
folder must resolve into that repo's cache folder (its files are symlinks into ``blobs/``). A push sends only
the regular files of the checkpoint folder itself, never what a symlink points at.
"""

from __future__ import annotations

import os
import re
import stat
import warnings
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from .. import __version__
from ..errors import CheckpointError, first_line
from .files import read_bounded
from .paths import (CONFIG_FILE, HISTORY_FILE, LATENT_GMM_FILE, METRICS_FILE, MODEL_CARD_FILE, SAMPLES_DIR,
                    WEIGHTS_FILE)
from .zoo import read_config_json

HUB_PREFIX = "hf://"
DEFAULT_REVISION = "main"
# What a Hub repo of a checkpoint holds (fnmatch patterns relative to the folder); never trainer_state.pt.
HUB_FILES = [CONFIG_FILE, WEIGHTS_FILE, LATENT_GMM_FILE, MODEL_CARD_FILE, METRICS_FILE, HISTORY_FILE,
             f"{SAMPLES_DIR}/*.png"]
_COMMIT_HASH = re.compile(r"[0-9a-f]{40}")  # what huggingface_hub treats as a commit (and names snapshots by)
REF_LIMIT = 1024  # a cache's refs/<revision> file holds one 40-character commit hash
# The files without which a pushed repo is not a checkpoint: a push that would leave one out is refused.
REQUIRED_FILES = (CONFIG_FILE, WEIGHTS_FILE)
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


def revision_problem(revision: str) -> str | None:
    """Why ``revision`` cannot be a branch, tag or commit name, or None when it can. huggingface_hub joins a
    revision onto the cache's ``refs/`` folder, so a name that could climb out of it (``..``, a leading ``/``, a
    backslash, NUL or another control character) is refused before it is used as a path."""
    if _COMMIT_HASH.fullmatch(revision):
        return None
    if not revision or len(revision) > 255:
        return "it is empty or longer than 255 characters"
    if ".." in revision or revision.startswith("/") or any(char in revision for char in "\\\x7f") \
            or any(ord(char) < 32 for char in revision):
        return "a branch or tag name may not hold '..', start with '/', or hold a backslash or control character"
    if any(part in ("", ".") for part in revision.split("/")):
        return "a branch or tag name may not hold an empty or '.' path segment"
    return None


def is_offline() -> bool:
    """HF_HUB_OFFLINE as it is now (huggingface_hub reads it once, at import; a later change is honoured too)."""
    from huggingface_hub import constants

    value = os.environ.get("HF_HUB_OFFLINE")
    if value is not None:
        return value.strip().upper() in ("1", "ON", "YES", "TRUE")
    return bool(constants.HF_HUB_OFFLINE)


def download(repo_id: str, revision: str | None = None) -> Path:
    """The checkpoint files of a Hub repo at ``revision`` (branch, tag or commit; default main), from the
    Hugging Face cache or downloaded into it. Returns the snapshot folder, checked to lie inside the repo's
    cache folder."""
    from huggingface_hub import constants, errors, snapshot_download

    incomplete = getattr(errors, "IncompleteSnapshotError", ())  # newer huggingface_hub only

    revision = revision or DEFAULT_REVISION
    if parse_hub_id(repo_id) != (repo_id, None):  # a Python caller may skip parse_hub_id; the id names a folder
        raise CheckpointError(f"{repo_id!r} is not a Hub repo id: use USER/NAME (letters, digits, '-', '_', '.')")
    problem = revision_problem(revision)
    if problem:
        raise CheckpointError(f"revision {revision!r} of Hub repo {repo_id} is not a branch, tag or commit name "
                              f"({problem}); use @main, another branch or tag, or a 40-character commit hash")
    where = f"Hub repo {repo_id} (revision {revision})"
    cache = Path(constants.HF_HUB_CACHE)  # read now, and passed on, so the checks below see the folder it uses
    storage = _repo_cache(cache, repo_id)
    _check_cached_ref(storage, revision, where)
    offline = is_offline()
    try:
        folder = Path(snapshot_download(repo_id=repo_id, revision=revision, allow_patterns=HUB_FILES,
                                        local_files_only=offline, cache_dir=str(cache)))
    except incomplete:
        raise CheckpointError(f"{where} is only partly in the Hugging Face cache ({cache}), "
                              "probably from an interrupted download; load it once more with a connection "
                              "(and HF_HUB_OFFLINE unset) to complete it") from None
    except errors.LocalEntryNotFoundError as error:
        if offline:
            raise CheckpointError(
                f"{where} is not in the Hugging Face cache ({cache}) and offline mode is on "
                "(HF_HUB_OFFLINE=1): load it once with a connection to download it, or unset HF_HUB_OFFLINE") from None
        reason = first_line(error.__cause__ or error)
        raise CheckpointError(f"{where} could not be downloaded and is not in the Hugging Face cache ({reason}); "
                              "check the connection or HF_ENDPOINT") from None
    except Exception as error:  # huggingface_hub's HTTP and validation errors, network errors
        raise CheckpointError(f"{where}: {_explain(error, repo_id)}") from None
    _check_snapshot(folder, storage, where)
    if not (folder / CONFIG_FILE).is_file() or not (folder / WEIGHTS_FILE).is_file():
        raise CheckpointError(f"{where} has no {CONFIG_FILE} and {WEIGHTS_FILE}: it is not a vaegan checkpoint "
                              "(push one with `vaegan push DIR --repo USER/NAME`)")
    return folder


def _repo_cache(cache: Path, repo_id: str) -> Path:
    """The repo's folder in the Hugging Face cache: ``models--USER--NAME`` (huggingface_hub's layout)."""
    from huggingface_hub.file_download import repo_folder_name

    return cache / repo_folder_name(repo_id=repo_id, repo_type="model")


def _fix_cache(storage: Path) -> str:
    return (f"delete {storage} (or run `hf cache delete`) and load it again with a connection "
            "(HF_HUB_OFFLINE unset) to download it afresh")


def _check_cached_ref(storage: Path, revision: str, where: str) -> None:
    """Refuse a cached ``refs/<revision>`` that is not one commit hash, before huggingface_hub reads it: it joins
    the file's text onto ``snapshots/`` (so ``../../etc`` would leave the cache) and reads the file unbounded (so a
    link to /dev/zero would fill memory, a FIFO would hang)."""
    if _COMMIT_HASH.fullmatch(revision):
        return  # a commit is its own snapshot's name: no ref is read
    path = storage / "refs" / revision
    try:
        data = read_bounded(path, REF_LIMIT)
    except (FileNotFoundError, NotADirectoryError):
        return  # not cached yet: a download writes it
    except OSError as error:
        raise CheckpointError(f"{where}: the Hugging Face cache's ref {path} cannot be read ({first_line(error)}); "
                              f"{_fix_cache(storage)}") from None
    if not _COMMIT_HASH.fullmatch(data.decode("latin-1")):
        raise CheckpointError(f"{where}: the Hugging Face cache's ref {path} does not hold a commit hash (40 hex "
                              f"digits), so it could point anywhere; {_fix_cache(storage)}")


def _check_snapshot(folder: Path, storage: Path, where: str) -> None:
    """Refuse a snapshot folder, or anything in it, that resolves outside the repo's cache folder: the snapshot
    must be ``snapshots/<commit>`` itself, and its entries lie in it or are links into ``blobs/``, as
    huggingface_hub makes them. Whatever a model load then opens from the folder stays in the cache."""
    root = storage.resolve()
    resolved = folder.resolve()
    if resolved.parent != root / "snapshots" or not _COMMIT_HASH.fullmatch(resolved.name):
        raise CheckpointError(f"{where}: the Hugging Face cache's snapshot {folder} leads to {resolved}, outside "
                              f"the repo's snapshots folder; {_fix_cache(storage)}")
    blobs = root / "blobs"
    for parent, folders, files in os.walk(folder):  # links to folders are listed, not followed
        for name in folders + files:
            entry = Path(parent) / name
            target = entry.resolve()
            if not (target.is_relative_to(resolved) or (name in files and target.is_relative_to(blobs))):
                raise CheckpointError(f"{where}: {entry.relative_to(folder)} in the Hugging Face cache's snapshot "
                                      f"{folder} leads to {target}, outside the repo's cache folder; "
                                      f"{_fix_cache(storage)}")


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
    revision = revision or DEFAULT_REVISION
    problem = revision_problem(revision)
    if problem:
        raise CheckpointError(f"--revision {revision!r} is not a branch name ({problem}); use a name like dev")
    files, left_out = upload_list(directory)
    for name in REQUIRED_FILES:
        if name in left_out:
            raise CheckpointError(f"{directory / name} is a link or not a regular file, and a push sends only the "
                                  "folder's own files; copy the real file in (`cp --dereference`) and push again")
        if name not in files:
            raise CheckpointError(f"{directory} has no {name}, so it is not a checkpoint; train one with "
                                  f"`vaegan train --out {directory}` or check the path")
    if left_out:  # a link could publish a file from outside the checkpoint (a key, a system file): never sent
        warnings.warn(f"left out of the push, as links or not regular files inside {directory}: "
                      f"{', '.join(left_out)}; copy the real files in to publish them", stacklevel=2)
    if is_offline():
        raise CheckpointError("offline mode is on (HF_HUB_OFFLINE=1), so nothing can be pushed; unset it and retry")

    from huggingface_hub import CommitOperationAdd, HfApi, get_token

    token = token or get_token()
    if not token:
        raise CheckpointError(f"no Hugging Face token found: {_TOKEN_HELP}")
    api = HfApi(token=token)
    message = commit_message or (f"Upload {read_config_json(directory).get('class', 'vaegan')} checkpoint with "
                                 f"vaegan {__version__}")
    with ExitStack() as stack:
        # Each file is opened here, without following a link, and sent from that handle: upload_folder would
        # glob the folder again and follow links, and a file swapped for a link after the check is refused.
        handles = {name: stack.enter_context(_open_regular(directory / name)) for name in files}
        try:
            # private=None, not False: a new repo without --private follows the user's or organisation's default
            repo_url = api.create_repo(repo_id, private=True if private else None, exist_ok=True)
            if revision != DEFAULT_REVISION:
                api.create_branch(repo_id, branch=revision, exist_ok=True)
            operations = [CommitOperationAdd(path_in_repo=name, path_or_fileobj=handle)
                          for name, handle in handles.items()]
            commit = api.create_commit(repo_id=repo_id, operations=operations, revision=revision,
                                       commit_message=message)
        except Exception as error:  # huggingface_hub's HTTP errors, network errors
            reason = _explain(error, repo_id, writing=True)
            raise CheckpointError(f"pushing {directory} to {repo_id} failed: {reason}") from None
    return {"repo_id": repo_id, "revision": revision, "commit_sha": commit.oid, "commit_url": commit.commit_url,
            "repo_url": str(repo_url), "files": files, "left_out": left_out,
            "load_with": f'vaegan_core.load_model("{HUB_PREFIX}{repo_id}@{commit.oid}")'}


def upload_list(directory: str | os.PathLike) -> tuple[list[str], list[str]]:
    """(files a push sends, files it leaves out): the ``HUB_FILES`` of ``directory`` as sorted relative POSIX
    paths. Sent: regular files inside the folder, reached without a symlink (neither the file nor a sub-folder on
    the way may be one). Left out: everything else the patterns match (a link to a system file, a file in a
    linked ``samples/``, a FIFO)."""
    directory = Path(directory)
    root = directory.resolve()
    chosen, left_out = set(), set()
    for pattern in HUB_FILES:
        for path in directory.glob(pattern):
            relative = path.relative_to(directory)
            (chosen if _is_own_regular_file(directory, relative, root) else left_out).add(relative.as_posix())
    return sorted(chosen), sorted(left_out - chosen)


def _is_own_regular_file(directory: Path, relative: Path, root: Path) -> bool:
    current = directory
    for part in relative.parts[:-1]:
        current = current / part
        if current.is_symlink() or not current.is_dir():
            return False
    try:
        info = os.lstat(directory / relative)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and (directory / relative).resolve().is_relative_to(root)


def _open_regular(path: Path):
    """``path`` opened for reading if it is still a regular file and not a link (it was checked a moment before)."""
    changed = CheckpointError(f"{path} changed into a link or something other than a regular file during the "
                              "push; push again")
    try:  # O_NOFOLLOW: a link put in its place fails here (ELOOP) instead of being followed
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError:
        raise changed from None
    handle = os.fdopen(fd, "rb")
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        handle.close()
        raise changed
    return handle


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
