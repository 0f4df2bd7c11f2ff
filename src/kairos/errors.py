"""The exceptions kairos-sdk raises.

Every exception derives from :class:`KairosError`, so one ``except KairosError`` catches all
of them::

    KairosError
    ├── ValidationError               the input is wrong; raised before anything is sent
    │   └── BadRequestError           (also an APIError) the server found the input wrong
    ├── APIError                      the server answered with an error
    │   ├── AuthenticationError       UNAUTHORIZED
    │   ├── PermissionDeniedError     FORBIDDEN
    │   ├── NotFoundError             NOT_FOUND
    │   ├── ConflictError             CONFLICT
    │   │   └── DecreeRefusedError    the run can no longer take a decree (.reason)
    │   ├── RateLimitError            TOO_MANY_REQUESTS (.retry_after)
    │   ├── EngineVersionError        PRECONDITION_FAILED for an engine version (.requested,
    │   │                             .available)
    │   ├── SimulationError           the engine failed a simulation (.simulation_id)
    │   ├── InternalServerError       5xx
    │   ├── BadRequestError           BAD_REQUEST, PARSE_ERROR, UNPROCESSABLE_CONTENT (.issues)
    │   └── APIProtocolError          the answer did not follow the protocol
    └── APIConnectionError            no usable answer: connection failed or broke mid-stream
        └── APITimeoutError           no answer in time

Messages and reprs never show API keys or ``Authorization`` values, even when a server or
proxy echoes them back: such text is redacted when the exception is made. Every exception
pickles, so errors cross process boundaries (multiprocessing, dask) intact.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Annotated, Any, TypeVar

from pydantic import Field, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from kairos._trpc.codes import ERROR_CODES, KEY_BY_HTTP_STATUS, key_from_shape
from kairos.engine._exceptions import Issue
from kairos_api.models import (
    DecreeErrorDetail,
    EngineVersionErrorDetail,
    LimitErrorDetail,
    RateLimitErrorDetail,
    SimulationErrorDetail,
    ValidationErrorDetail,
)

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIProtocolError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "DecreeRefusedError",
    "EngineVersionError",
    "InternalServerError",
    "Issue",
    "KairosError",
    "MissingDependencyError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "SimulationError",
    "ValidationError",
    "error_from_malformed",
    "error_from_shape",
    "redact",
]

# A value stops at whitespace, a quote or JSON punctuation. Placeholders such as ``<key>`` are
# documentation (the server's hint ``Authorization: Bearer <key>``), not secrets; and after an
# authorization header only the credential is secret, not its scheme.
_VALUE = r"(?!\[REDACTED\])(?!<[^<>\s]*>(?![^\s\"',;}\]]))[^\s\"',;}\]]+"
_SECRETS = (
    (re.compile(r"(?i)\b(bearer|basic)\s+" + _VALUE), r"\1 [REDACTED]"),
    (
        re.compile(
            r"(?i)\b(authorization|x-api-key|api[_-]?key)([\"']?\s*[:=]\s*[\"']?)"
            r"((?:bearer|basic)\s+)?(?!(?:bearer|basic)\s)" + _VALUE
        ),
        r"\1\2\3[REDACTED]",
    ),
    (re.compile(r"\bkrs_[A-Za-z0-9_\-]+"), "krs_[REDACTED]"),
)

T = TypeVar("T")


def redact(text: str) -> str:
    """``text`` with API keys, bearer tokens and authorization values replaced."""
    for pattern, replacement in _SECRETS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(value: T) -> T:
    if isinstance(value, str):
        return redact(value)  # type: ignore[return-value]
    if isinstance(value, dict):
        return {k: _redact_value(v) for k, v in value.items()}  # type: ignore[return-value]
    if isinstance(value, list):
        return [_redact_value(v) for v in value]  # type: ignore[return-value]
    return value


def _restore(cls: type[KairosError], args: tuple[Any, ...], state: dict[str, Any]) -> KairosError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class KairosError(Exception):
    """The base of every exception kairos-sdk raises."""

    def __init__(self, message: str) -> None:
        self.message: str = redact(message)
        super().__init__(self.message)

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only constructors do not survive the default pickling of exceptions.
        return (_restore, (type(self), self.args, dict(self.__dict__)))

    def __str__(self) -> str:
        return self.message


def _issues(items: Iterable[Issue | tuple[str, str]]) -> tuple[Issue, ...]:
    return tuple(Issue(redact(str(path)), redact(str(message))) for path, message in items)


def _describe_issues(issues: tuple[Issue, ...]) -> str:
    lines = [f"  - {issue.path or '(input)'}: {issue.message}" for issue in issues]
    return "\n".join(lines)


class MissingDependencyError(KairosError, ImportError):
    """A feature needs a package that is not installed; the message names the extra to install
    (``pip install "kairos-sdk[plotting]"``). Also an ``ImportError``, as code may expect."""

    def __init__(self, feature: str, package: str, extra: str) -> None:
        super().__init__(f'{feature} needs {package}: pip install "kairos-sdk[{extra}]"')
        self.package = package
        self.extra = extra


class ValidationError(KairosError):
    """An input is invalid; ``issues`` lists every problem with its field path.

    Raised before any network call when the client can tell (a scenario out of range), and as
    :class:`BadRequestError` when the server finds the problem.
    """

    def __init__(self, issues: Iterable[Issue | tuple[str, str]], message: str | None = None):
        self.issues: tuple[Issue, ...] = _issues(issues)
        count = len(self.issues)
        if message is None:
            noun = "problem" if count == 1 else "problems"
            message = f"Invalid input ({count} {noun})"
        # The header and each issue are redacted on their own (the issues when made): the
        # composed "path: message" lines must not read as "api_key: <secret>" and lose the
        # message of a problem with the api_key argument.
        message = redact(message)
        if self.issues:
            message = f"{message}:\n{_describe_issues(self.issues)}"
        self.message = message
        Exception.__init__(self, message)


class APIError(KairosError):
    """The server answered with an error.

    ``code`` is the tRPC key (``"NOT_FOUND"``; None when the answer had no tRPC shape),
    ``http_status`` the HTTP status, ``path`` the procedure, ``request_id`` the server's id for
    the request (quote it in bug reports), ``body`` the decoded error shape (or the raw text
    of a body that was not one) and ``detail`` the KAIROS detail ``error.data.kairos``.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        http_status: int | None = None,
        path: str | None = None,
        request_id: str | None = None,
        body: object = None,
        detail: Mapping[str, object] | None = None,
    ) -> None:
        # Explicit, not super(): in BadRequestError the next class in the MRO is ValidationError.
        KairosError.__init__(self, message)
        self.code = code
        self.http_status = http_status
        self.path = path
        self.request_id = request_id
        self.body: object = _redact_value(body)
        self.detail: Mapping[str, object] | None = _redact_value(dict(detail)) if detail else None

    def __str__(self) -> str:
        context = [
            f"{name}={value!r}"
            for name, value in (
                ("code", self.code),
                ("http_status", self.http_status),
                ("path", self.path),
                ("request_id", self.request_id),
            )
            if value is not None
        ]
        return f"{self.message} ({', '.join(context)})" if context else self.message

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.message!r}, code={self.code!r}, "
            f"http_status={self.http_status!r}, path={self.path!r}, "
            f"request_id={self.request_id!r})"
        )


class AuthenticationError(APIError):
    """UNAUTHORIZED: the API key is missing, unknown or revoked."""


class PermissionDeniedError(APIError):
    """FORBIDDEN: the API key may not do this."""


class NotFoundError(APIError):
    """NOT_FOUND: no such simulation (or procedure)."""


class ConflictError(APIError):
    """CONFLICT: the request clashes with the current state (an idempotency key reused with a
    different request, for instance)."""


class DecreeRefusedError(ConflictError):
    """CONFLICT: the simulation can no longer take a decree. ``simulation_id``, its
    ``status`` and the ``reason``: ``"finished"`` (completed, failed or cancelled),
    ``"cancelling"``, or ``"last_tick"`` (it computed its last tick before the decree could take
    effect)."""

    def __init__(
        self,
        message: str,
        *,
        simulation_id: str | None = None,
        status: str | None = None,
        reason: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.simulation_id = simulation_id
        self.status = status
        self.reason = reason


class RateLimitError(APIError):
    """TOO_MANY_REQUESTS; ``retry_after`` is the server's hint in seconds, when it gave one."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class EngineVersionError(APIError):
    """The pinned engine version is retired or unknown; ``available`` lists the active ones."""

    def __init__(
        self,
        message: str | None = None,
        *,
        requested: str | None = None,
        available: Iterable[str] = (),
        **kwargs: Any,
    ) -> None:
        self.requested = requested
        self.available: list[str] = list(available)
        if message is None:
            active = ", ".join(self.available) if self.available else "none"
            message = (
                f"Engine version {requested!r} is not available on this server. "
                f"Active versions: {active}."
            )
        super().__init__(message, **kwargs)


class SimulationError(APIError):
    """A simulation failed in the engine; ``reason`` is a stable machine-readable reason.

    Raised for an engine fault the server reports, and by the client for a simulation that
    ended ``failed``.
    """

    def __init__(
        self,
        message: str,
        *,
        simulation_id: str | None = None,
        reason: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.simulation_id = simulation_id
        self.reason = reason


class InternalServerError(APIError):
    """A 5xx: the server (or a proxy in front of it) failed."""


class BadRequestError(APIError, ValidationError):
    """The server rejected the input; ``issues`` lists the problems it reported."""

    def __init__(
        self, message: str, *, issues: Iterable[Issue | tuple[str, str]] = (), **kwargs: Any
    ) -> None:
        self.issues = _issues(issues)
        if self.issues and _describe_issues(self.issues) not in message:
            message = f"{message}:\n{_describe_issues(self.issues)}"
        APIError.__init__(self, message, **kwargs)


class APIProtocolError(APIError):
    """The server's answer does not follow the tRPC protocol (a server bug or a proxy)."""


class APIConnectionError(KairosError):
    """No usable answer: the connection failed, or broke during a stream.

    ``path`` is the procedure being called; ``cause`` the transport's exception.
    """

    default_message = "Connection error."

    def __init__(
        self,
        message: str | None = None,
        *,
        path: str | None = None,
        cause: BaseException | None = None,
    ) -> None:
        text = message or self.default_message
        if path is not None:
            text = f"{text} (path={path!r})"
        if cause is not None:
            text = f"{text}: {type(cause).__name__}: {cause}"
        super().__init__(text)
        self.path = path
        self.cause = cause

    def __reduce__(self) -> tuple[Any, ...]:
        # The cause may not pickle (sockets, locks); keep its description only.
        state = dict(self.__dict__)
        state["cause"] = None
        return (_restore, (type(self), self.args, state))


class APITimeoutError(APIConnectionError):
    """No answer in time."""

    default_message = "Request timed out."


_DETAIL: TypeAdapter[
    EngineVersionErrorDetail
    | ValidationErrorDetail
    | RateLimitErrorDetail
    | SimulationErrorDetail
    | LimitErrorDetail
    | DecreeErrorDetail
] = TypeAdapter(
    Annotated[
        EngineVersionErrorDetail
        | ValidationErrorDetail
        | RateLimitErrorDetail
        | SimulationErrorDetail
        | LimitErrorDetail
        | DecreeErrorDetail,
        Field(discriminator="kind"),
    ]
)

_CLASS_BY_KEY: dict[str, type[APIError]] = {
    "PARSE_ERROR": BadRequestError,
    "BAD_REQUEST": BadRequestError,
    "UNPROCESSABLE_CONTENT": BadRequestError,
    "UNAUTHORIZED": AuthenticationError,
    "FORBIDDEN": PermissionDeniedError,
    "NOT_FOUND": NotFoundError,
    "CONFLICT": ConflictError,
    "TOO_MANY_REQUESTS": RateLimitError,
    **{key: InternalServerError for key, row in ERROR_CODES.items() if row.http_status >= 500},
}


def _class_for(key: str | None, http_status: int | None) -> type[APIError]:
    if key is not None and key in _CLASS_BY_KEY:
        return _CLASS_BY_KEY[key]
    if http_status is not None and http_status >= 500:
        return InternalServerError
    return APIError


def error_from_shape(
    shape: Mapping[str, object],
    *,
    http_status: int | None,
    path: str | None = None,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> APIError:
    """The exception for a tRPC error shape.

    The class follows the key (``data.code``, else the JSON-RPC number) and the KAIROS detail:
    a ``simulation`` detail gives :class:`SimulationError`, PRECONDITION_FAILED with an
    ``engine_version`` detail gives :class:`EngineVersionError`, unknown keys give plain
    :class:`APIError` (or :class:`InternalServerError` for a 5xx status). ``path`` and
    ``request_id`` are used when the shape does not carry its own; ``retry_after`` (from the
    ``Retry-After`` header) wins over the detail's ``retryAfter``.
    """
    data = shape.get("data")
    data = data if isinstance(data, Mapping) else {}
    key = key_from_shape(shape, http_status=http_status)
    raw_message = shape.get("message")
    message = raw_message if isinstance(raw_message, str) and raw_message else (key or "Error")
    shape_path = data.get("path")
    shape_request_id = data.get("requestId")
    if http_status is None:
        status = data.get("httpStatus")
        http_status = status if isinstance(status, int) and not isinstance(status, bool) else None
    raw_detail = data.get("kairos")
    detail_map = raw_detail if isinstance(raw_detail, Mapping) else None
    try:
        detail = _DETAIL.validate_python(raw_detail) if detail_map is not None else None
    except PydanticValidationError:
        detail = None
    common: dict[str, Any] = {
        "code": key,
        "http_status": http_status,
        "path": shape_path if isinstance(shape_path, str) else path,
        "request_id": shape_request_id if isinstance(shape_request_id, str) else request_id,
        "body": dict(shape),
        "detail": detail_map,
    }
    if isinstance(detail, SimulationErrorDetail):
        return SimulationError(
            message, simulation_id=detail.simulation_id, reason=detail.reason, **common
        )
    if key == "CONFLICT" and isinstance(detail, DecreeErrorDetail):
        return DecreeRefusedError(
            message,
            simulation_id=detail.simulation_id,
            status=str(detail.status),
            reason=detail.reason,
            **common,
        )
    if key == "PRECONDITION_FAILED" and isinstance(detail, EngineVersionErrorDetail):
        return EngineVersionError(requested=detail.requested, available=detail.active, **common)
    cls = _class_for(key, http_status)
    if cls is RateLimitError:
        if retry_after is None and isinstance(detail, RateLimitErrorDetail):
            retry_after = detail.retry_after
        return RateLimitError(message, retry_after=retry_after, **common)
    if cls is BadRequestError:
        issues = (
            [(issue.path, issue.message) for issue in detail.issues]
            if isinstance(detail, ValidationErrorDetail)
            else []
        )
        return BadRequestError(message, issues=issues, **common)
    return cls(message, **common)


def error_from_malformed(
    http_status: int,
    reason: str,
    body_excerpt: str,
    *,
    path: str | None = None,
    request_id: str | None = None,
    retry_after: float | None = None,
) -> APIError:
    """The exception for an answer that is not a tRPC envelope.

    An error status keeps its meaning (a proxy's 503 page is an :class:`InternalServerError`,
    its 429 a :class:`RateLimitError`); a success status with an unusable body is an
    :class:`APIProtocolError`.
    """
    message = f"HTTP {http_status} response is not a tRPC answer ({reason})"
    if body_excerpt:
        message = f"{message}: {body_excerpt!r}"
    key = KEY_BY_HTTP_STATUS.get(http_status)
    common: dict[str, Any] = {
        "code": key,
        "http_status": http_status,
        "path": path,
        "request_id": request_id,
        "body": body_excerpt,
    }
    if http_status < 400:
        return APIProtocolError(message, **common)
    cls = _class_for(key, http_status)
    if cls is RateLimitError:
        return RateLimitError(message, retry_after=retry_after, **common)
    return cls(message, **common)
