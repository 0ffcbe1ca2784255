"""Compact JWS with HMAC-SHA256 (a JWT signed ``HS256``, RFC 7515 / 7519), stdlib only.

Serialisation is PyJWT's, so a token minted here is byte-identical to what an SDK built on PyJWT
mints from the same inputs: header keys sorted (``typ`` added when absent), the payload in the
given key order, both as compact JSON, base64url without padding.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any, Dict, Mapping, Optional

__all__ = ["hs256_jwt"]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _compact(value: Mapping[str, Any], *, sort_keys: bool) -> bytes:
    return json.dumps(value, separators=(",", ":"), sort_keys=sort_keys).encode("utf-8")


def hs256_jwt(payload: Mapping[str, Any], key: str, *, header: Optional[Mapping[str, Any]] = None) -> str:
    """``b64url(header).b64url(payload).b64url(HMAC-SHA256(key, first two parts))``."""
    full: Dict[str, Any] = {"typ": "JWT", **(header or {}), "alg": "HS256"}
    signing_input = _b64url(_compact(full, sort_keys=True)) + "." + _b64url(_compact(payload, sort_keys=False))
    signature = hmac.new(key.encode("utf-8"), signing_input.encode("ascii"), hashlib.sha256).digest()
    return signing_input + "." + _b64url(signature)
