"""Tencent Cloud API 3.0 request signing, TC3-HMAC-SHA256 ("签名方法 v3").

Builds the canonical request, the string to sign, the derived signing key and the
``Authorization`` header exactly as Tencent's "Signature v3" page specifies:
https://cloud.tencent.com/document/api/213/30654 (English copy:
https://intl.cloud.tencent.com/document/api/1021/34193). The Hunyuan provider uses
:func:`tc3_headers`; :func:`sign_tc3` is the general signer underneath it.

Everything here is a pure function of its arguments: the caller passes the timestamp, so
nothing reads the clock, and nothing touches the network. Secret keys are used to derive
the signing key and are never stored in a returned object.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Mapping, Optional

__all__ = ["TC3Signature", "sign_tc3", "tc3_headers"]

_ALGORITHM = "TC3-HMAC-SHA256"
_TERMINATOR = "tc3_request"

# What Tencent's official SDK sends on a JSON POST. It carries no charset; the doc's
# example signs "application/json; charset=utf-8". Either works as long as the value signed
# is the value sent, and this one lets tc3_headers match the SDK header for header.
_SDK_JSON_CONTENT_TYPE = "application/json"

# RFC 9110 token characters. A name outside this set could hide a ':' or ';' and make two
# different header sets canonicalise to the same text.
_HEADER_NAME = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+\Z")

# HTTP optional whitespace. The server sees header values after its HTTP parser has dropped
# these, so they are the only characters trimming can sensibly mean.
_OWS = " \t"


@dataclass(frozen=True)
class TC3Signature:
    """The intermediate and final values of one TC3 signature.

    Holds no secret key, so it is safe to log or repr. ``authorization`` does contain the
    SecretId, which Tencent treats as an identifier, not a secret.
    """

    canonical_request: str
    string_to_sign: str
    signature: str
    authorization: str
    credential_scope: str


def sign_tc3(
    *,
    secret_id: str,
    secret_key: str,
    service: str,
    host: str,
    timestamp: int,
    payload: bytes,
    method: str = "POST",
    path: str = "/",
    query: str = "",
    content_type: str = "application/json; charset=utf-8",
    signed_headers: Optional[Mapping[str, str]] = None,
) -> TC3Signature:
    """Sign one Tencent Cloud API 3.0 request.

    ``payload`` must be the exact bytes that will be sent: the hash covers bytes, not a
    JSON value, so serialise once and send what was signed. ``content_type`` and ``host``
    are always signed; ``signed_headers`` adds more (e.g. ``{"X-TC-Action": "ChatCompletions"}``).
    Header names and values are lower-cased and values trimmed, as the doc prescribes, so
    the header actually sent may use any case. ``query`` is signed verbatim and must equal
    the query string sent (empty for POST).

    Raises ``TypeError`` for a non-integer timestamp and ``ValueError`` for input that
    would make the canonical request ambiguous (line breaks, bad or duplicate header names).
    """
    # A float from time.time() would put "1700000000.25" into the string to sign while the
    # X-TC-Timestamp header carries something else; refuse it rather than sign garbage.
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise TypeError("timestamp must be an int (seconds since the epoch)")
    if timestamp < 0:
        raise ValueError("timestamp must not be negative")
    if not isinstance(payload, (bytes, bytearray, memoryview)):
        raise TypeError("payload must be bytes: sign the exact bytes that will be sent")
    for label, value in (
        ("secret_id", secret_id),
        ("service", service),
        ("method", method),
        ("path", path),
        ("query", query),
    ):
        _reject_line_breaks(label, value)
    if not service or "/" in service:
        raise ValueError("service must be a non-empty name without '/'")

    date = _utc_date(timestamp)
    credential_scope = f"{date}/{service}/{_TERMINATOR}"

    headers = _canonical_header_map(content_type, host, signed_headers)
    names = sorted(headers)
    # Each header line ends in "\n" and the join below adds another, so an empty line sits
    # between the headers and the signed-header list. Tencent's worked example has it.
    canonical_headers = "".join(f"{name}:{headers[name]}\n" for name in names)
    signed_header_list = ";".join(names)

    canonical_request = "\n".join(
        (
            # requests and http.client upper-case the method on the wire; sign what is sent.
            method.upper(),
            path,
            query,
            canonical_headers,
            signed_header_list,
            hashlib.sha256(payload).hexdigest(),
        )
    )
    string_to_sign = "\n".join(
        (
            _ALGORITHM,
            str(timestamp),
            credential_scope,
            hashlib.sha256(canonical_request.encode("utf-8")).hexdigest(),
        )
    )
    signing_key = _signing_key(secret_key, date, service)
    signature = hmac.new(signing_key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()
    authorization = (
        f"{_ALGORITHM} Credential={secret_id}/{credential_scope}, "
        f"SignedHeaders={signed_header_list}, Signature={signature}"
    )
    return TC3Signature(
        canonical_request=canonical_request,
        string_to_sign=string_to_sign,
        signature=signature,
        authorization=authorization,
        credential_scope=credential_scope,
    )


def tc3_headers(
    *,
    secret_id: str,
    secret_key: str,
    service: str,
    host: str,
    action: str,
    version: str,
    timestamp: int,
    payload: bytes,
    region: Optional[str] = None,
    token: Optional[str] = None,
    language: Optional[str] = None,
) -> dict[str, str]:
    """Return the full header set for a signed JSON POST to a Tencent Cloud API 3.0 host.

    The result equals what ``tencentcloud-sdk-python-common``'s
    ``AbstractClient._build_req_with_tc3_signature`` produces for the same inputs, minus the
    SDK's own ``X-TC-RequestClient`` (unsigned, optional). Like the SDK, it signs only
    ``content-type;host``, upper-cases the first letter of ``action``, and omits
    ``X-TC-Region``, ``X-TC-Token`` and ``X-TC-Language`` when they are empty.
    ``payload`` must be the body bytes that will be sent.
    """
    if not action:
        raise ValueError("action must not be empty")
    for label, value in (
        ("host", host),
        ("action", action),
        ("version", version),
        ("region", region),
        ("token", token),
        ("language", language),
    ):
        if value is not None:
            _reject_line_breaks(label, value)

    signed = sign_tc3(
        secret_id=secret_id,
        secret_key=secret_key,
        service=service,
        host=host,
        timestamp=timestamp,
        payload=payload,
        content_type=_SDK_JSON_CONTENT_TYPE,
    )
    # Insertion order follows the SDK so that a wire capture diffs cleanly against it.
    headers: dict[str, str] = {
        "Content-Type": _SDK_JSON_CONTENT_TYPE,
        "Host": host,
        # The SDK sends "chatCompletions" as "ChatCompletions"; match it so that both
        # clients put the same action name on the wire.
        "X-TC-Action": action[0].upper() + action[1:],
        "X-TC-Timestamp": str(timestamp),
        "X-TC-Version": version,
    }
    # Truthiness, not "is not None": the SDK drops an empty region, token or language
    # too, and an empty header is never what a caller who passed "" meant.
    if region:
        headers["X-TC-Region"] = region
    if token:
        headers["X-TC-Token"] = token
    if language:
        headers["X-TC-Language"] = language
    headers["Authorization"] = signed.authorization
    return headers


def _utc_date(timestamp: int) -> str:
    # The credential scope uses the UTC date; a local-time date only breaks near midnight,
    # which is why this bug survives casual testing.
    return datetime.fromtimestamp(timestamp, tz=timezone.utc).strftime("%Y-%m-%d")


def _signing_key(secret_key: str, date: str, service: str) -> bytes:
    # Each step keys the next HMAC with the previous raw digest, not its hex form.
    k_date = hmac.new(("TC3" + secret_key).encode("utf-8"), date.encode("utf-8"), hashlib.sha256)
    k_service = hmac.new(k_date.digest(), service.encode("utf-8"), hashlib.sha256)
    return hmac.new(k_service.digest(), _TERMINATOR.encode("utf-8"), hashlib.sha256).digest()


def _canonical_header_map(
    content_type: str, host: str, extra: Optional[Mapping[str, str]]
) -> dict[str, str]:
    pairs = [("content-type", content_type), ("host", host)]
    if extra:
        pairs.extend(extra.items())
    headers: dict[str, str] = {}
    for raw_name, raw_value in pairs:
        if not _HEADER_NAME.match(raw_name):
            raise ValueError(f"invalid header name to sign: {raw_name!r}")
        _reject_line_breaks(f"header {raw_name}", raw_value)
        name = raw_name.lower()
        if name in headers:
            # Two values for one name cannot both be sent as one header; say so instead of
            # silently signing whichever came last.
            raise ValueError(f"header {name!r} given twice (content-type and host are always signed)")
        headers[name] = raw_value.strip(_OWS).lower()
    return headers


def _reject_line_breaks(label: str, value: str) -> None:
    # The canonical request is newline-delimited, so a line break in any field could forge
    # another field; in a header value it would also inject a header on the wire.
    if "\n" in value or "\r" in value:
        raise ValueError(f"{label} must not contain line breaks")
