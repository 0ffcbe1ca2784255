"""Tests for llmplex.signing.spark (iFlytek Spark HMAC-SHA256 signed WebSocket URL).

Expected values are iFlytek's published examples as collected and re-verified in
shared/reference/vendors-spark-hunyuan.md §1.2, §1.3 and §3.2: S1 from "通用鉴权URL生成说明",
S4 from the Voiceprint API doc (same gateway, POST request line), S5 self-generated and checked
there against the official SDK. The property tests compare every URL with the official
``spark-ai-python`` signers, run unmodified with their clock frozen and sockets made to fail.
"""

from __future__ import annotations

import base64
import calendar
import contextlib
import email.utils
import hashlib
import hmac
import locale
import shutil
import socket
import subprocess
import time
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Callable, Iterator, List, Optional
from unittest import mock
from urllib.parse import parse_qsl, quote_plus, urlsplit
from wsgiref.handlers import format_date_time

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from llmplex.signing.spark import (
    REJECT_BAD_DATE,
    REJECT_CANNOT_VERIFY,
    REJECT_SIGNATURE_MISMATCH,
    REJECT_UNAUTHORIZED,
    REJECTION_HTTP_STATUS,
    redact_spark_url,
    rfc1123_date,
    sign_spark_url,
    verify_spark_url,
)

# --- S1: "通用鉴权URL生成说明" ------------------------------------------------------------
# Only this secret with /v1.1/chat reproduces the printed signature; the page's other copies
# print other secrets and keys next to the same signature (reference §1.3). The api_key is the
# one inside the printed authorization, not the APIKey variable the page shows.

S1_BASE = "wss://spark-api.xf-yun.com/v1.1/chat"
S1_KEY = "addd2272b6d8b7c8abdd79531420ca3b"
S1_SECRET = "MjlmNzkzNmZkMDQ2OTc0ZDdmNGE2ZTZi"
S1_TS = 1683283419
S1_DATE = "Fri, 05 May 2023 10:43:39 GMT"
S1_ORIGIN = (
    "host: spark-api.xf-yun.com\n"
    "date: Fri, 05 May 2023 10:43:39 GMT\n"
    "GET /v1.1/chat HTTP/1.1"
)
S1_SHA = (
    b"\xcf\x98\x07v\xed\xe9\xc5Ux\x0032\x93\x8e\xbb\xc0\xe5\x83C\xda\xba\x05\x0c\xd1\xdew\xccN7?\r\xa4"
)
S1_SIGNATURE = "z5gHdu3pxVV4ADMyk467wOWDQ9q6BQzR3nfMTjc/DaQ="
S1_AUTH_ORIGIN = (
    'api_key="addd2272b6d8b7c8abdd79531420ca3b", algorithm="hmac-sha256", '
    'headers="host date request-line", signature="z5gHdu3pxVV4ADMyk467wOWDQ9q6BQzR3nfMTjc/DaQ="'
)
S1_AUTHORIZATION = (
    "YXBpX2tleT0iYWRkZDIyNzJiNmQ4YjdjOGFiZGQ3OTUzMTQyMGNhM2IiLCBhbGdvcml0aG09ImhtYWMtc2hhMjU2Iiwg"
    "aGVhZGVycz0iaG9zdCBkYXRlIHJlcXVlc3QtbGluZSIsIHNpZ25hdHVyZT0iejVnSGR1M3B4VlY0QURNeWs0Njd3T1dE"
    "UTlxNkJRelIzbmZNVGpjL0RhUT0i"
)
S1_URL = (
    "wss://spark-api.xf-yun.com/v1.1/chat?authorization=" + S1_AUTHORIZATION
    + "&date=Fri%2C+05+May+2023+10%3A43%3A39+GMT&host=spark-api.xf-yun.com"
)

# --- S4: Voiceprint API doc (same gateway algorithm, POST) ----------------------------------

S4_BASE = "https://api.xf-yun.com/v1/private/s782b4996"
S4_KEY = "apikeyXXXXXXXXXXXXXXXXXXXXXXXXXX"
S4_SECRET = "apisecretXXXXXXXXXXXXXXXXXXXXXXX"
S4_TS = 1619145347
S4_DATE = "Fri, 23 Apr 2021 02:35:47 GMT"
S4_ORIGIN = "host: api.xf-yun.com\ndate: Fri, 23 Apr 2021 02:35:47 GMT\nPOST /v1/private/s782b4996 HTTP/1.1"
S4_SIGNATURE = "1jwQbIAKmQE7JwIH0IDxiC1pejrlN+VpHXDWOFVy5NM="
S4_AUTHORIZATION = (
    "YXBpX2tleT0iYXBpa2V5WFhYWFhYWFhYWFhYWFhYWFhYWFhYWFhYWFgiLCBhbGdvcml0aG09ImhtYWMtc2hhMjU2Iiwg"
    "aGVhZGVycz0iaG9zdCBkYXRlIHJlcXVlc3QtbGluZSIsIHNpZ25hdHVyZT0iMWp3UWJJQUttUUU3SndJSDBJRHhpQzFw"
    "ZWpybE4rVnBIWERXT0ZWeTVOTT0i"
)
# The doc prints its parameters in this order (and elides the authorization); order is free.
S4_DOC_QUERY = (
    "authorization=" + S4_AUTHORIZATION + "&host=api.xf-yun.com&date=Fri%2C+23+Apr+2021+02%3A35%3A47+GMT"
)

# --- S5: S1's key, secret and date on every current chat path (reference §1.3) --------------

S5_SIGNATURES = {
    "/v1.1/chat": "z5gHdu3pxVV4ADMyk467wOWDQ9q6BQzR3nfMTjc/DaQ=",
    "/v3.1/chat": "uW7tr6uABuQUxdQwwtoYNY2C7HDEB2/VqQ3CjYmgMYg=",
    "/chat/pro-128k": "x1eC0bv4yoPwfD1YPzbkUaTTtBOnnp34tFITzC2Jqcc=",
    "/v3.5/chat": "9s5gABpQIH+9wiR0dmxhlVY3Cqw34SFim12TmXSwVKc=",
    "/chat/max-32k": "sq19AjYt+EC5SQWDhkY6/YXpGBPaMo7NWibDHMGfLFY=",
    "/v4.0/chat": "XruyxBmGpK48Gv2TcB2xHzrKYcdGIm5uf6XRNt8N0Dk=",
}

# Base64 of ASCII text only yields "+" or "/" where the origin has "~", "?", ">" or DEL in the
# third byte of a triple, so hex keys never produce them: this key forces both, and its length
# forces "=" padding. Generated here; the SDK property test below covers the same code path.
TRAP_KEY = "~~~???"
TRAP_AUTHORIZATION = (
    "YXBpX2tleT0ifn5+Pz8/IiwgYWxnb3JpdGhtPSJobWFjLXNoYTI1NiIsIGhlYWRlcnM9Imhvc3QgZGF0ZSByZXF1ZXN0"
    "LWxpbmUiLCBzaWduYXR1cmU9IjlzNWdBQnBRSUgrOXdpUjBkbXhobFZZM0NxdzM0U0ZpbTEyVG1YU3dWS2M9Ig=="
)
TRAP_URL = (
    "wss://spark-api.xf-yun.com/v3.5/chat?authorization="
    "YXBpX2tleT0ifn5%2BPz8%2FIiwgYWxnb3JpdGhtPSJobWFjLXNoYTI1NiIsIGhlYWRlcnM9Imhvc3QgZGF0ZSByZXF1ZXN0"
    "LWxpbmUiLCBzaWduYXR1cmU9IjlzNWdBQnBRSUgrOXdpUjBkbXhobFZZM0NxdzM0U0ZpbTEyVG1YU3dWS2M9Ig%3D%3D"
    "&date=Fri%2C+05+May+2023+10%3A43%3A39+GMT&host=spark-api.xf-yun.com"
)

MAX_TS = 253402300800  # 10000-01-01T00:00:00Z


def _query_pairs(url: str) -> List[str]:
    """The raw, still-encoded ``name=value`` pieces of a URL's query."""
    return urlsplit(url).query.split("&")


def _raw_param(url: str, name: str) -> str:
    for pair in _query_pairs(url):
        key, _, value = pair.partition("=")
        if key == name:
            return value
    raise KeyError(name)


def _decoded_auth_origin(url: str) -> str:
    return base64.b64decode(dict(parse_qsl(urlsplit(url).query))["authorization"]).decode("utf-8")


def _with_authorization(url: str, authorization: str) -> str:
    """``url`` with its authorization value replaced, everything else byte for byte."""
    pairs = [
        f"authorization={quote_plus(authorization)}" if p.startswith("authorization=") else p
        for p in _query_pairs(url)
    ]
    return url.partition("?")[0] + "?" + "&".join(pairs)


def _auth_b64(origin: str) -> str:
    return base64.b64encode(origin.encode("utf-8")).decode("ascii")


# --- 1. Official iFlytek vectors ------------------------------------------------------------


def test_s1_documented_vector_every_stage() -> None:
    signed = sign_spark_url(S1_BASE, api_key=S1_KEY, api_secret=S1_SECRET, timestamp=S1_TS)
    assert signed.date == S1_DATE
    assert signed.signature_origin == S1_ORIGIN
    # The doc prints the raw HMAC bytes too; they must be what the signature encodes.
    assert base64.b64decode(signed.signature) == S1_SHA
    assert signed.signature == S1_SIGNATURE
    assert len(signed.signature) == 44  # the "鉴权结果" table expects 44 bytes
    assert _decoded_auth_origin(signed.url) == S1_AUTH_ORIGIN
    assert signed.authorization == S1_AUTHORIZATION
    assert signed.url == S1_URL


def test_s1_other_printed_secrets_do_not_reproduce_the_signature() -> None:
    # Guards the trap the reference found: copying the other copies' inputs gives other bytes.
    for secret in ("MGJlZDdhM2EzZjZlODE5ZjA4Nzk1NGVm", "Njg5NjhiMDRmMGJmNWM2MDNlMmJlOGVi"):
        signed = sign_spark_url(S1_BASE, api_key=S1_KEY, api_secret=secret, timestamp=S1_TS)
        assert signed.signature != S1_SIGNATURE


def test_s4_voiceprint_vector_post_over_https() -> None:
    signed = sign_spark_url(
        S4_BASE, api_key=S4_KEY, api_secret=S4_SECRET, timestamp=S4_TS, method="POST"
    )
    assert signed.date == S4_DATE
    assert signed.signature_origin == S4_ORIGIN
    assert signed.signature == S4_SIGNATURE
    assert signed.authorization == S4_AUTHORIZATION
    assert signed.url == (
        S4_BASE + "?authorization=" + S4_AUTHORIZATION
        + "&date=Fri%2C+23+Apr+2021+02%3A35%3A47+GMT&host=api.xf-yun.com"
    )
    # Same encoded parameters as the doc's URL, which lists them in another order.
    assert sorted(_query_pairs(signed.url)) == sorted(S4_DOC_QUERY.split("&"))


@pytest.mark.parametrize("path", sorted(S5_SIGNATURES))
def test_s5_every_chat_path(path: str) -> None:
    base = "wss://spark-api.xf-yun.com" + path
    signed = sign_spark_url(base, api_key=S1_KEY, api_secret=S1_SECRET, timestamp=S1_TS)
    assert signed.signature_origin == f"host: spark-api.xf-yun.com\ndate: {S1_DATE}\nGET {path} HTTP/1.1"
    assert signed.signature == S5_SIGNATURES[path]
    auth = _auth_b64(
        f'api_key="{S1_KEY}", algorithm="hmac-sha256", headers="host date request-line", '
        f'signature="{S5_SIGNATURES[path]}"'
    )
    assert signed.authorization == auth
    assert signed.url == (
        base + "?authorization=" + quote_plus(auth)
        + "&date=Fri%2C+05+May+2023+10%3A43%3A39+GMT&host=spark-api.xf-yun.com"
    )


# --- 2. Query encoding traps ----------------------------------------------------------------


def test_date_spaces_commas_colons_are_form_encoded() -> None:
    url = sign_spark_url(S1_BASE, api_key=S1_KEY, api_secret=S1_SECRET, timestamp=S1_TS).url
    # Space -> "+", not "%20"; "," -> "%2C"; ":" -> "%3A". That is urlencode/quote_plus, the
    # same as Java URLEncoder and Go url.Values, so every official client agrees.
    assert _raw_param(url, "date") == "Fri%2C+05+May+2023+10%3A43%3A39+GMT"
    assert "%20" not in url


def test_base64_plus_slash_equals_are_percent_encoded() -> None:
    signed = sign_spark_url(
        "wss://spark-api.xf-yun.com/v3.5/chat", api_key=TRAP_KEY, api_secret=S1_SECRET, timestamp=S1_TS
    )
    assert {"+", "/", "="} <= set(signed.authorization)
    assert signed.authorization == TRAP_AUTHORIZATION
    raw = _raw_param(signed.url, "authorization")
    assert "%2B" in raw and "%2F" in raw and raw.endswith("%3D%3D")
    assert not {"+", "/", "="} & set(raw)
    assert signed.url == TRAP_URL


def test_an_unencoded_plus_reaches_the_server_as_a_space_and_fails() -> None:
    good = sign_spark_url(
        "wss://spark-api.xf-yun.com/v3.5/chat", api_key=TRAP_KEY, api_secret=S1_SECRET, timestamp=S1_TS
    )
    naive = good.url.replace(_raw_param(good.url, "authorization"), good.authorization)
    assert "+" in _raw_param(naive, "authorization")
    assert verify_spark_url(good.url, api_key=TRAP_KEY, api_secret=S1_SECRET, now=S1_TS) is None
    # The server decodes "+" to a space, which is not base64: the authorization is unreadable.
    assert (
        verify_spark_url(naive, api_key=TRAP_KEY, api_secret=S1_SECRET, now=S1_TS)
        == REJECT_CANNOT_VERIFY
    )


def test_host_with_port_is_signed_and_encoded_as_written() -> None:
    signed = sign_spark_url(
        "ws://127.0.0.1:8765/v3.5/chat", api_key=S1_KEY, api_secret=S1_SECRET, timestamp=S1_TS
    )
    assert signed.signature_origin.startswith("host: 127.0.0.1:8765\n")
    assert _raw_param(signed.url, "host") == "127.0.0.1%3A8765"
    assert signed.url.startswith("ws://127.0.0.1:8765/v3.5/chat?authorization=")


def test_parameter_order_is_the_docs() -> None:
    url = sign_spark_url(S1_BASE, api_key=S1_KEY, api_secret=S1_SECRET, timestamp=S1_TS).url
    assert [p.partition("=")[0] for p in _query_pairs(url)] == ["authorization", "date", "host"]


# --- 3. Cross-check with the official SDK (spark-ai-python) ---------------------------------


@pytest.fixture(scope="module")
def sdk() -> SimpleNamespace:
    # Every SDK signer the reference names. Only the modules: nothing is instantiated, so no
    # client, thread or socket exists.
    return SimpleNamespace(
        llm=pytest.importorskip("sparkai.llm.llm"),
        llm_v2=pytest.importorskip("sparkai.v2.llm.llm"),
        xf_util=pytest.importorskip("sparkai.xf_util"),
        spark_auth=pytest.importorskip("sparkai.spark_proxy.spark_auth"),
    )


@contextlib.contextmanager
def _no_network() -> Iterator[None]:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the Spark signing tests must not open a network connection")

    with mock.patch.object(socket.socket, "connect", refuse), mock.patch.object(
        socket.socket, "connect_ex", refuse
    ), mock.patch.object(socket, "create_connection", refuse), mock.patch.object(
        socket, "getaddrinfo", refuse
    ):
        yield


class _FrozenNow:
    """Stands in for ``datetime.datetime`` where the SDK only calls ``now()``."""

    def __init__(self, instant: datetime) -> None:
        self.instant = instant
        self.calls = 0

    def now(self, tz: Any = None) -> datetime:
        assert tz is None, "the SDK is expected to read naive local time"
        self.calls += 1
        return self.instant


@contextlib.contextmanager
def _frozen_sdk_clock(sdk: SimpleNamespace, seconds: int, micros: int) -> Iterator[List[_FrozenNow]]:
    """Freeze ``mktime(datetime.now().timetuple())``, the SDK's only clock read, at ``seconds``.

    The SDK reads naive local time and turns it back into epoch seconds with ``mktime``. Here
    local time is UTC and ``mktime`` is ``calendar.timegm``: the same round trip with no DST
    gap or fold, so the machine's time zone cannot make an example flaky. ``format_date_time``
    stays the SDK's own, so its date formatting is part of what is compared.
    """
    instant = datetime(1970, 1, 1) + timedelta(seconds=seconds, microseconds=micros)
    clocks = [_FrozenNow(instant) for _ in range(4)]
    llm_clock, v2_clock, xf_clock, auth_clock = clocks
    with contextlib.ExitStack() as stack:
        for module, clock in ((sdk.llm, llm_clock), (sdk.llm_v2, v2_clock), (sdk.xf_util, xf_clock)):
            stack.enter_context(mock.patch.object(module, "datetime", clock))
            stack.enter_context(mock.patch.object(module, "mktime", calendar.timegm))
        # spark_auth calls datetime.datetime.now() and time.mktime() through the modules.
        stack.enter_context(
            mock.patch.object(sdk.spark_auth, "datetime", SimpleNamespace(datetime=auth_clock))
        )
        stack.enter_context(
            mock.patch.object(
                sdk.spark_auth, "time", SimpleNamespace(mktime=calendar.timegm, gmtime=time.gmtime)
            )
        )
        stack.enter_context(_no_network())
        yield clocks


_HEX = "0123456789abcdef"
_LABEL = st.from_regex(r"[a-z0-9](?:[a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
_HOSTNAME = st.lists(_LABEL, min_size=1, max_size=4).map(".".join)
# ";" is left out on purpose: llm._create_url splits ";params" off the last segment with
# urlparse, signs the path without it and then puts it back in the URL, so the SDK's own
# signature would not match what its client sends. llmplex signs the whole path.
_PCHAR = st.sampled_from(list("ABCXYZabcxyz0189-._~!$&'()*+,=:@"))
_PCT = st.tuples(st.sampled_from(_HEX + "ABCDEF"), st.sampled_from(_HEX + "ABCDEF")).map(
    lambda t: "%" + t[0] + t[1]
)
_SEGMENT = st.lists(st.one_of(_PCHAR, _PCT), max_size=8).map("".join)
_PATH = st.lists(_SEGMENT, min_size=1, max_size=4).map(lambda segs: "/" + "/".join(segs))
_API_KEY = st.one_of(
    st.text(_HEX, min_size=32, max_size=32),
    st.text(
        st.characters(exclude_categories=["Cc", "Cs"], exclude_characters='"'),
        min_size=1,
        max_size=40,
    ),
)
_API_SECRET = st.one_of(
    st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=32, max_size=32),
    st.text(st.characters(exclude_categories=["Cs"]), min_size=1, max_size=64),
)
_SECONDS = st.integers(0, MAX_TS - 1)
_MICROS = st.integers(0, 999_999)


@settings(max_examples=150, deadline=None)
@given(
    scheme=st.sampled_from(["wss", "ws"]),
    hostname=_HOSTNAME,
    port=st.one_of(st.none(), st.integers(1, 65535)),
    path=_PATH,
    api_key=_API_KEY,
    api_secret=_API_SECRET,
    seconds=_SECONDS,
    micros=_MICROS,
    method=st.sampled_from(["GET", "POST"]),
)
def test_matches_official_sdk_byte_for_byte(
    sdk: SimpleNamespace,
    scheme: str,
    hostname: str,
    port: Optional[int],
    path: str,
    api_key: str,
    api_secret: str,
    seconds: int,
    micros: int,
    method: str,
) -> None:
    timestamp = seconds + micros / 1_000_000
    # A float this large may round up to the next second; that is a property of the float,
    # not of either signer, so such draws say nothing.
    assume(int(timestamp) == seconds)
    netloc = hostname if port is None else f"{hostname}:{port}"
    base = f"{scheme}://{netloc}{path}"

    ours = sign_spark_url(base, api_key=api_key, api_secret=api_secret, timestamp=timestamp, method=method)
    ours_get = sign_spark_url(base, api_key=api_key, api_secret=api_secret, timestamp=timestamp)

    with _frozen_sdk_clock(sdk, seconds, micros) as clocks:
        via_spark_auth = sdk.spark_auth.create_url(netloc, path, api_key, api_secret, base)
        via_llm = sdk.llm._SparkLLMClient._create_url(base, api_key, api_secret, method)
        via_llm_v2 = sdk.llm_v2._SparkLLMClient._create_url(base, api_key, api_secret, method)
        via_xf_util = (
            # xf_util signs urlparse().hostname, which drops the port; with a port it signs a
            # host its own client never sends, so compare only where it is meaningful.
            sdk.xf_util.build_auth_request_url(base, method, api_key, api_secret)
            if port is None
            else None
        )
    # Each SDK path read the frozen clock, so the equality below is not a coincidence.
    assert [c.calls for c in clocks] == [1, 1, int(port is None), 1]

    # spark_proxy/spark_auth.py emits the documented authorization: identical URL.
    assert via_spark_auth == ours_get.url

    # llm._create_url's f-string has a backslash line continuation that puts 9 spaces before
    # headers="...". Byte for byte, the SDK's URL is ours with exactly that difference.
    ours_origin = _decoded_auth_origin(ours.url)
    sdk_origin = ours_origin.replace('", headers="', '",' + " " * 9 + 'headers="', 1)
    assert sdk_origin != ours_origin
    expected_llm_url = _with_authorization(ours.url, _auth_b64(sdk_origin))
    assert via_llm == expected_llm_url
    assert via_llm_v2 == expected_llm_url
    # Spark accepts the SDK's spacing, so the local verifier must too.
    assert verify_spark_url(
        via_llm, api_key=api_key, api_secret=api_secret, now=timestamp, method=method
    ) is None

    if via_xf_util is not None:
        # Same encoded pairs, in xf_util's order host, date, authorization.
        by_name = {p.partition("=")[0]: p for p in _query_pairs(ours.url)}
        expected = base + "?" + "&".join(by_name[n] for n in ("host", "date", "authorization"))
        assert via_xf_util == expected


def test_sdk_reproduces_the_documented_url(sdk: SimpleNamespace) -> None:
    with _frozen_sdk_clock(sdk, S1_TS, 0):
        sdk_url = sdk.spark_auth.create_url(
            "spark-api.xf-yun.com", "/v1.1/chat", S1_KEY, S1_SECRET, S1_BASE
        )
        trap_url = sdk.spark_auth.create_url(
            "spark-api.xf-yun.com",
            "/v3.5/chat",
            TRAP_KEY,
            S1_SECRET,
            "wss://spark-api.xf-yun.com/v3.5/chat",
        )
    assert sdk_url == S1_URL
    assert trap_url == TRAP_URL


# --- 4. verify_spark_url --------------------------------------------------------------------


def _s1(**overrides: Any) -> str:
    args: dict[str, Any] = dict(api_key=S1_KEY, api_secret=S1_SECRET, timestamp=S1_TS)
    args.update(overrides)
    return sign_spark_url(args.pop("base", S1_BASE), **args).url


def _verify(url: str, **overrides: Any) -> Optional[str]:
    args: dict[str, Any] = dict(api_key=S1_KEY, api_secret=S1_SECRET, now=S1_TS)
    args.update(overrides)
    return verify_spark_url(url, **args)


def _drop_param(url: str, name: str) -> str:
    kept = [p for p in _query_pairs(url) if p.partition("=")[0] != name]
    return url.partition("?")[0] + "?" + "&".join(kept)


def _set_param(url: str, name: str, raw_value: str) -> str:
    pairs = [f"{name}={raw_value}" if p.partition("=")[0] == name else p for p in _query_pairs(url)]
    return url.partition("?")[0] + "?" + "&".join(pairs)


def test_verify_accepts_the_documented_url() -> None:
    assert _verify(S1_URL) is None


def test_verify_accepts_the_request_target_a_server_sees() -> None:
    target = S1_URL.split("spark-api.xf-yun.com", 1)[1]
    assert target.startswith("/v1.1/chat?")
    assert _verify(target) is None


@pytest.mark.parametrize("offset", [-300, -299.5, 0, 0.999, 300])
def test_verify_accepts_any_clock_within_the_skew(offset: float) -> None:
    assert _verify(S1_URL, now=S1_TS + offset) is None


@pytest.mark.parametrize("offset", [300.001, 301, 86400, -300.001, -301, -86400])
def test_verify_rejects_stale_and_future_dates(offset: float) -> None:
    assert _verify(S1_URL, now=S1_TS + offset) == REJECT_BAD_DATE
    assert REJECTION_HTTP_STATUS[REJECT_BAD_DATE] == 403


def test_verify_honours_max_skew() -> None:
    assert _verify(S1_URL, now=S1_TS + 10, max_skew=10) is None
    assert _verify(S1_URL, now=S1_TS + 11, max_skew=10) == REJECT_BAD_DATE
    assert _verify(S1_URL, now=S1_TS - 11, max_skew=10) == REJECT_BAD_DATE
    with pytest.raises(ValueError):
        _verify(S1_URL, max_skew=-1)
    with pytest.raises(ValueError):
        _verify(S1_URL, now=float("nan"))


def test_verify_rejects_a_tampered_signature() -> None:
    origin = _decoded_auth_origin(S1_URL)
    flipped = S1_SIGNATURE[0].swapcase() + S1_SIGNATURE[1:]
    tampered = _with_authorization(S1_URL, _auth_b64(origin.replace(S1_SIGNATURE, flipped)))
    assert _verify(tampered) == REJECT_SIGNATURE_MISMATCH
    assert REJECTION_HTTP_STATUS[REJECT_SIGNATURE_MISMATCH] == 401


def test_verify_rejects_a_wrong_secret() -> None:
    assert _verify(S1_URL, api_secret=S1_SECRET + "x") == REJECT_SIGNATURE_MISMATCH
    assert _verify(_s1(api_secret="not-the-secret")) == REJECT_SIGNATURE_MISMATCH


def test_verify_rejects_an_unknown_api_key() -> None:
    # The gateway looks the key up before it checks the signature.
    assert _verify(S1_URL, api_key="someone-else") == REJECT_CANNOT_VERIFY


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(lambda u: u.replace("/v1.1/chat", "/v3.5/chat"), id="path"),
        pytest.param(lambda u: _set_param(u, "host", "evil.example"), id="host"),
        pytest.param(
            lambda u: _set_param(u, "date", quote_plus("Fri, 05 May 2023 10:43:40 GMT")), id="date"
        ),
    ],
)
def test_verify_rejects_any_signed_field_changed(tamper: Callable[[str], str]) -> None:
    tampered = tamper(S1_URL)
    assert tampered != S1_URL
    assert _verify(tampered) == REJECT_SIGNATURE_MISMATCH


def test_verify_checks_the_method() -> None:
    assert _verify(S1_URL, method="POST") == REJECT_SIGNATURE_MISMATCH
    s4 = sign_spark_url(S4_BASE, api_key=S4_KEY, api_secret=S4_SECRET, timestamp=S4_TS, method="POST")
    assert verify_spark_url(s4.url, api_key=S4_KEY, api_secret=S4_SECRET, now=S4_TS, method="POST") is None


def test_verify_missing_parameters() -> None:
    assert _verify(_drop_param(S1_URL, "authorization")) == REJECT_UNAUTHORIZED
    assert _verify(S1_URL.partition("?")[0]) == REJECT_UNAUTHORIZED
    assert _verify(_drop_param(S1_URL, "date")) == REJECT_BAD_DATE
    assert _verify(_drop_param(S1_URL, "host")) == REJECT_CANNOT_VERIFY
    assert REJECTION_HTTP_STATUS[REJECT_UNAUTHORIZED] == 401
    assert REJECTION_HTTP_STATUS[REJECT_CANNOT_VERIFY] == 401


def test_verify_duplicated_parameters_are_ambiguous() -> None:
    assert _verify(S1_URL + "&authorization=" + S1_AUTHORIZATION) == REJECT_CANNOT_VERIFY
    assert _verify(S1_URL + "&date=" + _raw_param(S1_URL, "date")) == REJECT_BAD_DATE
    assert _verify(S1_URL + "&host=spark-api.xf-yun.com") == REJECT_CANNOT_VERIFY


@pytest.mark.parametrize(
    "origin",
    [
        'api_key="addd2272b6d8b7c8abdd79531420ca3b", algorithm="hmac-sha1", '
        'headers="host date request-line", signature="z5gHdu3pxVV4ADMyk467wOWDQ9q6BQzR3nfMTjc/DaQ="',
        'api_key="addd2272b6d8b7c8abdd79531420ca3b", algorithm="hmac-sha256", '
        'headers="host date", signature="z5gHdu3pxVV4ADMyk467wOWDQ9q6BQzR3nfMTjc/DaQ="',
        'api_key="addd2272b6d8b7c8abdd79531420ca3b", algorithm="hmac-sha256", '
        'headers="host date request-line"',
        'algorithm="hmac-sha256", headers="host date request-line", '
        'signature="z5gHdu3pxVV4ADMyk467wOWDQ9q6BQzR3nfMTjc/DaQ="',
        "not a key=value list",
        "",
    ],
    ids=["algorithm", "headers", "no-signature", "no-key", "garbage", "empty"],
)
def test_verify_rejects_unparseable_authorization(origin: str) -> None:
    assert _verify(_with_authorization(S1_URL, _auth_b64(origin))) == REJECT_CANNOT_VERIFY


def test_verify_rejects_authorization_that_is_not_base64() -> None:
    assert _verify(_set_param(S1_URL, "authorization", "%%%not-base64")) == REJECT_CANNOT_VERIFY
    assert _verify(_set_param(S1_URL, "authorization", "")) == REJECT_CANNOT_VERIFY


@pytest.mark.parametrize(
    "date",
    [
        "Fri, 05 May 2023 10:43:39",  # no zone
        "Fri, 05 May 2023 10:43:39 CST",
        "Thu, 05 May 2023 10:43:39 GMT",  # weekday disagrees with the date
        "Fr, 05 Mai 2023 10:43:39 GMT",  # a German-locale strftime
        "2023-05-05T10:43:39Z",
        "Fri, 31 Feb 2023 10:43:39 GMT",
        "1683283419",
    ],
)
def test_verify_rejects_malformed_dates(date: str) -> None:
    assert _verify(_set_param(S1_URL, "date", quote_plus(date))) == REJECT_BAD_DATE


def test_verify_checks_the_date_before_the_key() -> None:
    # Kong's order: a stale date is reported even when the key is wrong too, so a client
    # knows to fix its clock first.
    assert _verify(S1_URL, api_key="someone-else", now=S1_TS + 3600) == REJECT_BAD_DATE


def test_verify_accepts_variants_shipped_by_official_and_gateway_clients() -> None:
    sdk_spacing = S1_AUTH_ORIGIN.replace(", headers=", "," + " " * 9 + "headers=")
    kong_username = S1_AUTH_ORIGIN.replace("api_key=", "hmac username=")
    for origin in (sdk_spacing, kong_username):
        assert _verify(_with_authorization(S1_URL, _auth_b64(origin))) is None

    # websdk-java formats the date with zone "UTC"; the gateway accepts it.
    date_utc = "Fri, 05 May 2023 10:43:39 UTC"
    java = sign_spark_url(S1_BASE, api_key=S1_KEY, api_secret=S1_SECRET, timestamp=S1_TS)
    origin = java.signature_origin.replace(S1_DATE, date_utc)
    sig = base64.b64encode(
        hmac.new(S1_SECRET.encode(), origin.encode(), hashlib.sha256).digest()
    ).decode()
    url = _set_param(
        _with_authorization(S1_URL, _auth_b64(S1_AUTH_ORIGIN.replace(S1_SIGNATURE, sig))),
        "date",
        quote_plus(date_utc),
    )
    assert _verify(url) is None


@settings(max_examples=100, deadline=None)
@given(
    hostname=_HOSTNAME,
    port=st.one_of(st.none(), st.integers(1, 65535)),
    path=_PATH,
    api_key=_API_KEY,
    api_secret=_API_SECRET,
    timestamp=st.integers(0, MAX_TS - 1),
    lag=st.floats(-300, 300),
)
def test_verify_round_trip(
    hostname: str,
    port: Optional[int],
    path: str,
    api_key: str,
    api_secret: str,
    timestamp: int,
    lag: float,
) -> None:
    netloc = hostname if port is None else f"{hostname}:{port}"
    url = sign_spark_url(f"wss://{netloc}{path}", api_key=api_key, api_secret=api_secret, timestamp=timestamp).url
    assert verify_spark_url(url, api_key=api_key, api_secret=api_secret, now=timestamp + lag) is None
    assert (
        verify_spark_url(url, api_key=api_key, api_secret=api_secret + "!", now=timestamp)
        == REJECT_SIGNATURE_MISMATCH
    )


# --- 5. rfc1123_date ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timestamp", "expected"),
    [
        (1562744143, "Wed, 10 Jul 2019 07:35:43 GMT"),
        (S1_TS, S1_DATE),
        (S4_TS, S4_DATE),
        (0, "Thu, 01 Jan 1970 00:00:00 GMT"),
        (951782400, "Tue, 29 Feb 2000 00:00:00 GMT"),
        (MAX_TS - 1, "Fri, 31 Dec 9999 23:59:59 GMT"),
        # Fractions are floored, like time.gmtime and so like the SDK.
        (S1_TS + 0.999, S1_DATE),
        (float(S1_TS), S1_DATE),
    ],
)
def test_rfc1123_date_examples(timestamp: float, expected: str) -> None:
    assert rfc1123_date(timestamp) == expected


@given(st.one_of(st.integers(0, MAX_TS - 1), st.floats(0, MAX_TS - 1)))
def test_rfc1123_date_matches_wsgiref(timestamp: float) -> None:
    # What every official Python signer uses; it floors fractions through time.gmtime.
    assert rfc1123_date(timestamp) == format_date_time(timestamp)


@given(st.integers(0, MAX_TS - 1))
def test_rfc1123_date_matches_email_utils(timestamp: int) -> None:
    # Integers only: formatdate rounds fractions to the microsecond, so x.9999999 would
    # become the next second there while the SDK (and we) floor it.
    assert rfc1123_date(timestamp) == email.utils.formatdate(timestamp, usegmt=True)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1, -0.5, MAX_TS, 1e20])
def test_rfc1123_date_rejects_out_of_range(bad: float) -> None:
    with pytest.raises(ValueError):
        rfc1123_date(bad)


@pytest.mark.parametrize("bad", [True, "1683283419", None])
def test_rfc1123_date_rejects_non_numbers(bad: Any) -> None:
    with pytest.raises(TypeError):
        rfc1123_date(bad)


def test_rfc1123_date_never_uses_strftime() -> None:
    # datetime.strftime goes through time.strftime, the locale-dependent path.
    with mock.patch.object(time, "strftime", side_effect=AssertionError("locale-dependent")):
        assert rfc1123_date(S1_TS) == S1_DATE


@pytest.mark.skipif(not hasattr(time, "tzset"), reason="time.tzset is Unix-only")
@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York", "UTC+14"])
def test_rfc1123_date_ignores_the_local_time_zone(zone: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TZ", zone)
    time.tzset()
    try:
        assert rfc1123_date(S1_TS) == S1_DATE
        assert sign_spark_url(S1_BASE, api_key=S1_KEY, api_secret=S1_SECRET, timestamp=S1_TS).url == S1_URL
    finally:
        monkeypatch.undo()
        time.tzset()


_FOREIGN_LOCALES = ("de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "fr_FR.utf8", "zh_CN.UTF-8", "ja_JP.UTF-8")


def _try_foreign_locale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Optional[str]:
    for name in _FOREIGN_LOCALES:
        with contextlib.suppress(locale.Error):
            return locale.setlocale(locale.LC_TIME, name)
    # Minimal images ship only C/POSIX. glibc can load a locale compiled into LOCPATH, so
    # build de_DE locally when its source is present rather than skip the test everywhere.
    localedef = shutil.which("localedef")
    if localedef is None or not Path("/usr/share/i18n/locales/de_DE").exists():
        return None
    out = tmp_path / "locales"
    out.mkdir()
    subprocess.run(
        [localedef, "-i", "de_DE", "-f", "UTF-8", str(out / "de_DE.UTF-8")],
        capture_output=True,
        timeout=120,
    )
    if not (out / "de_DE.UTF-8").exists():
        return None
    monkeypatch.setenv("LOCPATH", str(out))
    with contextlib.suppress(locale.Error):
        return locale.setlocale(locale.LC_TIME, "de_DE.UTF-8")
    return None


def test_rfc1123_date_ignores_the_locale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    saved = locale.setlocale(locale.LC_TIME)
    try:
        if _try_foreign_locale(tmp_path, monkeypatch) is None:
            pytest.skip("no non-English LC_TIME locale available")
        # May in German, French, Chinese and Japanese is not "May": prove the locale took hold.
        assert time.strftime("%b", time.gmtime(S1_TS)) != "May"
        assert rfc1123_date(S1_TS) == S1_DATE
        assert sign_spark_url(S1_BASE, api_key=S1_KEY, api_secret=S1_SECRET, timestamp=S1_TS).url == S1_URL
    finally:
        locale.setlocale(locale.LC_TIME, saved)


# --- sign_spark_url input checks ------------------------------------------------------------


@pytest.mark.parametrize(
    "base",
    [
        "wss://spark-api.xf-yun.com/v1.1/chat?x=1",
        "wss://spark-api.xf-yun.com/v1.1/chat?",
        "wss://spark-api.xf-yun.com/v1.1/chat#frag",
        "ftp://spark-api.xf-yun.com/v1.1/chat",
        "spark-api.xf-yun.com/v1.1/chat",
        "wss:///v1.1/chat",
        "wss://user:pw@spark-api.xf-yun.com/v1.1/chat",
        "wss://spark-api.xf-yun.com/v1.1/chat ",
        " wss://spark-api.xf-yun.com/v1.1/chat",
        "wss://spark-api.xf-yun.com/v1.1/\tchat",
        "wss://spark-api.xf-yun.com/v1.1/ch at",
        "wss://spark-api.xf-yun.com/v1.1/聊天",
        "wss://spark-api.xf-yun.com/v1.1/%zz",
        "wss://spärk-api.xf-yun.com/v1.1/chat",
    ],
)
def test_sign_rejects_urls_it_cannot_sign_faithfully(base: str) -> None:
    with pytest.raises(ValueError):
        sign_spark_url(base, api_key=S1_KEY, api_secret=S1_SECRET, timestamp=S1_TS)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"api_key": ""},
        {"api_key": 'a"b'},
        {"api_key": "a\nb"},
        {"api_key": "\ud800"},
        {"api_secret": ""},
        {"api_secret": "\udfff"},
        {"method": "GET /x"},
        {"method": ""},
    ],
)
def test_sign_rejects_bad_credentials_and_methods(kwargs: dict[str, str]) -> None:
    args: dict[str, Any] = dict(api_key=S1_KEY, api_secret=S1_SECRET, timestamp=S1_TS)
    args.update(kwargs)
    with pytest.raises(ValueError):
        sign_spark_url(S1_BASE, **args)


def test_empty_path_is_signed_as_slash() -> None:
    signed = sign_spark_url("wss://spark-api.xf-yun.com", api_key=S1_KEY, api_secret=S1_SECRET, timestamp=S1_TS)
    assert signed.signature_origin.endswith("\nGET / HTTP/1.1")
    assert signed.url.startswith("wss://spark-api.xf-yun.com/?authorization=")


def test_sign_is_pure() -> None:
    with mock.patch.object(time, "time", side_effect=AssertionError("clock read")):
        first = sign_spark_url(S1_BASE, api_key=S1_KEY, api_secret=S1_SECRET, timestamp=S1_TS)
    assert first == sign_spark_url(S1_BASE, api_key=S1_KEY, api_secret=S1_SECRET, timestamp=S1_TS)


# --- Secrets stay out of logs ---------------------------------------------------------------


def test_signed_url_holds_and_shows_no_secret() -> None:
    signed = sign_spark_url(S1_BASE, api_key=S1_KEY, api_secret=S1_SECRET, timestamp=S1_TS)
    text = repr(signed)
    assert S1_SECRET not in text
    assert S1_AUTHORIZATION not in text
    assert S1_SIGNATURE not in text
    assert S1_DATE in text and "GET /v1.1/chat HTTP/1.1" in text
    assert str(signed) == text
    assert S1_SECRET not in str(vars(signed))
    assert set(vars(signed)) == {"url", "date", "signature_origin", "signature"}
    with pytest.raises(AttributeError):
        signed.url = "x"  # type: ignore[misc]


def test_redact_replaces_only_the_authorization_value() -> None:
    redacted = redact_spark_url(S1_URL)
    assert redacted == (
        "wss://spark-api.xf-yun.com/v1.1/chat?authorization=***"
        "&date=Fri%2C+05+May+2023+10%3A43%3A39+GMT&host=spark-api.xf-yun.com"
    )
    assert S1_AUTHORIZATION not in redacted


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("wss://h/p", "wss://h/p"),
        ("wss://h/p?date=x&host=h", "wss://h/p?date=x&host=h"),
        ("wss://h/p?host=h&authorization=abc", "wss://h/p?host=h&authorization=***"),
        ("wss://h/p?authorization=a&authorization=b", "wss://h/p?authorization=***&authorization=***"),
        ("wss://h/p?authorizatio%6E=abc&x=1#frag", "wss://h/p?authorizatio%6E=***&x=1#frag"),
        ("wss://h/p?Authorization=abc", "wss://h/p?Authorization=***"),
        ("wss://h/p?authorization", "wss://h/p?authorization=***"),
        ("/v1.1/chat?authorization=abc&date=d", "/v1.1/chat?authorization=***&date=d"),
        ("", ""),
        ("?", "?"),
    ],
)
def test_redact_cases(url: str, expected: str) -> None:
    assert redact_spark_url(url) == expected


@given(st.text())
def test_redact_never_raises(url: str) -> None:
    redact_spark_url(url)

