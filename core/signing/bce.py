"""Baidu Cloud request signing, ``bce-auth-v1`` ("生成认证字符串").

Builds the signing key, the 4-line canonical request and the ``Authorization`` value exactly as
Baidu's "生成认证字符串" / "Include the Authentication String into the Header" pages specify
(reference ``vendors.md`` §6.4, worked example §12.2). Cross-checked on random inputs against
``bce-python-sdk``'s ``baidubce.auth.bce_v1_signer.sign`` (tests/signing/test_bce.py).

Pure: the caller passes the timestamp; nothing reads the clock or touches the network. The
secret key only derives the signing key and is never stored in a returned object.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable, List, Mapping, Optional, Tuple

__all__ = ["BCESignature", "sign_bce", "bce_timestamp", "uri_encode", "DEFAULT_SIGNED_HEADERS"]

#: Signed when the caller names no headers (besides every ``x-bce-*`` header).
DEFAULT_SIGNED_HEADERS = ("host", "content-md5", "content-length", "content-type")
# What the SDK trims (bytes.strip: ASCII whitespace only; str.strip would also eat \x1c-\x1f).
_ASCII_SPACE = " \t\n\r\x0b\x0c"
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~")


@dataclass(frozen=True)
class BCESignature:
    """The parts of one signature; ``authorization`` is the header value to send."""

    authorization: str
    canonical_request: str
    signed_headers: str

    def __repr__(self) -> str:
        # The signature is a credential for its validity period: keep it out of reprs.
        return f"BCESignature(signed_headers={self.signed_headers!r}, authorization='***')"


def bce_timestamp(now: float) -> str:
    """``now`` (seconds since the epoch) as the UTC ``YYYY-MM-DDTHH:MM:SSZ`` the scheme uses."""
    return datetime.fromtimestamp(int(now), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def uri_encode(value: str, *, keep_slash: bool = False) -> str:
    """RFC 3986 encoding of the UTF-8 bytes: unreserved characters kept, the rest ``%XX``."""
    out: List[str] = []
    for byte in value.encode("utf-8"):
        if byte in _UNRESERVED or (keep_slash and byte == 0x2F):
            out.append(chr(byte))
        else:
            out.append("%%%02X" % byte)
    return "".join(out)


def _hmac_hex(key: str, message: str) -> str:
    return hmac.new(key.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def _canonical_query(params: Iterable[Tuple[str, Optional[str]]]) -> str:
    pairs = [
        f"{uri_encode(k)}={uri_encode(v if v is not None else '')}"
        for k, v in params
        if k.lower() != "authorization"  # the scheme excludes it (the SDK means to as well)
    ]
    return "&".join(sorted(pairs))


def _canonical_headers(headers: Mapping[str, str], signed: Optional[Iterable[str]]) -> Tuple[str, List[str]]:
    wanted = {h.strip(_ASCII_SPACE).lower() for h in (signed or DEFAULT_SIGNED_HEADERS)}
    lines: List[str] = []
    names: List[str] = []
    for name, value in headers.items():
        lowered = name.strip(_ASCII_SPACE).lower()
        trimmed = str(value).strip(_ASCII_SPACE)
        if not trimmed:
            continue  # empty values are never signed
        if lowered.startswith("x-bce-") or lowered in wanted:
            lines.append(f"{uri_encode(lowered)}:{uri_encode(trimmed)}")
            names.append(lowered)
    return "\n".join(sorted(lines)), sorted(set(names))


def sign_bce(
    *,
    access_key: str,
    secret_key: str,
    method: str,
    path: str,
    headers: Mapping[str, str],
    params: Iterable[Tuple[str, Optional[str]]] = (),
    timestamp: float,
    expiration: int = 1800,
    signed_headers: Optional[Iterable[str]] = None,
) -> BCESignature:
    """Sign one request.

    ``path`` is the URL path as sent; it is URI-encoded here with ``/`` kept (pass it decoded).
    ``params`` are the decoded query parameters. ``signed_headers`` names the headers to sign
    (lower-cased and sorted in the result); None signs the default set and writes an empty
    signed-headers field (``…/1800//<sig>``), as the worked example does.
    """
    if "\n" in access_key or "/" in access_key:
        raise ValueError("access key must not contain '/' or a line break")
    prefix = f"bce-auth-v1/{access_key}/{bce_timestamp(timestamp)}/{int(expiration)}"
    signing_key = _hmac_hex(secret_key, prefix)
    header_block, names = _canonical_headers(headers, signed_headers)
    canonical = "\n".join([method.upper(), uri_encode(path, keep_slash=True), _canonical_query(params), header_block])
    signature = _hmac_hex(signing_key, canonical)
    listed = ";".join(names) if signed_headers is not None else ""
    return BCESignature(authorization=f"{prefix}/{listed}/{signature}", canonical_request=canonical, signed_headers=listed)
