"""One error hierarchy for the whole package.

Library code raises these (always chaining the cause); each edge (the CLI, the
HTTP handlers) translates them once into an exit code or a status.
"""

from __future__ import annotations


class PaperfeedError(Exception):
    """Base of every error paperfeed raises on purpose."""

    exit_code = 1
    http_status = 500


class NotFoundError(PaperfeedError, LookupError):
    """A requested paper, member or resource does not exist."""

    exit_code = 3
    http_status = 404


class ConflictError(PaperfeedError):
    """The request conflicts with the stored state."""

    exit_code = 4
    http_status = 409


class InvalidInputError(PaperfeedError, ValueError):
    """User input that cannot be accepted (a bad date, an unknown option, ...)."""

    exit_code = 2
    http_status = 400


class InvalidQueryError(InvalidInputError):
    """A search query that cannot be run."""


class ConfigError(PaperfeedError):
    """Settings that are missing, malformed or unsafe."""

    exit_code = 78


class MissingExtraError(ConfigError):
    """The settings need an optional part of paperfeed that is not installed (an extra,
    such as ``paperfeed[postgres]``); the message says what to install."""


class SourceError(PaperfeedError):
    """A remote source or an input file failed in a way retries did not fix."""

    exit_code = 5
    http_status = 502


class UpstreamTimeoutError(SourceError):
    """A remote source did not answer in the time a waiting person is given."""

    http_status = 504


class UpstreamBusyError(SourceError):
    """Too many requests to a remote source are waiting already; try again later."""

    http_status = 503


class StorageError(PaperfeedError):
    """The database is unreachable, locked for too long, or not migrated."""

    exit_code = 6
    http_status = 503


class UnauthorizedError(PaperfeedError):
    """The request needs a logged-in member or a valid API token."""

    exit_code = 77
    http_status = 401


class ForbiddenError(PaperfeedError):
    """The member is known, but their role or state does not allow this."""

    exit_code = 77
    http_status = 403


class RateLimitedError(PaperfeedError):
    """Too many attempts; ``retry_after`` says how many seconds to wait."""

    exit_code = 75
    http_status = 429

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class MailError(PaperfeedError):
    """A message could not be built (header injection) or the SMTP server refused it."""

    exit_code = 5
    http_status = 502
