"""The network: tokens, snapshots (pull) and one upload path (push) for models and datasets."""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from optical_st.hub._errors import (
    HubAuthenticationError,
    HubConnectionError,
    HubError,
    HubRepoExistsError,
    redact,
)

logger = logging.getLogger(__name__)

DEFAULT_HUB_TIMEOUT = 30.0  # seconds without progress (connect, read, write) before a Hub request fails


def hub_timeout() -> float:
    """Seconds a Hub request may wait for the server: ``HF_HUB_DOWNLOAD_TIMEOUT`` when set, else 30."""
    try:
        return float(os.environ.get("HF_HUB_DOWNLOAD_TIMEOUT") or DEFAULT_HUB_TIMEOUT)
    except ValueError:
        return DEFAULT_HUB_TIMEOUT


def use_hub_timeouts() -> None:
    """Give every request of huggingface_hub's shared client a timeout (called when optical_st.hub is imported).

    Its client has none (``timeout=None``): a Hub that accepted the connection and never answered held
    ``push-model``, ``push-benchmark`` and a training run's push of ``best/`` forever. Downloads keep their
    own per-request timeouts (``HF_HUB_ETAG_TIMEOUT``, ``HF_HUB_DOWNLOAD_TIMEOUT``); this covers the API
    calls (repository creation, uploads, commits, ``model_info``).
    """
    try:
        from huggingface_hub import set_client_factory
        from huggingface_hub.utils._http import default_client_factory  # the library's client, hooks included
    except ImportError:  # a huggingface_hub without client factories (before 1.0): its requests keep theirs
        logger.debug("huggingface_hub has no client factory; Hub requests keep the library's timeouts")
        return

    def bound_timeout(request: Any) -> None:
        # HfApi passes timeout=None per request (model_info, create_repo, ...), which overrides any client
        # default; a request that came without any limit gets ours
        limits = request.extensions.get("timeout") or {}
        if not any(value is not None for value in limits.values()):
            seconds = hub_timeout()
            request.extensions["timeout"] = dict.fromkeys(("connect", "read", "write", "pool"), seconds)

    def client_with_timeout():
        client = default_client_factory()
        client.timeout = hub_timeout()
        client.event_hooks["request"].append(bound_timeout)
        return client

    set_client_factory(client_with_timeout)


def resolve_token(token: str | None = None) -> str:
    """The token to push with: ``token`` if given, else ``HF_TOKEN``, else the ``hf auth login`` cache.

    Raises:
        HubAuthenticationError: when none of the three holds a token.
    """
    if token:
        return token
    from huggingface_hub import get_token

    found = get_token()
    if not found:
        raise HubAuthenticationError(
            "No Hugging Face token found: set HF_TOKEN, run `hf auth login`, or pass token=... (--token)."
        )
    return found


@contextlib.contextmanager
def _hub_errors(action: str, token: str | None, local_dir: Path | None, endpoint: str) -> Iterator[None]:
    """Turn huggingface_hub/httpx failures into one readable :class:`HubError` without the token."""
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    safe = f" Nothing was lost: the files are in {local_dir}." if local_dir is not None else ""
    try:
        yield
    except HubError:
        raise
    except OfflineModeIsEnabled:
        raise HubConnectionError(f"Cannot {action}: HF_HUB_OFFLINE=1 is set.{safe}") from None
    except HfHubHTTPError as error:
        status = error.response.status_code if error.response is not None else None
        server = redact(str(getattr(error, "server_message", "") or ""), token).strip()
        detail = f" (HTTP {status}{': ' + server if server else ''})"
        if status in (401, 403):
            raise HubAuthenticationError(
                f"The Hub at {endpoint} rejected the token while trying to {action}{detail}. Check HF_TOKEN, "
                f"`hf auth login` or --token, and that the token may write to this namespace.{safe}"
            ) from None
        if status == 409 and action.startswith("create"):
            raise HubRepoExistsError(
                f"Cannot {action}: the repository already exists{detail}. Pass exist_ok=True "
                f"(--exist-ok) to add a new commit to it.{safe}"
            ) from None
        raise HubError(f"The Hub refused to {action}{detail}.{safe}") from None
    except ValueError as error:
        if not str(error).startswith("Invalid metadata in README.md"):
            raise
        # huggingface_hub asks the Hub to validate README.md before uploading (/api/validate-yaml)
        raise HubError(f"The Hub rejected the card's metadata: {redact(str(error), token)}{safe}") from None
    except Exception as error:
        if isinstance(error, OSError) or _is_transport_error(error):
            raise HubConnectionError(
                f"Could not reach the Hub at {endpoint} to {action} ({type(error).__name__}).{safe}"
            ) from None
        if token and token in str(error):  # unexpected error quoting the token: keep the facts, not the token
            raise HubError(f"Failed to {action}: {redact(str(error), token)}{safe}") from None
        raise


def _is_transport_error(error: BaseException) -> bool:
    module = type(error).__module__ or ""
    return module.split(".")[0] in ("httpx", "httpx2", "httpcore") or isinstance(error, TimeoutError)


def endpoint_url(endpoint: str | None) -> str:
    from huggingface_hub import constants

    return (endpoint or constants.ENDPOINT).rstrip("/")


# pull ----------------------------------------------------------------------------------------------
def _snapshot(repo_id: str | Path, repo_type: str, revision: str | None) -> Path:
    local = Path(repo_id).expanduser()
    if local.is_dir():
        return local
    repo_id = str(repo_id)
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import (
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    with _hub_errors(f"download {repo_type} repository {repo_id}", None, None, endpoint_url(None)):
        try:
            return Path(snapshot_download(repo_id, repo_type=repo_type, revision=revision))
        except RepositoryNotFoundError:
            raise HubError(
                f"No {repo_type} repository {repo_id!r} on {endpoint_url(None)} and no such local directory "
                "(if it is private, set HF_TOKEN)."
            ) from None
        except RevisionNotFoundError:
            raise HubError(f"{repo_type} repository {repo_id!r} has no revision {revision!r}.") from None
        except LocalEntryNotFoundError:
            raise HubConnectionError(
                f"{repo_type} repository {repo_id!r} is not in the local Hugging Face cache and the Hub cannot "
                "be used (HF_HUB_OFFLINE=1 or no network). Download it once online, or give a local directory."
            ) from None


def download_model(repo_id: str | Path, revision: str | None = None) -> Path:
    """Local folder of a model given as a Hub id (downloaded or taken from the cache) or a local path.

    Honors ``HF_HUB_OFFLINE=1`` (cache only) and ``HF_ENDPOINT``/``HF_HOME``. Raises :class:`HubError`.
    """
    return _snapshot(repo_id, "model", revision)


def download_dataset(repo_id: str | Path, revision: str | None = None) -> Path:
    """Local folder of a dataset repository (Hub id or local path); see :func:`download_model`."""
    return _snapshot(repo_id, "dataset", revision)


# pushing -------------------------------------------------------------------------------------------
def default_local_dir(repo_id: str) -> Path:
    return Path.cwd() / "optical-st-hub" / repo_id.replace("/", "__")


def write_files(folder: Path, write: Callable[[Path], Any]) -> list[str]:
    """Run ``write(directory)`` into an empty folder, move the result into ``folder``; return what it wrote.

    A local folder may hold other files (an earlier export, notes): only the paths returned here are
    uploaded, so nothing else in it is published.
    """
    folder.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".optical-st-staging-", dir=folder))
    try:
        write(staging)
        written = []
        for path in sorted(staging.rglob("*")):
            if path.is_file():
                relative = path.relative_to(staging)
                (folder / relative).parent.mkdir(parents=True, exist_ok=True)
                path.replace(folder / relative)
                written.append(relative.as_posix())
        return written
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def upload_folder(
    folder: Path,
    repo_id: str,
    repo_type: str,
    *,
    token: str | None,
    private: bool,
    exist_ok: bool,
    endpoint: str | None,
    commit_message: str,
    card_text: str,
    files: Sequence[str] | None = None,
) -> str:
    """Upload ``folder`` in one commit: only ``files`` (paths relative to it) when given, else all of it."""
    from huggingface_hub import HfApi
    from huggingface_hub.constants import is_offline_mode

    url = endpoint_url(endpoint)
    if is_offline_mode():
        raise HubConnectionError(
            f"Cannot push {repo_id}: HF_HUB_OFFLINE=1 is set. The files are in {folder}."
        )
    try:
        token = resolve_token(token)
    except HubAuthenticationError as error:
        raise HubAuthenticationError(f"{error} Nothing was lost: the files are in {folder}.") from None
    if token in card_text:  # defence in depth: a token must never be published
        raise HubError(
            f"Refusing to push: the card in {folder} contains the token. Remove it from the metadata."
        )
    api = HfApi(endpoint=url, token=token)
    with _hub_errors(f"create {repo_type} repository {repo_id}", token, folder, url):
        api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=exist_ok)
    with _hub_errors(f"upload {folder} to {repo_id}", token, folder, url):
        commit = api.upload_folder(
            folder_path=str(folder),
            repo_id=repo_id,
            repo_type=repo_type,
            commit_message=commit_message,
            allow_patterns=None if files is None else list(files),
            ignore_patterns=["checkpoint-*", "*.partial", "**/__pycache__/**"],
        )
    logger.info("Pushed %s to %s (%s)", folder, repo_id, commit.commit_url)
    return str(commit.commit_url)


use_hub_timeouts()
