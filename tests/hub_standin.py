"""A local stand-in for the Hugging Face Hub: the HTTP endpoints huggingface_hub calls to create a
model repo, commit small files to it, describe it and download its files. No internet needed.

Point huggingface_hub at it with ``HF_ENDPOINT=http://127.0.0.1:PORT`` (read at import, so set it
in the environment of a fresh process). Served (model repos only, kept in memory):

    POST /api/repos/create                              create_repo (409 if it exists)
    POST /api/validate-yaml                             README.md front matter check (create_commit)
    POST /api/models/{repo}/preupload/{rev}             upload modes: always "regular", so no LFS / Xet transfer
    POST /api/models/{repo}/commit/{rev}                ndjson commit of base64 "file" entries (and deletions)
    POST /api/models/{repo}/branch/{branch}             create_branch from main (409 if it exists)
    GET  /api/models/{repo}[/revision/{rev}]            model_info / repo_info: sha and siblings
    GET  /api/models/{repo}/tree/{rev}[/{path}]         list_repo_tree (one page, ?recursive honoured)
    GET  /api/models/{repo}/refs                        list_repo_refs
    GET  /api/whoami-v2                                 whoami
    HEAD, GET /{repo}/resolve/{rev}/{path}              file metadata (X-Repo-Commit, ETag, Content-Length) and bytes

Writes need ``Authorization: Bearer <one of tokens>``; an unknown token gets the Hub's 401. Reads of
public repos need no token. Errors carry the Hub's ``X-Error-Code`` (RepoNotFound, RevisionNotFound,
EntryNotFound) so huggingface_hub raises its usual exception types. ``requests`` records every
(method, path) for tests to inspect.

    python tests/hub_standin.py --port 8765 --token hf_test    # by hand
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

GITATTRIBUTES = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def git_blob_oid(content: bytes) -> str:
    """The git blob sha1 the Hub uses as a regular file's oid and ETag."""
    return hashlib.sha1(b"blob %d\0" % len(content) + content).hexdigest()


@dataclass
class Repo:
    private: bool = False
    branches: dict[str, str] = field(default_factory=dict)  # branch -> commit sha
    commits: dict[str, dict[str, bytes]] = field(default_factory=dict)  # commit sha -> {path: content}

    def resolve(self, revision: str) -> str | None:
        if revision in self.branches:
            return self.branches[revision]
        if _COMMIT.match(revision) and revision in self.commits:
            return revision
        return None

    def commit(self, parent: str | None, files: dict[str, bytes], message: str) -> str:
        digest = hashlib.sha1(f"{parent}\n{message}\n{time.time_ns()}".encode())
        for path in sorted(files):
            digest.update(path.encode() + git_blob_oid(files[path]).encode())
        sha = digest.hexdigest()
        self.commits[sha] = files
        return sha


class HubStandIn:
    """The server and its state; ``with HubStandIn(tokens={"hf_x"}) as hub: hub.url``."""

    def __init__(self, tokens=("hf_test_token",), host: str = "127.0.0.1", port: int = 0):
        self.tokens = set(tokens)
        self.repos: dict[str, Repo] = {}
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer((host, port), _make_handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="hub-stand-in", daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "HubStandIn":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self) -> "HubStandIn":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def files(self, repo_id: str, revision: str = "main") -> dict[str, bytes]:
        repo = self.repos[repo_id]
        return repo.commits[repo.resolve(revision)]


class _Reply(Exception):
    """An HTTP answer raised from deep in a handler: status, JSON body, extra headers."""

    def __init__(self, status: int, body=None, headers: dict | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body if body is not None else {}, headers or {}


def _error(status: int, code: str | None, message: str, headers: dict | None = None) -> _Reply:
    extra = dict(headers or {})
    if code:
        extra["X-Error-Code"] = code
    extra["X-Error-Message"] = message
    return _Reply(status, {"error": message}, extra)


def _make_handler(hub: HubStandIn):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # quiet: the tests read hub.requests instead
            pass

        # ----------------------------------------------------------------- plumbing
        def _route(self, method: str) -> None:
            split = urlsplit(self.path)
            segments = [unquote(part) for part in split.path.split("/") if part]
            query = {key: values[-1] for key, values in parse_qs(split.query).items()}
            with hub.lock:
                hub.requests.append((method, split.path))
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            try:
                with hub.lock:
                    status, payload, headers = self._dispatch(method, segments, query, body)
            except _Reply as reply:
                status, payload, headers = reply.status, reply.body, reply.headers
            data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
            self.send_response(status)
            headers.setdefault("Content-Type", "application/json" if not isinstance(payload, bytes)
                               else "application/octet-stream")
            for name, value in headers.items():
                self.send_header(name, str(value))
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if method != "HEAD":
                self.wfile.write(data)

        def do_GET(self) -> None:
            self._route("GET")

        def do_HEAD(self) -> None:
            self._route("HEAD")

        def do_POST(self) -> None:
            self._route("POST")

        def _token(self) -> str | None:
            value = self.headers.get("Authorization", "")
            return value[len("Bearer "):] if value.startswith("Bearer ") else None

        def _require_write(self) -> None:
            token = self._token()
            if token is None:
                raise _error(401, None, "You must be authenticated to access this resource")
            if token not in hub.tokens:
                raise _error(401, None, "Invalid credentials in Authorization header")

        def _repo(self, repo_id: str, write: bool = False) -> Repo:
            if write:
                self._require_write()
            repo = hub.repos.get(repo_id)
            if repo is None or (repo.private and self._token() not in hub.tokens):
                raise _error(401 if self._token() is None else 404, "RepoNotFound", "Repository not found")
            return repo

        def _revision(self, repo: Repo, revision: str) -> str:
            sha = repo.resolve(revision)
            if sha is None:
                raise _error(404, "RevisionNotFound", f"Invalid rev id: {revision}")
            return sha

        # ----------------------------------------------------------------- routes
        def _dispatch(self, method: str, seg: list[str], query: dict, body: bytes):
            if seg[:3] == ["api", "repos", "create"] and method == "POST":
                return self._create_repo(json.loads(body or b"{}"))
            if seg[:2] == ["api", "validate-yaml"] and method == "POST":
                return 200, {"errors": [], "warnings": []}, {}
            if seg[:2] == ["api", "whoami-v2"]:
                self._require_write()
                return 200, {"type": "user", "name": "user", "auth": {"accessToken": {"role": "write"}}}, {}
            if seg[:2] == ["api", "models"] and len(seg) >= 4:
                return self._model_api(method, f"{seg[2]}/{seg[3]}", seg[4:], query, body)
            if len(seg) >= 5 and seg[2] == "resolve" and method in ("GET", "HEAD"):
                return self._resolve(f"{seg[0]}/{seg[1]}", seg[3], "/".join(seg[4:]))
            raise _error(404, None, f"the stand-in does not serve {method} /{'/'.join(seg)}")

        def _create_repo(self, payload: dict):
            self._require_write()
            if payload.get("type", "model") != "model":
                raise _error(400, None, "the stand-in only hosts model repos")
            repo_id = f"{payload.get('organization') or 'user'}/{payload['name']}"
            if repo_id in hub.repos:  # the Hub's 409 still names the repo's url; create_repo(exist_ok=True) reads it
                raise _Reply(409, {"error": "You already created this model repo", "url": f"{hub.url}/{repo_id}"},
                             {"X-Error-Message": "You already created this model repo"})
            repo = Repo(private=payload.get("visibility") == "private" or bool(payload.get("private")))
            repo.branches["main"] = repo.commit(None, {".gitattributes": GITATTRIBUTES}, "initial commit")
            hub.repos[repo_id] = repo
            return 200, {"url": f"{hub.url}/{repo_id}", "name": repo_id, "id": repo_id}, {}

        def _model_api(self, method: str, repo_id: str, rest: list[str], query: dict, body: bytes):
            action = rest[0] if rest else None
            if method == "GET" and action in (None, "revision"):
                repo = self._repo(repo_id)
                sha = self._revision(repo, rest[1] if action else "main")
                siblings = [{"rfilename": path} for path in sorted(repo.commits[sha])]
                return 200, {"id": repo_id, "modelId": repo_id, "sha": sha, "private": repo.private,
                             "siblings": siblings, "tags": [], "downloads": 0, "likes": 0,
                             "lastModified": "2024-01-01T00:00:00.000Z"}, {}
            if method == "GET" and action == "tree":
                repo = self._repo(repo_id)
                sha = self._revision(repo, rest[1])
                return 200, _tree(repo.commits[sha], "/".join(rest[2:]),
                                  query.get("recursive", "").lower() in ("1", "true")), {}
            if method == "GET" and action == "refs":
                repo = self._repo(repo_id)
                branches = [{"name": name, "ref": f"refs/heads/{name}", "targetCommit": sha}
                            for name, sha in sorted(repo.branches.items())]
                return 200, {"branches": branches, "converts": [], "tags": [], "pullRequests": []}, {}
            if method == "POST" and action == "preupload":
                repo = self._repo(repo_id, write=True)
                files = repo.commits[self._revision(repo, rest[1])]
                modes = []
                for entry in json.loads(body)["files"]:
                    current = files.get(entry["path"])
                    modes.append({"path": entry["path"], "uploadMode": "regular", "shouldIgnore": False,
                                  "oid": git_blob_oid(current) if current is not None else None})
                return 200, {"files": modes, "commitOid": repo.branches.get(rest[1])}, {}
            if method == "POST" and action == "commit":
                return self._commit(self._repo(repo_id, write=True), repo_id, rest[1], body)
            if method == "POST" and action == "branch":
                repo = self._repo(repo_id, write=True)
                branch = "/".join(rest[1:])
                if branch in repo.branches:
                    raise _error(409, None, f"Reference refs/heads/{branch} already exists")
                start = json.loads(body or b"{}").get("startingPoint") or "main"
                repo.branches[branch] = self._revision(repo, start)
                return 200, {}, {}
            raise _error(404, None, f"the stand-in does not serve {method} /api/models/{repo_id}/{'/'.join(rest)}")

        def _commit(self, repo: Repo, repo_id: str, branch: str, body: bytes):
            if branch not in repo.branches:
                raise _error(404, "RevisionNotFound", f"Invalid rev id: {branch}")
            parent = repo.branches[branch]
            files = dict(repo.commits[parent])
            summary = "commit"
            for line in body.splitlines():
                if not line.strip():
                    continue
                item = json.loads(line)
                key, value = item["key"], item["value"]
                if key == "header":
                    summary = value.get("summary") or summary
                    if value.get("parentCommit") and value["parentCommit"] != parent:
                        raise _error(412, None, "parent commit is not the head of the branch")
                elif key == "file":
                    if value.get("encoding", "base64") != "base64":
                        raise _error(400, None, "only base64 file content is supported")
                    files[value["path"]] = base64.b64decode(value["content"])
                elif key == "deletedFile":
                    files.pop(value["path"], None)
                elif key == "deletedFolder":
                    prefix = value["path"].rstrip("/") + "/"
                    files = {path: data for path, data in files.items() if not path.startswith(prefix)}
                else:  # lfsFile / copy: the stand-in hands out "regular" upload modes only
                    raise _error(400, None, f"the stand-in does not accept {key!r} commit entries")
            sha = repo.commit(parent, files, summary)
            repo.branches[branch] = sha
            return 200, {"commitUrl": f"{hub.url}/{repo_id}/commit/{sha}", "commitOid": sha,
                         "success": True, "pullRequestUrl": None}, {}

        def _resolve(self, repo_id: str, revision: str, path: str):
            repo = self._repo(repo_id)
            sha = self._revision(repo, revision)
            files = repo.commits[sha]
            if path not in files:
                raise _error(404, "EntryNotFound", f"{path} does not exist on {revision}", {"X-Repo-Commit": sha})
            content = files[path]
            return 200, content, {"X-Repo-Commit": sha, "ETag": f'"{git_blob_oid(content)}"',
                                  "Accept-Ranges": "none"}

    return Handler


def _tree(files: dict[str, bytes], under: str, recursive: bool) -> list[dict]:
    """The Hub's tree listing: files (type, path, size, oid) and the folders on the way."""
    prefix = under.strip("/") + "/" if under.strip("/") else ""
    entries, folders = [], set()
    for path in sorted(files):
        if not path.startswith(prefix):
            continue
        relative = path[len(prefix):]
        parts = relative.split("/")
        if not recursive and len(parts) > 1:
            folders.add(prefix + parts[0])
            continue
        for depth in range(1, len(parts)):
            folders.add(prefix + "/".join(parts[:depth]))
        entries.append({"type": "file", "path": path, "size": len(files[path]), "oid": git_blob_oid(files[path])})
    folder_entries = [{"type": "directory", "path": folder, "oid": hashlib.sha1(folder.encode()).hexdigest()}
                      for folder in sorted(folders)]
    return folder_entries + entries


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--token", action="append", default=None, help="accepted write token (repeatable)")
    arguments = parser.parse_args()
    stand_in = HubStandIn(tokens=arguments.token or ["hf_test_token"], port=arguments.port)
    print(f"Hub stand-in on {stand_in.url}: export HF_ENDPOINT={stand_in.url}", flush=True)
    stand_in.server.serve_forever()
