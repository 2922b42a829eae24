"""A small Hub-compatible HTTP server for tests (standard library only, in memory).

It implements the routes that ``huggingface_hub`` (2.x, with ``HF_HUB_DISABLE_XET=1``), ``datasets``
and ``sentence-transformers`` use to create repositories, upload commits (regular and LFS files),
read repository metadata, list trees and download files, so the project's Hub code can be tested
end to end with the real clients and no mocking. Routes and traps are those measured in
../shared/notes/hub-test-server.md:

- ``POST /api/repos/create`` (409 with ``url`` for an existing repository), ``POST /api/validate-yaml``
  (400 with ``errors`` for bad card metadata, see :func:`card_metadata_errors`; a commit adding such a
  ``README.md`` is refused too, as the Hub's pre-receive check does), ``GET /api/whoami-v2`` (401
  without a valid token)
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

# The Hub's licence identifiers, https://huggingface.co/docs/hub/repositories-licenses
HUB_LICENSES = frozenset(
    [
        "apache-2.0",
        "mit",
        "openrail",
        "bigscience-openrail-m",
        "creativeml-openrail-m",
        "bigscience-bloom-rail-1.0",
        "bigcode-openrail-m",
        "afl-3.0",
        "artistic-2.0",
        "bsl-1.0",
        "bsd",
        "bsd-2-clause",
        "bsd-3-clause",
        "bsd-3-clause-clear",
        "c-uda",
        "cc",
        "cc0-1.0",
        "cc-by-2.0",
        "cc-by-2.5",
        "cc-by-3.0",
        "cc-by-4.0",
        "cc-by-sa-3.0",
        "cc-by-sa-4.0",
        "cc-by-nc-2.0",
        "cc-by-nc-3.0",
        "cc-by-nc-4.0",
        "cc-by-nd-4.0",
        "cc-by-nc-nd-3.0",
        "cc-by-nc-nd-4.0",
        "cc-by-nc-sa-2.0",
        "cc-by-nc-sa-3.0",
        "cc-by-nc-sa-4.0",
        "cdla-sharing-1.0",
        "cdla-permissive-1.0",
        "cdla-permissive-2.0",
        "wtfpl",
        "ecl-2.0",
        "epl-1.0",
        "epl-2.0",
        "etalab-2.0",
        "eupl-1.1",
        "agpl-3.0",
        "gfdl",
        "gpl",
        "gpl-2.0",
        "gpl-3.0",
        "lgpl",
        "lgpl-2.1",
        "lgpl-3.0",
        "isc",
        "lppl-1.3c",
        "ms-pl",
        "mpl-2.0",
        "odc-by",
        "odbl",
        "openrail++",
        "osl-3.0",
        "postgresql",
        "ofl-1.1",
        "ncsa",
        "unlicense",
        "zlib",
        "pddl",
        "lgpl-lr",
        "deepfloyd-if-license",
        "llama2",
        "gemma",
        "unknown",
        "other",
    ]
)
# "It must be an ISO 639-1, 639-2 or 639-3 code (two/three letters), or a special value like code or
# multilingual" (huggingface_hub ModelCardData docs). The form is checked, not membership in ISO 639.
LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")
SPECIAL_LANGUAGES = frozenset({"code", "multilingual"})
REPO_ID = re.compile(r"(?:[\w.-]+/)?[\w.-]+")


def _repo_id_ok(value: object) -> bool:
    # huggingface_hub's validate_repo_id rules: namespace/name, no "--" or "..", no leading/trailing "-" "."
    return (
        isinstance(value, str)
        and bool(REPO_ID.fullmatch(value))
        and "--" not in value
        and ".." not in value
        and not any(part.startswith(("-", ".")) or part.endswith(("-", ".")) for part in value.split("/"))
    )


def _front_matter(content: str) -> dict | str:
    """The YAML metadata of a card, or an error message."""
    import yaml

    match = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", content, re.DOTALL)
    if not match:
        return {}
    try:
        data = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as error:
        return f"Error parsing YAML metadata: {error}"
    return data if isinstance(data, dict) else "YAML metadata must be a mapping"


def card_metadata_errors(content: str, repo_type: str = "model") -> list[str]:
    """What the Hub's metadata validation refuses in a card (``README.md``), as its messages say it.

    The fields optical-st writes: ``license`` (a Hub licence id), ``language`` (lowercase ISO 639
    codes), ``base_model`` and ``datasets`` (Hub ids, never paths), ``tags``/``widget`` (arrays),
    ``model-index`` (name; results with task.type, dataset.type/name, string config/split, metrics
    with type and value) and a dataset card's ``configs`` (config_name, data_files).
    """
    data = _front_matter(content)
    if isinstance(data, str):
        return [data]
    errors = []
    licence = data.get("license")
    if licence is not None and (not isinstance(licence, str) or licence not in HUB_LICENSES):
        errors.append(f'"license" must be one of [{", ".join(sorted(HUB_LICENSES))}]')
    languages = data.get("language")
    for index, code in enumerate([languages] if isinstance(languages, str) else languages or []):
        where = f'"language[{index}]"' if not isinstance(languages, str) else '"language"'
        if not isinstance(code, str) or code != code.lower():
            errors.append(f"{where} must only contain lowercase characters")
        elif not (LANGUAGE_CODE.fullmatch(code) or code in SPECIAL_LANGUAGES):
            errors.append(
                f'{where} with value "{code}" is not valid. It must be an ISO 639-1, 639-2 or 639-3 code '
                '(two/three letters), or a special value like "code", "multilingual".'
            )
    for name in ("tags", "widget", "datasets", "metrics"):
        if name in data and not isinstance(
            data[name], list | str if name in ("datasets", "metrics") else list
        ):
            errors.append(f'"{name}" must be an array')
    datasets = data.get("datasets")
    for index, dataset in enumerate([datasets] if isinstance(datasets, str) else datasets or []):
        if not _repo_id_ok(dataset):
            errors.append(
                f'"datasets[{index}]" with value "{dataset}" is not valid. If possible, use a dataset id from '
                "https://hf.co/datasets."
            )
    base_models = data.get("base_model")
    for model in [base_models] if isinstance(base_models, str) else base_models or []:
        if not _repo_id_ok(model):
            errors.append(
                f'"base_model" with value "{model}" is not valid. Use a model id from https://hf.co/models.'
            )
    if "model-index" in data:
        errors += _model_index_errors(data["model-index"])
    if repo_type == "dataset":
        for index, config in enumerate(data.get("configs") or []):
            if not isinstance(config, dict) or not isinstance(config.get("config_name"), str):
                errors.append(f'"configs[{index}].config_name" is required')
            elif not config.get("data_files"):
                errors.append(f'"configs[{index}].data_files" is required')
    return errors


def _model_index_errors(model_index: object) -> list[str]:
    def is_str(value: object) -> bool:
        return isinstance(value, str)

    if not isinstance(model_index, list) or not model_index:
        return ['"model-index" must be a non-empty array']
    errors = []
    for i, entry in enumerate(model_index):
        at = f"model-index[{i}]"
        if not isinstance(entry, dict) or not is_str(entry.get("name")):
            errors.append(f'"{at}.name" is required')
            continue
        if not isinstance(entry.get("results"), list):
            errors.append(f'"{at}.results" must be an array')
            continue
        for j, result in enumerate(entry["results"]):
            at_result = f"{at}.results[{j}]"
            task, dataset = result.get("task") or {}, result.get("dataset") or {}
            if not is_str(task.get("type")):
                errors.append(f'"{at_result}.task.type" is required')
            for key in ("type", "name"):
                if not is_str(dataset.get(key)):
                    errors.append(f'"{at_result}.dataset.{key}" is required')
            for key in ("config", "split", "revision"):
                if key in dataset and not is_str(dataset[key]):
                    errors.append(f'"{at_result}.dataset.{key}" must be a string')
            if "args" in dataset and not isinstance(dataset["args"], dict | str):
                errors.append(f'"{at_result}.dataset.args" must be an object')
            metrics = result.get("metrics")
            if not isinstance(metrics, list) or not metrics:
                errors.append(f'"{at_result}.metrics" must be a non-empty array')
                continue
            for k, metric in enumerate(metrics):
                at_metric = f"{at_result}.metrics[{k}]"
                if not is_str(metric.get("type")):
                    errors.append(f'"{at_metric}.type" is required')
                if not isinstance(metric.get("value"), int | float | str) or isinstance(
                    metric.get("value"), bool
                ):
                    errors.append(f'"{at_metric}.value" is required and must be a number or a string')
                if "args" in metric and not isinstance(metric["args"], dict | str):
                    errors.append(f'"{at_metric}.args" must be an object')
            source = result.get("source")
            if source is not None and not (isinstance(source, dict) and is_str(source.get("url"))):
                errors.append(f'"{at_result}.source.url" is required')
    return errors


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
        self.validations: list[list[str]] = []  # errors of every /api/validate-yaml call
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
        payload = json.loads(self._body() or b"{}")
        errors = card_metadata_errors(payload.get("content", ""), payload.get("repoType") or "model")
        self.hub.validations.append(errors)
        body = {"errors": [{"message": message} for message in errors], "warnings": []}
        self._json(400 if errors else 200, body)

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
        readme = files.get("README.md")
        if readme is not None and readme is not found[1].get("README.md"):
            # The Hub checks a README.md's metadata on every commit, whatever the client did before.
            errors = card_metadata_errors(readme.data.decode("utf-8", errors="replace"), repo.repo_type)
            if errors:
                self._error(
                    400, None, "Invalid metadata in README.md.\n" + "\n".join(f"- {e}" for e in errors)
                )
                return
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
