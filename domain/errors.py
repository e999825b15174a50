"""The one error hierarchy of the product. The API maps each class to a problem+json status."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class DomainError(Exception):
    """Base of every error the product raises on purpose."""

    title: str = "Error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFoundError(DomainError):
    title = "Not Found"

    def __init__(self, kind: str, identifier: str) -> None:
        super().__init__(f"{kind} {identifier!r} not found")
        self.kind = kind
        self.identifier = identifier


class ConflictError(DomainError):
    """The request is valid but the current state does not allow it (e.g. illegal transition)."""

    title = "Conflict"


@dataclass(frozen=True)
class FieldIssue:
    """One thing wrong with the input: where (a path of keys and indexes) and what."""

    loc: tuple[str | int, ...]
    msg: str


class InvalidInputError(DomainError):
    title = "Unprocessable Content"

    def __init__(self, issues: Sequence[FieldIssue], detail: str | None = None) -> None:
        self.issues = list(issues)
        super().__init__(detail or "; ".join(f"{'.'.join(map(str, i.loc))}: {i.msg}" for i in issues))


class DependencyUnavailableError(DomainError):
    """A backing service (database, Temporal, SMTP) cannot be reached right now; retry later."""

    title = "Service Unavailable"

    def __init__(self, dependency: str, detail: str | None = None) -> None:
        super().__init__(detail or f"{dependency} is unavailable, retry later")
        self.dependency = dependency


class AuthenticationError(DomainError):
    """No credentials, or credentials that do not verify. `challenge`: the scheme the answer's
    WWW-Authenticate names (bearer tokens everywhere; Basic with a write key on the tracking routes)."""

    title = "Unauthorized"

    def __init__(self, detail: str, *, challenge: str = "Bearer") -> None:
        super().__init__(detail)
        self.challenge = challenge


class PermissionDeniedError(DomainError):
    """Authenticated, but the token lacks the scope the operation needs."""

    title = "Forbidden"


class BadRequestError(DomainError):
    """The request itself cannot be read: not JSON, a broken gzip stream, an unknown encoding."""

    title = "Bad Request"


class PayloadTooLargeError(DomainError):
    """The request (or one event in it) is over a size limit."""

    title = "Content Too Large"


class UnsupportedEncodingError(DomainError):
    """The body comes in an encoding the route does not read (a Content-Encoding other than gzip)."""

    title = "Unsupported Media Type"


class InvalidUnsubscribeTokenError(NotFoundError):
    """An unsubscribe or preferences link whose token does not open with this deployment's secret:
    tampered, cut short, garbled, or made by another deployment. 404: the link names nothing here."""

    def __init__(self) -> None:
        DomainError.__init__(self, "unknown unsubscribe link")
        self.kind = "unsubscribe link"
        self.identifier = ""  # the token is not repeated back
