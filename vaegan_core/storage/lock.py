"""One writer per run folder: the lock a training run (new or resumed) holds on its ``--out`` folder.

The lock is an advisory ``flock`` on ``.vaegan.lock`` inside the folder, which also holds the holder's pid for
the message a second writer gets. The kernel drops an flock when its process ends, however it ends, so a crash
or a kill never leaves a lock behind: the file of a dead holder is simply taken over. Where ``fcntl`` does not
exist (Windows), an exclusive-create pid file stands in, taken over when its pid no longer runs.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import CheckpointError
from .files import pid_alive

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

LOCK_FILE = ".vaegan.lock"


class FolderLock:
    """``FolderLock(folder, doing="training")``: ``acquire()`` takes the folder or raises ``CheckpointError``
    naming the holder's pid; ``release()`` (or leaving a ``with`` block) gives it back."""

    def __init__(self, folder: str | os.PathLike, doing: str = "training"):
        self.folder, self.doing = Path(folder), doing
        self.path = self.folder / LOCK_FILE
        self._handle = None

    @property
    def held(self) -> bool:
        return self._handle is not None

    def acquire(self) -> "FolderLock":
        if self.held:
            return self
        self.folder.mkdir(parents=True, exist_ok=True)
        if fcntl is None:  # pragma: no cover - Windows
            return self._acquire_pid_file()
        for _ in range(3):
            handle = open(self.path, "a+", encoding="utf-8")
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.seek(0)
                holder = handle.read().strip()
                handle.close()
                raise self._busy(holder) from None
            try:  # the file locked must still be the folder's (not one its last holder removed meanwhile)
                same = os.stat(self.path).st_ino == os.fstat(handle.fileno()).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            handle.close()
            self.folder.mkdir(parents=True, exist_ok=True)
        else:
            raise self._busy("")
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        self._handle = handle
        return self

    def _acquire_pid_file(self) -> "FolderLock":  # pragma: no cover - Windows
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                holder = self.path.read_text(encoding="utf-8", errors="replace").strip()
                if holder.isdigit() and pid_alive(int(holder)):
                    raise self._busy(holder) from None
                self.path.unlink(missing_ok=True)  # a dead holder's: taken over
                continue
            self._handle = os.fdopen(fd, "w", encoding="utf-8")
            self._handle.write(f"{os.getpid()}\n")
            self._handle.flush()
            return self
        raise self._busy("")

    def _busy(self, holder: str) -> CheckpointError:
        who = f"process {holder}" if holder.isdigit() else "another process"
        return CheckpointError(f"{self.folder} is being written by {who} (a training run); wait for it to finish, "
                               f"stop it, or choose another --out")

    def release(self) -> None:
        if self._handle is None:
            return
        handle, self._handle = self._handle, None
        if fcntl is None:  # pragma: no cover - Windows
            handle.close()
            self.path.unlink(missing_ok=True)
            return
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        finally:
            handle.close()

    def __enter__(self) -> "FolderLock":
        return self.acquire()

    def __exit__(self, *exc) -> None:
        self.release()
