"""Files on disk: atomic writes (every file goes to a temporary name beside its target and is renamed into
place, so an interrupted write never leaves half a file) and one strict JSON reader. No torch here (numpy
is imported only to write .npy)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import stat
from pathlib import Path
from typing import Any, Callable

from ..errors import WriteError, first_line


def _file_mode() -> int:
    """0o644 under the usual umask 022: what open() gives a new file. Read once, at import (os.umask can only
    be read by setting it)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


FILE_MODE = _file_mode()


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (a zombie counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):  # OverflowError: a number no process id can be (a foreign name)
        return False
    except PermissionError:  # someone else's process
        return True
    return True


_ANY_TEMPORARY = re.compile(r"\.tmp(\d{1,10})$")  # .NAME.tmpPID (atomic_write), NAME.tmpPID (older writers)


def clean_temporaries(path: str | os.PathLike, every_name: bool = False) -> list[Path]:
    """Remove the temporary files ``atomic_write`` left beside ``path`` in runs that were killed before they could
    (``.NAME.tmpPID`` of a process that no longer runs); returns what was removed. With ``every_name``, ``path``
    is a folder and every temporary file in it goes, whatever file it was for (``.NAME.tmpPID`` or
    ``NAME.tmpPID``: a cache folder whose writers name their files themselves). A temporary of a process that
    still runs is left alone: it may be another writer at work; removing never raises."""
    path = Path(path)
    folder = path if every_name else path.parent
    pattern = _ANY_TEMPORARY if every_name else re.compile(rf"^\.{re.escape(path.name)}\.tmp(\d+)$")
    removed = []
    try:
        with os.scandir(folder) as found:
            entries = list(found)
    except OSError:  # no folder yet, or one we cannot list: nothing to tidy
        return removed
    for entry in entries:
        match = pattern.search(entry.name)
        if match and int(match[1]) != os.getpid() and not pid_alive(int(match[1])):
            try:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
            except OSError:  # gone already, or not ours to remove
                pass
    return removed


def write_error(path: str | os.PathLike, error: BaseException) -> WriteError:
    """One line for a write that failed: the file, the reason (a full disk said as such, whatever error type the
    writer used: torch.save's RuntimeError, safetensors' own) and the fix."""
    full = getattr(error, "errno", None) == errno.ENOSPC
    if not full:
        try:
            full = shutil.disk_usage(Path(path).parent).free < 1 << 20
        except OSError:
            pass
    if full:
        return WriteError(f"could not write {path}: the disk is full; free some space and run the command again "
                          "(the previous version of the file is kept)")
    reason = getattr(error, "strerror", None) or first_line(error)
    return WriteError(f"could not write {path}: {reason} (the previous version of the file is kept)")


def atomic_write(path: str | os.PathLike, write: Callable[[str], None]) -> None:
    """Call ``write(temporary_path)``, then rename the result onto ``path`` in one step.

    The file gets the mode of any new file (``FILE_MODE``), whatever the writer chose: safetensors writes
    0600, which would make the weights the one file of a folder others cannot read. Any failure of the writer
    (a full disk above all) is a ``WriteError`` naming ``path``, the temporary file is removed and ``path``
    keeps its previous content; temporaries of killed earlier runs are removed first.
    """
    path = Path(path)
    clean_temporaries(path)
    temporary = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        write(str(temporary))
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, path)
    except WriteError:
        raise
    except Exception as error:
        # what writers raise on a full disk or a lost folder: OSError, torch.save's RuntimeError, safetensors' own
        # SafetensorError; anything else is a bug and stays a traceback
        if not isinstance(error, (OSError, RuntimeError)) and type(error).__name__ != "SafetensorError":
            raise
        raise write_error(path, error) from None
    finally:
        if temporary.exists():
            temporary.unlink()


def save_npy_atomic(path: str | os.PathLike, array) -> None:
    """Write a numpy array to ``path`` (``.npy``, no pickle) through a temporary file and a rename."""
    import numpy as np

    def write(temporary: str) -> None:
        with open(temporary, "wb") as handle:
            np.save(handle, array, allow_pickle=False)

    atomic_write(path, write)


def write_bytes_atomic(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` through ``atomic_write``."""
    atomic_write(path, lambda temporary: Path(temporary).write_bytes(data))


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write UTF-8 text to ``path`` through ``atomic_write``."""
    def write(temporary: str) -> None:
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write(text)

    atomic_write(path, write)


class JSONFileError(ValueError):
    """A file that is not strict JSON text: the reason, in one line."""


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not JSON")


JSON_LIMIT = 64 * 2**20  # no JSON file the project writes comes near this (the largest, a page cache's, is ~1 MB)


class FileKindError(OSError):
    """A path that is not a regular file (a FIFO, a device, a folder) or is larger than its reader's limit."""


@contextlib.contextmanager
def open_bounded(path: str | os.PathLike, limit: int):
    """``with open_bounded(path, limit) as handle:`` ``path`` opened for reading if it is a regular file of at most
    ``limit`` bytes; otherwise ``FileKindError`` (an ``OSError``) saying which. Opened without blocking, so a FIFO
    is refused instead of waiting for a writer; the handle reads one version of the file, whatever renames replace
    it meanwhile."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileKindError(f"{path} is not a regular file")
        if info.st_size > limit:
            raise FileKindError(f"{path} is {info.st_size:,} bytes, over the {limit:,} its reader takes")
        yield handle


def read_bounded(path: str | os.PathLike, limit: int) -> bytes:
    """The bytes of ``path`` through ``open_bounded``, read only up to ``limit + 1`` bytes, so a file that grows (or
    ``/dev/zero``) cannot fill memory."""
    with open_bounded(path, limit) as handle:
        data = handle.read(limit + 1)
    if len(data) > limit:
        raise FileKindError(f"{path} grew past the {limit:,} bytes its reader takes")
    return data


def copy_bounded(source: str | os.PathLike, target: str | os.PathLike, limit: int) -> None:
    """Copy ``source`` (through ``open_bounded``) to ``target``."""
    with open_bounded(source, limit) as handle, open(target, "wb") as out:
        copied = 0
        while block := handle.read(min(1 << 20, limit + 1 - copied)):
            out.write(block)
            copied += len(block)
            if copied > limit:
                raise FileKindError(f"{source} grew past the {limit:,} bytes its reader takes")


def read_json(path: str | os.PathLike, expect: type | None = None, limit: int = JSON_LIMIT) -> Any:
    """The JSON value in ``path``, read strictly: a regular file of at most ``limit`` bytes, UTF-8, no NaN or
    Infinity, and (with ``expect``) of that type (dict, list). Anything else is a ``JSONFileError`` with the
    reason in one line; a missing or unreadable file is the ``OSError`` open() raises."""
    try:
        data = read_bounded(path, limit)
    except FileKindError as error:
        raise JSONFileError(str(error)) from None
    try:
        value = json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:  # JSONDecodeError is a ValueError
        raise JSONFileError(first_line(error)) from None
    if expect is not None and not isinstance(value, expect):
        raise JSONFileError(f"it holds a JSON {type(value).__name__}, not a {expect.__name__}")
    return value
