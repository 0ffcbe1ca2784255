"""Tests for llmplex.signing.tc3 (Tencent Cloud TC3-HMAC-SHA256).

Expected values come from Tencent's "签名方法 v3" doc revisions as collected in
shared/reference/vendors-spark-hunyuan.md §2.3. The property tests cross-check every
signature against the official ``tencentcloud-sdk-python-common`` signer, with the SDK's
clock frozen and its network access made to fail loudly.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import socket
import time
from types import SimpleNamespace
from typing import Any, Iterator, Optional, Union
from urllib.parse import urlencode
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tencentcloud.common.abstract_client import AbstractClient
from tencentcloud.common.credential import Credential
from tencentcloud.common.http.request import ProxyConnection, RequestInternal
from tencentcloud.common.profile.client_profile import ClientProfile
from tencentcloud.common.profile.http_profile import HttpProfile
from tencentcloud.common.sign import Sign

from llmplex.signing import tc3
from llmplex.signing.tc3 import TC3Signature, sign_tc3, tc3_headers

# --- Tencent's worked example (T1) --------------------------------------------------------

DOC_SECRET_ID = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
DOC_SECRET_KEY = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"
DOC_TIMESTAMP = 1551113065
DOC_HOST = "cvm.tencentcloudapi.com"
# The escapes are literal backslash sequences in the body Tencent signed, not decoded text.
DOC_PAYLOAD = (
    b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
)
DOC_PAYLOAD_HASH = "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"

T1_CANONICAL_REQUEST = (
    "POST\n"
    "/\n"
    "\n"
    "content-type:application/json; charset=utf-8\n"
    "host:cvm.tencentcloudapi.com\n"
    "\n"
    "content-type;host\n"
    "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
)
T1_HASHED_CANONICAL_REQUEST = "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
T1_STRING_TO_SIGN = (
    "TC3-HMAC-SHA256\n"
    "1551113065\n"
    "2019-02-25/cvm/tc3_request\n"
    "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
)
T1_SIGNATURE = "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
T1_AUTHORIZATION = (
    "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, "
    "SignedHeaders=content-type;host, "
    "Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
)


def _sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_official_worked_example_t1() -> None:
    sig = sign_tc3(
        secret_id=DOC_SECRET_ID,
        secret_key=DOC_SECRET_KEY,
        service="cvm",
        host=DOC_HOST,
        timestamp=DOC_TIMESTAMP,
        payload=DOC_PAYLOAD,
    )
    assert hashlib.sha256(DOC_PAYLOAD).hexdigest() == DOC_PAYLOAD_HASH
    assert sig.canonical_request == T1_CANONICAL_REQUEST
    assert _sha256_hex(sig.canonical_request) == T1_HASHED_CANONICAL_REQUEST
    assert sig.string_to_sign == T1_STRING_TO_SIGN
    assert sig.signature == T1_SIGNATURE
    assert sig.authorization == T1_AUTHORIZATION
    assert sig.credential_scope == "2019-02-25/cvm/tc3_request"


def test_masked_key_revision_t1b() -> None:
    # A later doc revision printed the key masked and recomputed with the masked literal.
    sig = sign_tc3(
        secret_id="AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******",
        secret_key="Gu5t9xGARNpq86cd98joQYCN3*******",
        service="cvm",
        host=DOC_HOST,
        timestamp=DOC_TIMESTAMP,
        payload=DOC_PAYLOAD,
    )
    assert sig.string_to_sign == T1_STRING_TO_SIGN
    assert sig.signature == "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"


def test_current_revision_t2_signs_lowercased_action() -> None:
    sig = sign_tc3(
        secret_id="AKID" + "*" * 32,
        secret_key="*" * 32,
        service="cvm",
        host=DOC_HOST,
        timestamp=DOC_TIMESTAMP,
        payload=DOC_PAYLOAD,
        signed_headers={"X-TC-Action": "DescribeInstances"},
    )
    assert sig.canonical_request == (
        "POST\n"
        "/\n"
        "\n"
        "content-type:application/json; charset=utf-8\n"
        "host:cvm.tencentcloudapi.com\n"
        "x-tc-action:describeinstances\n"
        "\n"
        "content-type;host;x-tc-action\n"
        "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    )
    hashed = "7019a55be8395899b900fb5564e4200d984910f34794a27cb3fb7d10ff6a1e84"
    assert _sha256_hex(sig.canonical_request) == hashed
    assert sig.string_to_sign == f"TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n{hashed}"
    assert (
        tc3._signing_key("*" * 32, "2019-02-25", "cvm").hex()
        == "b596b923aad85185e2d1f6659d2a062e0a86731226e021e61bfe06f7ed05f5af"
    )
    assert sig.signature == "10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f"
    assert sig.authorization == (
        "TC3-HMAC-SHA256 Credential=AKID********************************/2019-02-25/cvm/tc3_request, "
        "SignedHeaders=content-type;host;x-tc-action, "
        "Signature=10b1a37a7301a02ca19a647ad722d5e43b4b3cff309d421d85b46093f6ab6c4f"
    )


def test_2018_get_revision_t0() -> None:
    sig = sign_tc3(
        secret_id=DOC_SECRET_ID,
        secret_key=DOC_SECRET_KEY,
        service="cvm",
        host=DOC_HOST,
        timestamp=1539084154,
        payload=b"",
        method="GET",
        query="Limit=10&Offset=0",
        content_type="application/x-www-form-urlencoded",
    )
    assert sig.canonical_request == (
        "GET\n/\nLimit=10&Offset=0\n"
        "content-type:application/x-www-form-urlencoded\nhost:cvm.tencentcloudapi.com\n\n"
        "content-type;host\n"
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    assert (
        _sha256_hex(sig.canonical_request)
        == "91c9c192c14460df6c1ffc69e34e6c5e90708de2a6d282cccf957dbf1aa7f3a7"
    )
    assert sig.credential_scope == "2018-10-09/cvm/tc3_request"
    assert sig.signature == "5da7a33f6993f0614b047e5df4582db9e9bf4672ba50567dba16c6ccf174c474"


# --- Hunyuan (H1: generated by the official SDK under a frozen clock, not published) -------

HY_SECRET_ID = "AKIDEXAMPLEHUNYUAN0000000000000000000"
HY_SECRET_KEY = "EXAMPLEsecretKEY0123456789abcdefgh"
HY_BODY = (
    b'{"Model": "hunyuan-lite", "Messages": [{"Role": "user", "Content": "\\u4f60\\u597d"}], '
    b'"Stream": true}'
)


def test_hunyuan_headers_h1() -> None:
    headers = tc3_headers(
        secret_id=HY_SECRET_ID,
        secret_key=HY_SECRET_KEY,
        service="hunyuan",
        host="hunyuan.tencentcloudapi.com",
        action="ChatCompletions",
        version="2023-09-01",
        timestamp=1700000000,
        payload=HY_BODY,
        region="ap-guangzhou",
        language="zh-CN",
    )
    assert headers == {
        "Content-Type": "application/json",
        "Host": "hunyuan.tencentcloudapi.com",
        "X-TC-Action": "ChatCompletions",
        "X-TC-Timestamp": "1700000000",
        "X-TC-Version": "2023-09-01",
        "X-TC-Region": "ap-guangzhou",
        "X-TC-Language": "zh-CN",
        "Authorization": (
            "TC3-HMAC-SHA256 Credential=AKIDEXAMPLEHUNYUAN0000000000000000000/2023-11-14/hunyuan/"
            "tc3_request, SignedHeaders=content-type;host, "
            "Signature=10a76eb13d9e8bc534f43cda230807b873a212a9fc56bef613cc21f18dfedbdf"
        ),
    }
    sig = sign_tc3(
        secret_id=HY_SECRET_ID,
        secret_key=HY_SECRET_KEY,
        service="hunyuan",
        host="hunyuan.tencentcloudapi.com",
        timestamp=1700000000,
        payload=HY_BODY,
        content_type="application/json",
    )
    assert sig.canonical_request == (
        "POST\n/\n\ncontent-type:application/json\nhost:hunyuan.tencentcloudapi.com\n\n"
        "content-type;host\n460a6ff812d4407f634f00e7c8311182b981a1fc64a10c613c01ec063c60ac31"
    )
    assert sig.string_to_sign == (
        "TC3-HMAC-SHA256\n1700000000\n2023-11-14/hunyuan/tc3_request\n"
        "24e0aad457b2dc0d22cbf302b4514a9e2016c24b62a2540fab0635441aa3160f"
    )


def test_hunyuan_with_signed_action_matches_reference_value() -> None:
    # Gateway-style signing (one-api, new-api). The reference computed this independently
    # only, since the SDK cannot sign extra headers; it pins the extra-header path.
    sig = sign_tc3(
        secret_id=HY_SECRET_ID,
        secret_key=HY_SECRET_KEY,
        service="hunyuan",
        host="hunyuan.tencentcloudapi.com",
        timestamp=1700000000,
        payload=HY_BODY,
        content_type="application/json",
        signed_headers={"X-TC-Action": "ChatCompletions"},
    )
    assert "x-tc-action:chatcompletions\n" in sig.canonical_request
    assert sig.signature == "6b3ad6b4e915ef678dddc6d26b52091437ae182f13d73049f524535504ba3f61"


# --- The date in the scope is the UTC date -----------------------------------------------


@contextlib.contextmanager
def _local_timezone(name: str) -> Iterator[None]:
    if not hasattr(time, "tzset"):
        pytest.skip("time.tzset is Unix-only")
    try:
        with mock.patch.dict(os.environ, {"TZ": name}):
            time.tzset()
            yield
    finally:
        time.tzset()


@pytest.mark.parametrize(
    ("timestamp", "utc_date"),
    [
        (1710027000, "2024-03-09"),  # 23:30 UTC; already 2024-03-10 in Shanghai
        (DOC_TIMESTAMP, "2019-02-25"),  # 16:44 UTC; 2019-02-26 00:44 in Shanghai
        (86399, "1970-01-01"),
        (86400, "1970-01-02"),
        (0, "1970-01-01"),
        (4_000_000_000, "2096-10-02"),
    ],
)
def test_scope_uses_utc_date_whatever_the_local_zone(timestamp: int, utc_date: str) -> None:
    for zone in ("Asia/Shanghai", "Pacific/Kiritimati", "America/Los_Angeles", "UTC"):
        with _local_timezone(zone):
            sig = sign_tc3(
                secret_id="AKIDx",
                secret_key="k",
                service="hunyuan",
                host="hunyuan.tencentcloudapi.com",
                timestamp=timestamp,
                payload=b"{}",
            )
        assert sig.credential_scope == f"{utc_date}/hunyuan/tc3_request"
        assert sig.string_to_sign.split("\n")[1:3] == [str(timestamp), sig.credential_scope]
        assert f"Credential=AKIDx/{utc_date}/hunyuan/tc3_request," in sig.authorization


def test_local_zone_really_differs_for_the_midnight_case() -> None:
    # Guards the test above: if TZ had no effect, it would prove nothing.
    with _local_timezone("Asia/Shanghai"):
        assert time.strftime("%Y-%m-%d", time.localtime(1710027000)) == "2024-03-10"


# --- Edge cases -------------------------------------------------------------------------


def test_empty_payload_hashes_the_empty_string() -> None:
    sig = sign_tc3(
        secret_id="AKIDx",
        secret_key="k",
        service="hunyuan",
        host="hunyuan.tencentcloudapi.com",
        timestamp=1700000000,
        payload=b"",
    )
    assert sig.canonical_request.endswith(
        "\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


def _hunyuan_headers(**overrides: Any) -> dict[str, str]:
    kwargs: dict[str, Any] = dict(
        secret_id=HY_SECRET_ID,
        secret_key=HY_SECRET_KEY,
        service="hunyuan",
        host="hunyuan.tencentcloudapi.com",
        action="ChatCompletions",
        version="2023-09-01",
        timestamp=1700000000,
        payload=b"",
    )
    kwargs.update(overrides)
    return tc3_headers(**kwargs)


def test_token_region_and_language_are_sent_when_set() -> None:
    headers = _hunyuan_headers(region="ap-beijing", token="session-token", language="en-US")
    assert headers["X-TC-Region"] == "ap-beijing"
    assert headers["X-TC-Token"] == "session-token"
    assert headers["X-TC-Language"] == "en-US"
    # None of them is signed, so they do not change the signature.
    assert headers["Authorization"] == _hunyuan_headers()["Authorization"]


@pytest.mark.parametrize("unset", [None, ""])
def test_unset_region_token_and_language_send_no_header(unset: Optional[str]) -> None:
    headers = _hunyuan_headers(region=unset, token=unset, language=unset)
    assert set(headers) == {
        "Authorization",
        "Content-Type",
        "Host",
        "X-TC-Action",
        "X-TC-Timestamp",
        "X-TC-Version",
    }


def test_action_first_letter_is_upper_cased_like_the_sdk() -> None:
    assert _hunyuan_headers(action="chatCompletions")["X-TC-Action"] == "ChatCompletions"


def test_signature_repr_holds_no_secret() -> None:
    secret = "S3cr3t-K3y-that-must-not-leak"
    sig = sign_tc3(
        secret_id="AKIDpublic",
        secret_key=secret,
        service="hunyuan",
        host="hunyuan.tencentcloudapi.com",
        timestamp=1700000000,
        payload=b"{}",
    )
    assert isinstance(sig, TC3Signature)
    assert secret not in repr(sig)
    assert secret not in str(sig)
    assert all(secret not in getattr(sig, f.name) for f in dataclasses.fields(sig))


def test_header_case_and_surrounding_whitespace_do_not_change_the_signature() -> None:
    # The doc canonicalises names and values to lower case and trims values, so the
    # header actually sent may use any case.
    common: dict[str, Any] = dict(
        secret_id="AKIDx", secret_key="k", service="cvm", timestamp=DOC_TIMESTAMP, payload=b"{}"
    )
    plain = sign_tc3(
        host="cvm.tencentcloudapi.com",
        content_type="application/json; charset=utf-8",
        signed_headers={"x-tc-action": "describeinstances"},
        **common,
    )
    shouty = sign_tc3(
        host=" CVM.TencentCloudAPI.com\t",
        content_type="Application/JSON; charset=UTF-8 ",
        signed_headers={"X-TC-Action": " DescribeInstances"},
        method="post",
        **common,
    )
    assert shouty == plain


def test_signed_headers_are_sorted_by_lower_case_name() -> None:
    sig = sign_tc3(
        secret_id="AKIDx",
        secret_key="k",
        service="cvm",
        host="h",
        timestamp=0,
        payload=b"",
        signed_headers={"X-TC-Version": "2017-03-12", "Accept": "*/*", "X-TC-Action": "A"},
    )
    assert "SignedHeaders=accept;content-type;host;x-tc-action;x-tc-version," in sig.authorization
    assert sig.canonical_request.split("\n")[3:8] == [
        "accept:*/*",
        "content-type:application/json; charset=utf-8",
        "host:h",
        "x-tc-action:a",
        "x-tc-version:2017-03-12",
    ]


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"timestamp": 1700000000.5}, TypeError),
        ({"timestamp": True}, TypeError),
        ({"timestamp": -1}, ValueError),
        ({"payload": "{}"}, TypeError),
        ({"host": "evil.com\r\nX-Injected: 1"}, ValueError),
        ({"content_type": "application/json\n"}, ValueError),
        ({"service": ""}, ValueError),
        ({"service": "cvm/other"}, ValueError),
        ({"signed_headers": {"Host": "other.example"}}, ValueError),
        ({"signed_headers": {"X-TC-Action": "a", "x-tc-action": "b"}}, ValueError),
        ({"signed_headers": {"bad name": "v"}}, ValueError),
        ({"signed_headers": {"x-a:b": "v"}}, ValueError),
        ({"signed_headers": {"x-a": "v\nx-b:w"}}, ValueError),
    ],
)
def test_ambiguous_or_malformed_input_is_refused(overrides: dict[str, Any], error: type) -> None:
    kwargs: dict[str, Any] = dict(
        secret_id="AKIDx", secret_key="k", service="cvm", host="h", timestamp=0, payload=b""
    )
    kwargs.update(overrides)
    with pytest.raises(error):
        sign_tc3(**kwargs)


def test_tc3_headers_refuses_empty_action_and_header_injection() -> None:
    with pytest.raises(ValueError):
        _hunyuan_headers(action="")
    with pytest.raises(ValueError):
        _hunyuan_headers(token="t\r\nX-Injected: 1")


# --- Cross-checks against the official SDK ----------------------------------------------


@contextlib.contextmanager
def _network_forbidden() -> Iterator[None]:
    """Make any connection attempt, by the SDK or anything else, fail the test."""

    def refuse(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("a test tried to open a network connection")

    with mock.patch.object(socket.socket, "connect", refuse), mock.patch.object(
        socket.socket, "connect_ex", refuse
    ), mock.patch.object(socket, "create_connection", refuse), mock.patch.object(
        ProxyConnection, "request", refuse
    ):
        yield


def _sdk_client(
    *,
    secret_id: str,
    secret_key: str,
    token: Optional[str],
    service: str,
    host: str,
    version: str,
    region: Optional[str],
    language: Optional[str],
) -> AbstractClient:
    profile = ClientProfile(httpProfile=HttpProfile(endpoint=host))
    # ClientProfile only accepts zh-CN/en-US; None is set afterwards so that the SDK
    # omits the header, as it does for any falsy language.
    profile.language = language
    client = AbstractClient(Credential(secret_id, secret_key, token), region, profile)
    client._service = service
    client._apiVersion = version
    return client


def _sdk_build(client: AbstractClient, action: str, params: Any, timestamp: int) -> RequestInternal:
    req = RequestInternal(client._get_endpoint(), "POST", "/", header={})
    frozen_clock = SimpleNamespace(time=lambda: float(timestamp))
    with mock.patch("tencentcloud.common.abstract_client.time", frozen_clock):
        client._build_req_with_tc3_signature(action, params, req)
    return req


_LABEL = r"[a-z0-9]([a-z0-9-]{0,14}[a-z0-9])?"
# The SDK signs Host and Content-Type verbatim while llmplex lower-cases them as the doc
# says, so the two agree only on lower-case values; real endpoints are lower-case.
hosts = st.from_regex(rf"{_LABEL}(\.{_LABEL}){{0,3}}(:[1-9][0-9]{{0,4}})?", fullmatch=True)
services = st.from_regex(r"[a-z][a-z0-9]{0,15}", fullmatch=True)
actions = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,30}", fullmatch=True)
versions = st.from_regex(r"20[0-9]{2}-[01][0-9]-[0-3][0-9]", fullmatch=True)
regions = st.none() | st.just("") | st.from_regex(r"[a-z]{2}-[a-z]{3,12}(-[0-9])?", fullmatch=True)
timestamps = st.integers(min_value=0, max_value=4_000_000_000)
secret_ids = st.from_regex(r"AKID[A-Za-z0-9]{32}", fullmatch=True)
# The SDK's Credential refuses empty keys and keys with surrounding whitespace.
secret_keys = st.text(st.characters(codec="utf-8"), min_size=1, max_size=48).filter(
    lambda k: k.strip() == k and k != ""
)
tokens = st.none() | st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=64
)
languages = st.none() | st.sampled_from(["zh-CN", "en-US"])
content_types = st.sampled_from(
    [
        "application/json",
        "application/json; charset=utf-8",
        "application/x-www-form-urlencoded",
        "application/octet-stream",
    ]
)

_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(st.characters(codec="utf-8"), max_size=20)
)
json_values = st.recursive(
    _json_scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(st.characters(codec="utf-8"), max_size=8), inner, max_size=4),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=10), json_values, max_size=5)
# Raw UTF-8 ("你好") as well as escaped ASCII ("\u4f60\u597d"): both are valid bodies.
json_texts = st.builds(
    lambda value, ascii_only: json.dumps(value, ensure_ascii=ascii_only), json_values, st.booleans()
)

_SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)


@_SETTINGS
@given(
    secret_key=secret_keys,
    service=services,
    host=hosts,
    timestamp=timestamps,
    body=json_texts,
    content_type=content_types,
)
def test_string_to_sign_step_matches_sdk_sign_tc3(
    secret_key: str, service: str, host: str, timestamp: int, body: str, content_type: str
) -> None:
    sig = sign_tc3(
        secret_id="AKIDx",
        secret_key=secret_key,
        service=service,
        host=host,
        timestamp=timestamp,
        payload=body.encode("utf-8"),
        content_type=content_type,
    )
    date = sig.credential_scope.split("/")[0]
    assert Sign.sign_tc3(secret_key, date, service, sig.string_to_sign) == sig.signature


@_SETTINGS
@given(
    secret_key=secret_keys,
    service=services,
    host=hosts,
    timestamp=timestamps,
    payload=st.binary(max_size=256) | json_texts.map(lambda t: t.encode("utf-8")),
    content_type=content_types,
    query_params=st.none() | st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=8)),
)
def test_canonicalisation_matches_sdk_get_tc3_signature(
    secret_key: str,
    service: str,
    host: str,
    timestamp: int,
    payload: bytes,
    content_type: str,
    query_params: Optional[dict[str, str]],
) -> None:
    # GET signs the query string and an empty body; POST signs the body bytes as they are,
    # including bytes that are not UTF-8.
    sdk_data: Union[bytes, str]  # the SDK keeps a GET query string in req.data
    if query_params is None:
        method, query, sdk_data, body = "POST", "", payload, payload
    else:
        method, query = "GET", urlencode(query_params)
        sdk_data, body = query, b""
    sig = sign_tc3(
        secret_id="AKIDx",
        secret_key=secret_key,
        service=service,
        host=host,
        timestamp=timestamp,
        payload=body,
        method=method,
        query=query,
        content_type=content_type,
    )
    req = RequestInternal(
        host,
        method,
        "/",
        header={"Content-Type": content_type, "Host": host, "X-TC-Timestamp": str(timestamp)},
        data=sdk_data,
    )
    client = AbstractClient(Credential("AKIDx", secret_key), "")
    date = sig.credential_scope.split("/")[0]
    with _network_forbidden():
        assert client._get_tc3_signature(None, req, date, service, secret_key) == sig.signature


@_SETTINGS
@given(
    secret_id=secret_ids,
    secret_key=secret_keys,
    token=tokens,
    service=services,
    host=hosts,
    action=actions,
    version=versions,
    region=regions,
    language=languages,
    timestamp=timestamps,
    body=json_texts,
)
def test_full_header_set_matches_sdk_for_any_body(
    secret_id: str,
    secret_key: str,
    token: Optional[str],
    service: str,
    host: str,
    action: str,
    version: str,
    region: Optional[str],
    language: Optional[str],
    timestamp: int,
    body: str,
) -> None:
    # The SDK serialises with json.dumps (ASCII only); hand it this body instead so that
    # non-ASCII UTF-8 bodies go through its whole header-building path too.
    with _network_forbidden():
        client = _sdk_client(
            secret_id=secret_id,
            secret_key=secret_key,
            token=token,
            service=service,
            host=host,
            version=version,
            region=region,
            language=language,
        )
        with mock.patch(
            "tencentcloud.common.abstract_client.json", SimpleNamespace(dumps=lambda _p: body)
        ):
            req = _sdk_build(client, action, {}, timestamp)
    sdk_headers = dict(req.header)
    sdk_headers.pop("X-TC-RequestClient")  # SDK identification, unsigned
    ours = tc3_headers(
        secret_id=secret_id,
        secret_key=secret_key,
        service=service,
        host=host,
        action=action,
        version=version,
        timestamp=timestamp,
        payload=body.encode("utf-8"),
        region=region,
        token=token,
        language=language,
    )
    assert ours["Authorization"] == sdk_headers["Authorization"]
    assert list(ours.items()) == list(sdk_headers.items())


@_SETTINGS
@given(
    secret_id=secret_ids,
    secret_key=secret_keys,
    region=regions,
    host=st.sampled_from(
        ["hunyuan.tencentcloudapi.com", "hunyuan.intl.tencentcloudapi.com"]
    )
    | hosts,
    timestamp=timestamps,
    params=json_objects,
)
def test_hunyuan_request_serialised_by_sdk_matches(
    secret_id: str,
    secret_key: str,
    region: Optional[str],
    host: str,
    timestamp: int,
    params: dict[str, Any],
) -> None:
    with _network_forbidden():
        client = _sdk_client(
            secret_id=secret_id,
            secret_key=secret_key,
            token=None,
            service="hunyuan",
            host=host,
            version="2023-09-01",
            region=region,
            language="zh-CN",
        )
        req = _sdk_build(client, "ChatCompletions", params, timestamp)
    assert isinstance(req.data, str)
    ours = tc3_headers(
        secret_id=secret_id,
        secret_key=secret_key,
        service="hunyuan",
        host=host,
        action="ChatCompletions",
        version="2023-09-01",
        timestamp=timestamp,
        payload=req.data.encode("utf-8"),
        region=region,
        language="zh-CN",
    )
    assert ours["Authorization"] == req.header["Authorization"]
    assert {k: v for k, v in req.header.items() if k != "X-TC-RequestClient"} == ours
