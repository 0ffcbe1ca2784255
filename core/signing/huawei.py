"""Huawei Cloud AK/SK request signing, ``SDK-HMAC-SHA256`` ("API签名指南").

Builds the 6-line canonical request, the string to sign and the ``Authorization`` value as the
doc "API签名指南 / API Request Signing Guide" specifies (reference ``vendors.md`` §8.4, worked
example §12.1). Cross-checked on random inputs against ``huaweicloudsdkcore``'s
``signer.Signer.sign`` (tests/signing/test_huawei.py).

Pure: the caller passes the time (``X-Sdk-Date``); nothing reads the clock. The secret key is
the HMAC key itself (no derivation) and is never kept in a returned object.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Dict, Iterable, List, Mapping, Tuple, Union
from urllib.parse import quote, unquote

__all__ = ["HuaweiSignature", "sign_huawei", "sdk_date", "ALGORITHM", "EMPTY_HASH"]

ALGORITHM = "SDK-HMAC-SHA256"
#: SHA-256 of an empty body.
EMPTY_HASH = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
_CONTENT_HASH = "x-sdk-content-sha256"

QueryValue = Union[str, bool, int, List[str]]


@dataclass(frozen=True)
class HuaweiSignature:
    """One signature: ``headers`` are the request's headers with ``X-Sdk-Date``, ``Host`` and
    ``Authorization`` added (send exactly these); the rest are for tests and diagnostics."""

    headers: Dict[str, str]
    canonical_request: str
    string_to_sign: str
    signed_headers: str

    @property
    def authorization(self) -> str:
        return self.headers["Authorization"]

    def __repr__(self) -> str:
        # The signature authorises its request for the vendor's clock-skew window: keep it out.
        return f"HuaweiSignature(signed_headers={self.signed_headers!r}, authorization='***')"


def sdk_date(now: float) -> str:
    """``now`` (seconds since the epoch) as the UTC ``YYYYMMDDTHHMMSSZ`` of ``X-Sdk-Date``."""
    return datetime.fromtimestamp(int(now), tz=timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _encode(value: str) -> str:
    return quote(value, safe="~")


def canonical_uri(path: str) -> str:
    """Each segment of the (decoded) path URL-encoded; always ends with ``/`` for signing,
    although the request itself is sent without the added slash."""
    encoded = "/".join(_encode(segment) for segment in unquote(path).split("/"))
    return encoded if encoded.endswith("/") else encoded + "/"


def canonical_query(params: Iterable[Tuple[str, QueryValue]]) -> str:
    """Sorted ``k=v`` pairs, both URL-encoded; a list value repeats its key, sorted; booleans
    are lower-case; an empty value is ``k=``."""
    pairs: List[str] = []
    for key, value in sorted(params, key=lambda kv: (kv[0], str(kv[1]))):
        name = _encode(key)
        if isinstance(value, list):
            pairs.extend(f"{name}={_encode(str(v))}" for v in sorted(value))
        elif isinstance(value, bool):
            pairs.append(f"{name}={_encode(str(value).lower())}")
        else:
            pairs.append(f"{name}={_encode(str(value))}")
    return "&".join(pairs)


def sign_huawei(
    *,
    access_key: str,
    secret_key: str,
    method: str,
    host: str,
    path: str,
    headers: Mapping[str, str],
    params: Iterable[Tuple[str, QueryValue]] = (),
    body: bytes = b"",
    now: float,
) -> HuaweiSignature:
    """Sign one request made at ``now``.

    ``path`` is the URL path (decoded or encoded: it is decoded, then encoded segment by
    segment); ``params`` the decoded query parameters. Every header whose name has no ``_`` is
    signed, so pass exactly the headers that will be sent (``Host`` is added from ``host`` when
    absent, ``X-Sdk-Date`` from ``now`` when absent). A ``Content-Type`` other than JSON/BSON
    leaves the payload unsigned (``X-Sdk-Content-Sha256: UNSIGNED-PAYLOAD``), as the SDK does.
    """
    if not access_key or not secret_key:
        raise ValueError("SDK-HMAC-SHA256 needs both an access key and a secret key")
    out: Dict[str, str] = dict(headers)
    lowered = {name.lower(): name for name in out}
    content_type = out.get(lowered.get("content-type", ""), "")
    if content_type and not content_type.startswith(("application/json", "application/bson")):
        out["X-Sdk-Content-Sha256"] = "UNSIGNED-PAYLOAD"
    if "x-sdk-date" in lowered:
        date = out[lowered["x-sdk-date"]]
    else:
        date = out["X-Sdk-Date"] = sdk_date(now)
    if "host" not in lowered:
        out["Host"] = host
    # Values are trimmed on the wire too (the SDK rewrites the headers it signs).
    out = {name: str(value).strip() for name, value in out.items()}
    by_name: Dict[str, str] = {}
    for name, value in out.items():
        by_name[name.lower()] = value
    signed = sorted(name.lower() for name in out if "_" not in name)
    header_block = "".join(f"{name}:{by_name[name]}\n" for name in signed)
    signed_list = ";".join(signed)
    if not body:
        payload_hash = EMPTY_HASH
    else:
        payload_hash = by_name.get(_CONTENT_HASH) or hashlib.sha256(body).hexdigest()
    canonical = "\n".join(
        [method.upper(), canonical_uri(path), canonical_query(params), header_block, signed_list, payload_hash]
    )
    to_sign = f"{ALGORITHM}\n{date}\n{hashlib.sha256(canonical.encode('utf-8')).hexdigest()}"
    signature = hmac.new(secret_key.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    out["Authorization"] = f"{ALGORITHM} Access={access_key}, SignedHeaders={signed_list}, Signature={signature}"
    return HuaweiSignature(headers=out, canonical_request=canonical, string_to_sign=to_sign, signed_headers=signed_list)
