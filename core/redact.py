"""Keeping secrets out of logs, reprs, error messages and printed requests."""

from __future__ import annotations

import base64
import re
from typing import Iterable, List, Mapping
from urllib.parse import quote, quote_plus

__all__ = ["Redactor", "MASK", "SENSITIVE_HEADERS"]

MASK = "***"
SENSITIVE_HEADERS = frozenset(
    {"authorization", "x-api-key", "api-key", "x-tc-token", "x-goog-api-key", "x-auth-token", "cookie"}
)
_SENSITIVE_QUERY = re.compile(r"(?i)([?&](?:authorization|key|api_key|access_token|token|signature)=)[^&#\s]*")


class Redactor:
    """Masks known secret values, in plain, URL-encoded and base64 forms, wherever they appear."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._needles: List[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        # Very short values would mask innocent text; real credentials are longer than 4.
        if not secret or len(secret) < 4:
            return
        forms = {secret, quote(secret, safe=""), quote_plus(secret)}
        forms.add(base64.b64encode(secret.encode()).decode().rstrip("="))
        for form in forms:
            if form not in self._needles:
                self._needles.append(form)
        self._needles.sort(key=len, reverse=True)

    def text(self, value: str) -> str:
        for needle in self._needles:
            if needle in value:
                value = value.replace(needle, MASK)
        return _SENSITIVE_QUERY.sub(lambda m: m.group(1) + MASK, value)

    def headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        return {
            name: (_mask_header(value) if name.lower() in SENSITIVE_HEADERS else self.text(value))
            for name, value in headers.items()
        }


def _mask_header(value: str) -> str:
    scheme, _, rest = value.partition(" ")
    # Keep the scheme and the non-secret structure of a TC3 header so a reader can debug it.
    if scheme.upper() == "BEARER" and rest:
        return f"{scheme} {MASK}"
    if scheme.startswith("TC3-") and "Signature=" in value:
        return re.sub(r"Credential=[^/,]+", f"Credential={MASK}", re.sub(r"Signature=\w+", f"Signature={MASK}", value))
    return MASK
