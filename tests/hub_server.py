"""A small Hub-compatible HTTP server for tests (standard library only, in memory).

It implements the routes that ``huggingface_hub`` (2.x, with ``HF_HUB_DISABLE_XET=1``), ``datasets``
and ``sentence-transformers`` use to create repositories, upload commits (regular and LFS files),
read repository metadata, list trees and download files, so the project's Hub code can be tested
end to end with the real clients and no mocking. Routes and traps are those measured in
../shared/notes/hub-test-server.md:

- ``POST /api/repos/create`` (409 with ``url`` for an existing repository), ``POST /api/validate-yaml``,
  ``GET /api/whoami-v2`` (401 without a valid token)
- ``GET /api/{models|datasets}/{ns}/{name}[/revision/{rev}]``, ``.../tree/{rev}[/{path}]``,
  ``POST .../paths-info/{rev}``, ``POST .../preupload/{rev}``, ``POST .../commit/{rev}`` (NDJSON)
- LFS basic transfer: ``POST /{datasets/}{id}.git/info/lfs/objects/batch``, then PUT and verify
- ``HEAD``/``GET /{datasets/}{id}/resolve/{rev}/{path}`` with ``X-Repo-Commit``, ``ETag``, ranges
- 404s carry ``X-Error-Code`` (``RepoNotFound``, ``RevisionNotFound``, ``EntryNotFound``), as the
  clients branch on it.

Authentication: writes need ``Authorization: Bearer <token>`` with a token in ``valid_tokens``;
a wrong token is answered 401 on every route (as the Hub does). The server never echoes a token.

Example::

    server = HubTestServer(valid_tokens={"hf_test"})
    server.start()            # thread on 127.0.0.1, free port
    print(server.endpoint)    # set HF_ENDPOINT to this before importing huggingface_hub
    server.stop()
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

LFS_SUFFIXES = (".safetensors", ".parquet", ".bin", ".pt", ".arrow", ".npy", ".onnx", ".h5", ".msgpack")
LFS_MIN_SIZE = 1_000_000


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


@dataclass
class StoredFile:
    data: bytes
    lfs: bool

    @property
    def oid(self) -> str:
        return git_blob_sha1(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def etag(self) -> str:
        return self.sha256 if self.lfs else self.oid

    def entry(self, path: str) -> dict:
        item = {"type": "file", "oid": self.oid, "size": len(self.data), "path": path}
        if self.lfs:
            item["lfs"] = {"oid": self.sha256, "size": len(self.data), "pointerSize": 134}
        return item


@dataclass
class Repo:
    repo_type: str  # "model" | "dataset"
    repo_id: str
    private: bool
    commits: list[tuple[str, dict[str, StoredFile]]] = field(default_factory=list)
    branches: dict[str, str] = field(default_factory=dict)

    def snapshot(self, revision: str) -> tuple[str, dict[str, StoredFile]] | None:
        sha = self.branches.get(revision, revision)
        for commit_sha, files in self.commits:
            if commit_sha == sha:
                return commit_sha, files
        return None


class HubTestServer:
    """In-memory Hub: ``start()`` serves on 127.0.0.1 in a daemon thread; ``endpoint`` is its URL."""

    def __init__(
        self,
        valid_tokens: set[str] | frozenset[str] = frozenset(),
        user: str = "user",
        reject_commits: set[str] | frozenset[str] = frozenset(),
    ) -> None:
        self.valid_tokens = set(valid_tokens)
        # repo ids whose commits fail (413): tests a push failing after the repository was created
        self.reject_commits = set(reject_commits)
        self.user = user
        self.repos: dict[tuple[str, str], Repo] = {}
        self.lfs_objects: dict[str, bytes] = {}
        self.requests: list[tuple[str, str, bool]] = []  # (method, path, had_authorization)
        self.lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle -----------------------------------------------------------------------------------
    def start(self) -> HubTestServer:
        handler = type("BoundHubHandler", (HubHandler,), {"hub": self})
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="hub-test-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def endpoint(self) -> str:
        assert self._httpd is not None, "server not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    # state ---------------------------------------------------------------------------------------
    def create(self, repo_type: str, repo_id: str, private: bool) -> tuple[Repo, bool]:
        with self.lock:
            key = (repo_type, repo_id)
            if key in self.repos:
                return self.repos[key], False
            repo = Repo(repo_type, repo_id, private)
            self._commit(repo, {}, "initial commit")
            self.repos[key] = repo
            return repo, True

    def _commit(self, repo: Repo, files: dict[str, StoredFile], summary: str, branch: str = "main") -> str:
        sha = hashlib.sha1(f"{repo.repo_id}{len(repo.commits)}{summary}{time.time_ns()}".encode()).hexdigest()
        repo.commits.append((sha, files))
        repo.branches[branch] = sha
        return sha


class HubHandler(BaseHTTPRequestHandler):
    hub: HubTestServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # quiet: tests read self.hub.requests
        pass

    # plumbing ------------------------------------------------------------------------------------
    def _send(
        self, status: int, body: bytes = b"", headers: dict[str, str] | None = None, head: bool = False
    ):
        self.send_response(status)
        headers = dict(headers or {})
        headers.setdefault("Content-Length", str(len(body)))
        for key, value in headers.items():
            self.send_header(key, value)
        self.end_headers()
        if body and not head:
            self.wfile.write(body)

    def _json(self, status: int, payload: object, headers: dict[str, str] | None = None) -> None:
        self._send(
            status, json.dumps(payload).encode(), {"Content-Type": "application/json", **(headers or {})}
        )

    def _error(self, status: int, code: str | None, message: str, head: bool = False) -> None:
        headers = {"Content-Type": "application/json", "X-Error-Message": message}
        if code:
            headers["X-Error-Code"] = code
        self._send(status, json.dumps({"error": message}).encode(), headers, head=head)

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _token(self) -> str | None:
        value = self.headers.get("Authorization", "")
        return value[7:] if value.startswith("Bearer ") else None

    def _auth(self) -> str:
        """'valid', 'none' or 'invalid'."""
        token = self._token()
        if token is None:
            return "none"
        return "valid" if token in self.hub.valid_tokens else "invalid"

    def _dispatch(self, method: str) -> None:
        raw = urlsplit(self.path)
        path, query = raw.path, parse_qs(raw.query)
        self.hub.requests.append((method, path, "Authorization" in self.headers))
        auth = self._auth()
        if auth == "invalid":
            self._body()
            self._error(401, None, "Invalid credentials in Authorization header", head=method == "HEAD")
            return
        for pattern, name in ROUTES:
            match = pattern.fullmatch(path)
            if match and name.startswith(method.lower() + "_"):
                getattr(self, name)(auth=auth, query=query, **match.groupdict())
                return
        self._error(404, None, f"no route {method} {path}", head=method == "HEAD")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    # helpers -------------------------------------------------------------------------------------
    def _repo(self, kind: str | None, repo_id: str, auth: str, head: bool = False) -> Repo | None:
        repo_type = "dataset" if kind in ("datasets", "datasets/") else "model"
        repo = self.hub.repos.get((repo_type, unquote(repo_id)))
        if repo is None or (repo.private and auth != "valid"):
            self._error(404, "RepoNotFound", "Repository not found", head=head)
            return None
        return repo

    def _snapshot(self, repo: Repo, revision: str | None, head: bool = False):
        found = repo.snapshot(unquote(revision or "main"))
        if found is None:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {unquote(revision or 'main')}", head=head)
        return found

    def _needs_write(self, auth: str) -> bool:
        if auth != "valid":
            self._body()
            self._error(401, None, "You must be authenticated to write to the Hub")
            return False
        return True

    # routes: account and repositories ------------------------------------------------------------
    def get_whoami(self, auth: str, query: dict) -> None:
        if auth != "valid":
            self._error(401, None, "Invalid user token.")
            return
        self._json(200, {"type": "user", "name": self.hub.user, "orgs": [], "auth": {"type": "access_token"}})

    def post_create(self, auth: str, query: dict) -> None:
        if not self._needs_write(auth):
            return
        payload = json.loads(self._body() or b"{}")
        repo_type = payload.get("type") or "model"
        namespace = payload.get("organization") or self.hub.user
        repo_id = f"{namespace}/{payload['name']}"
        private = payload.get("private") or payload.get("visibility") == "private"
        prefix = "datasets/" if repo_type == "dataset" else ""
        url = f"{self.hub.endpoint}/{prefix}{repo_id}"
        _, created = self.hub.create(repo_type, repo_id, bool(private))
        if not created:
            self._json(
                409,
                {"error": f"You already created this {repo_type} repo", "url": url},
                {"X-Error-Message": f"You already created this {repo_type} repo"},
            )
            return
        self._json(200, {"url": url, "name": repo_id, "id": repo_id})

    def post_validate_yaml(self, auth: str, query: dict) -> None:
        self._body()
        self._json(200, {"errors": [], "warnings": []})

    def get_info(self, auth: str, query: dict, kind: str, repo_id: str, revision: str | None = None) -> None:
        repo = self._repo(kind, repo_id, auth)
        if repo is None:
            return
        found = self._snapshot(repo, revision)
        if found is None:
            return
        sha, files = found
        blobs = query.get("blobs", ["false"])[0].lower() == "true"
        siblings = []
        for path, stored in sorted(files.items()):
            sibling: dict = {"rfilename": path}
            if blobs:
                sibling.update({"size": len(stored.data), "blobId": stored.oid})
                if stored.lfs:
                    sibling["lfs"] = {"sha256": stored.sha256, "size": len(stored.data), "pointerSize": 134}
            siblings.append(sibling)
        self._json(
            200,
            {
                "_id": hashlib.md5(repo.repo_id.encode()).hexdigest()[:24],
                "id": repo.repo_id,
                "author": repo.repo_id.split("/")[0],
                "sha": sha,
                "private": repo.private,
                "disabled": False,
                "gated": False,
                "downloads": 0,
                "likes": 0,
                "tags": [],
                "siblings": siblings,
                "lastModified": "2026-01-01T00:00:00.000Z",
                "createdAt": "2026-01-01T00:00:00.000Z",
            },
        )

    def get_tree(
        self, auth: str, query: dict, kind: str, repo_id: str, revision: str, path: str | None = None
    ):
        repo = self._repo(kind, repo_id, auth)
        if repo is None or (found := self._snapshot(repo, revision)) is None:
            return
        _, files = found
        prefix = unquote(path or "").strip("/")
        recursive = query.get("recursive", ["false"])[0].lower() == "true"
        if prefix and prefix not in files and not any(p.startswith(prefix + "/") for p in files):
            self._error(404, "EntryNotFound", f"{prefix} does not exist")
            return
        entries: dict[str, dict] = {}
        for file_path, stored in sorted(files.items()):
            if prefix and not file_path.startswith(prefix + "/"):
                continue
            relative = file_path[len(prefix) + 1 :] if prefix else file_path
            parts = relative.split("/")
            for depth in range(1, len(parts)):
                directory = "/".join(([prefix] if prefix else []) + parts[:depth])
                if recursive or depth == 1:
                    entries.setdefault(
                        directory,
                        {
                            "type": "directory",
                            "oid": git_blob_sha1(directory.encode()),
                            "size": 0,
                            "path": directory,
                        },
                    )
            if recursive or len(parts) == 1:
                entries[file_path] = stored.entry(file_path)
        self._json(200, list(entries.values()))

    def post_paths_info(self, auth: str, query: dict, kind: str, repo_id: str, revision: str) -> None:
        body = self._body()
        repo = self._repo(kind, repo_id, auth)
        if repo is None or (found := self._snapshot(repo, revision)) is None:
            return
        _, files = found
        if self.headers.get("Content-Type", "").startswith("application/json"):
            paths = json.loads(body or b"{}").get("paths", [])
        else:
            paths = parse_qs(body.decode()).get("paths", [])
        result = []
        for wanted in paths:
            wanted = wanted.strip("/")
            if wanted in files:
                result.append(files[wanted].entry(wanted))
            elif any(p.startswith(wanted + "/") for p in files):
                result.append(
                    {"type": "directory", "oid": git_blob_sha1(wanted.encode()), "size": 0, "path": wanted}
                )
        self._json(200, result)

    # routes: upload ------------------------------------------------------------------------------
    def post_preupload(self, auth: str, query: dict, kind: str, repo_id: str, revision: str) -> None:
        if not self._needs_write(auth):
            return
        payload = json.loads(self._body() or b"{}")
        repo = self._repo(kind, repo_id, auth)
        if repo is None:
            return
        found = repo.snapshot(unquote(revision))
        current = found[1] if found else {}
        answer = []
        for item in payload.get("files", []):
            path, size = item["path"], int(item.get("size", 0))
            lfs = size >= LFS_MIN_SIZE or path.endswith(LFS_SUFFIXES)
            entry = {"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False}
            if path in current:
                entry["oid"] = current[path].oid
            answer.append(entry)
        self._json(200, {"files": answer, "commitOid": found[0] if found else None})

    def post_lfs_batch(self, auth: str, query: dict, kind: str | None, repo_id: str) -> None:
        if not self._needs_write(auth):
            return
        payload = json.loads(self._body() or b"{}")
        objects = []
        for item in payload.get("objects", []):
            oid, size = item["oid"], item["size"]
            entry: dict = {"oid": oid, "size": size, "authenticated": True}
            if oid not in self.hub.lfs_objects:
                entry["actions"] = {
                    "upload": {"href": f"{self.hub.endpoint}/__lfs/{oid}"},
                    "verify": {"href": f"{self.hub.endpoint}/__lfs/{oid}/verify"},
                }
            objects.append(entry)
        self._json(
            200, {"transfer": "basic", "objects": objects}, {"Content-Type": "application/vnd.git-lfs+json"}
        )

    def put_lfs_object(self, auth: str, query: dict, oid: str) -> None:
        data = self._body()
        if hashlib.sha256(data).hexdigest() != oid:
            self._error(400, None, "sha256 mismatch")
            return
        self.hub.lfs_objects[oid] = data
        self._send(200)

    def post_lfs_verify(self, auth: str, query: dict, oid: str) -> None:
        self._body()
        if oid in self.hub.lfs_objects:
            self._json(200, {})
        else:
            self._error(404, None, "object not uploaded")

    def post_commit(self, auth: str, query: dict, kind: str, repo_id: str, revision: str) -> None:
        if not self._needs_write(auth):
            return
        lines = [json.loads(line) for line in self._body().splitlines() if line.strip()]
        repo = self._repo(kind, repo_id, auth)
        if repo is None:
            return
        if repo.repo_id in self.hub.reject_commits:
            self._error(413, None, "Commit rejected by the test server (payload too large)")
            return
        branch = unquote(revision)
        found = repo.snapshot(branch)
        if found is None:
            self._error(404, "RevisionNotFound", f"Invalid rev id: {branch}")
            return
        files = dict(found[1])
        summary = "commit"
        for line in lines:
            key, value = line["key"], line["value"]
            if key == "header":
                summary = value.get("summary") or summary
            elif key == "file":
                files[value["path"]] = StoredFile(base64.b64decode(value["content"]), lfs=False)
            elif key == "lfsFile":
                data = self.hub.lfs_objects.get(value["oid"])
                if data is None:
                    self._error(422, None, f"LFS object {value['oid']} was never uploaded")
                    return
                files[value["path"]] = StoredFile(data, lfs=True)
            elif key == "deletedFile":
                files.pop(value["path"], None)
            elif key == "deletedFolder":
                folder = value["path"].rstrip("/") + "/"
                files = {p: f for p, f in files.items() if not p.startswith(folder)}
        with self.hub.lock:
            sha = self.hub._commit(repo, files, summary, branch=branch)
        prefix = "datasets/" if repo.repo_type == "dataset" else ""
        url = f"{self.hub.endpoint}/{prefix}{repo.repo_id}/commit/{sha}"
        self._json(200, {"success": True, "commitOid": sha, "commitUrl": url, "pullRequestUrl": None})

    # routes: download ----------------------------------------------------------------------------
    def _resolve(
        self, auth: str, kind: str | None, repo_id: str, revision: str, path: str, head: bool
    ) -> None:
        repo = self._repo(kind, repo_id, auth, head=head)
        if repo is None or (found := self._snapshot(repo, revision, head=head)) is None:
            return
        sha, files = found
        stored = files.get(unquote(path))
        if stored is None:
            self._error(404, "EntryNotFound", f"{unquote(path)} does not exist", head=head)
            return
        data = stored.data
        headers = {
            "X-Repo-Commit": sha,
            "ETag": f'"{stored.etag()}"',
            "Accept-Ranges": "bytes",
            "Content-Type": "application/octet-stream",
        }
        if stored.lfs:
            headers.update({"X-Linked-Etag": f'"{stored.sha256}"', "X-Linked-Size": str(len(data))})
        status = 200
        ranged = re.fullmatch(r"bytes=(\d+)-(\d*)", self.headers.get("Range", ""))
        if ranged and not head:
            start = int(ranged.group(1))
            end = int(ranged.group(2)) if ranged.group(2) else len(data) - 1
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            data, status = data[start : end + 1], 206
        headers["Content-Length"] = str(len(data))
        self._send(status, data, headers, head=head)

    def get_resolve(self, auth: str, query: dict, kind: str | None, repo_id: str, revision: str, path: str):
        self._resolve(auth, kind, repo_id, revision, path, head=False)

    def head_resolve(self, auth: str, query: dict, kind: str | None, repo_id: str, revision: str, path: str):
        self._resolve(auth, kind, repo_id, revision, path, head=True)


_KIND = r"(?P<kind>models|datasets)"
_ID = r"(?P<repo_id>[^/]+/[^/]+)"
_REV = r"(?P<revision>[^/]+)"
ROUTES = [
    (re.compile(r"/api/whoami-v2"), "get_whoami"),
    (re.compile(r"/api/repos/create"), "post_create"),
    (re.compile(r"/api/validate-yaml"), "post_validate_yaml"),
    (re.compile(rf"/api/{_KIND}/{_ID}(?:/revision/{_REV})?"), "get_info"),
    (re.compile(rf"/api/{_KIND}/{_ID}/tree/{_REV}(?:/(?P<path>.*))?"), "get_tree"),
    (re.compile(rf"/api/{_KIND}/{_ID}/paths-info/{_REV}"), "post_paths_info"),
    (re.compile(rf"/api/{_KIND}/{_ID}/preupload/{_REV}"), "post_preupload"),
    (re.compile(rf"/api/{_KIND}/{_ID}/commit/{_REV}"), "post_commit"),
    (re.compile(rf"/(?P<kind>datasets/)?{_ID}\.git/info/lfs/objects/batch"), "post_lfs_batch"),
    (re.compile(r"/__lfs/(?P<oid>[0-9a-f]{64})"), "put_lfs_object"),
    (re.compile(r"/__lfs/(?P<oid>[0-9a-f]{64})/verify"), "post_lfs_verify"),
    (re.compile(rf"/(?P<kind>datasets/)?{_ID}/resolve/{_REV}/(?P<path>.+)"), "get_resolve"),
    (re.compile(rf"/(?P<kind>datasets/)?{_ID}/resolve/{_REV}/(?P<path>.+)"), "head_resolve"),
]


if __name__ == "__main__":  # manual use: python tests/hub_server.py  (token: hf_test)
    server = HubTestServer(valid_tokens={"hf_test"}).start()
    print(server.endpoint, flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()
