"""Why a push or pull failed: one exception per cause, and tokens kept out of every message."""

from __future__ import annotations


# errors ------------------------------------------------------------------------------------------
class HubError(RuntimeError):
    """A push or pull failed; the message says what to do and never contains a token."""


class HubAuthenticationError(HubError):
    """No token was found, or the Hub rejected it."""


class HubRepoExistsError(HubError):
    """The repository already exists and ``exist_ok`` was not given."""


class HubConnectionError(HubError):
    """The Hub could not be reached (network failure, or ``HF_HUB_OFFLINE=1`` for a push)."""


def redact(text: str, token: str | None) -> str:
    return text.replace(token, "<redacted token>") if token else text
