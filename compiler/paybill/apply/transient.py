"""Which Terraform failures are worth retrying, from the exit status and the error text.

Terraform exits 1 for every error, so the text decides. A failure is retried only when it matches a
known transient cause (throttling, a dropped connection, a 5xx from a cloud API, a held state lock,
a registry hiccup during ``init``) and nothing in the output says it is permanent: a quota or a
permission error ("LimitExceeded", "AccessDenied") stays failed however often it is retried, and an
unknown error is not retried blindly. A process killed by a signal (the runner's OOM killer, a
cancelled step) is retried.
"""

from __future__ import annotations

import re

TRANSIENT = re.compile("|".join([
    r"RequestLimitExceeded", r"Throttl(?:ing|ed)", r"TooManyRequests", r"Too Many Requests", r"Rate exceeded",
    r"rate limit(?:ed|ing)? exceeded", r"\b429\b", r"SlowDown",
    r"connection reset by peer", r"i/o timeout", r"TLS handshake timeout", r"timeout awaiting response headers",
    r"net/http: request canceled", r"unexpected EOF", r"broken pipe", r"no such host", r"connection refused",
    r"\b50[0234]\b", r"Internal ?Server ?Error", r"ServiceUnavailable", r"Service Unavailable", r"Bad Gateway",
    r"Gateway Time-?out", r"InternalError", r"InternalFailure", r"RetryableError",
    r"Error acquiring the state lock", r"PriorRequestNotComplete", r"OperationAborted",
    r"A conflicting conditional operation is currently in progress", r"ConcurrentModification",
    r"AnotherOperationInProgress", r"OperationNotAllowed: Another operation",
    r"Failed to query available provider packages", r"could not connect to registry",
    r"Failed to install provider", r"error checking for provider updates",
]), re.IGNORECASE)

PERMANENT = re.compile("|".join([
    r"(?<!Request)LimitExceeded", r"QuotaExceeded", r"quota exceeded", r"AccessDenied", r"UnauthorizedOperation",
    r"AuthorizationFailed", r"Forbidden", r"\b40[03]\b", r"InvalidParameter", r"ValidationError",
    r"Unsupported argument", r"Invalid reference", r"Saved plan is stale",
]), re.IGNORECASE)


def is_transient(returncode: int, output: str) -> bool:
    """True when a failed Terraform command (``returncode`` != 0, ``output`` its stdout and stderr)
    should be retried."""
    if returncode < 0:
        return True
    if PERMANENT.search(output):
        return False
    return TRANSIENT.search(output) is not None
