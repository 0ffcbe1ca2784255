"""``bce-auth-v1``: Baidu's published worked example byte for byte, and agreement with Baidu's own
signer (``bce-python-sdk``'s ``bce_v1_signer.sign``) on random requests."""

from __future__ import annotations

from typing import Dict, List

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llmplex.signing.bce import bce_timestamp, sign_bce, uri_encode

# Reference vendors.md §12.2 (doc "Sample-Code" + "Include the Authentication String into the Header").
AK = "a" * 32
SK = "b" * 32
EXAMPLE_TIME = 1430123029
EXAMPLE_HEADERS = {
    "Host": "bj.bcebos.com",
    "Content-Type": "text/plain",
    "Content-Length": "8",
    "Content-Md5": "NFzcPqhviddjRNnSOGo4rw==",
    "x-bce-date": "2015-04-27T08:23:49Z",
}
EXAMPLE_PARAMS = [("partNumber", "9"), ("uploadId", "a44cc9bab11cbd156984767aad637851")]
EXAMPLE_CANONICAL = (
    "PUT\n"
    "/v1/test/myfolder/readme.txt\n"
    "partNumber=9&uploadId=a44cc9bab11cbd156984767aad637851\n"
    "content-length:8\n"
    "content-md5:NFzcPqhviddjRNnSOGo4rw%3D%3D\n"
    "content-type:text%2Fplain\n"
    "host:bj.bcebos.com\n"
    "x-bce-date:2015-04-27T08%3A23%3A49Z"
)
EXAMPLE_AUTHORIZATION = (
    "bce-auth-v1/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/2015-04-27T08:23:49Z/1800//"
    "d74a04362e6a848f5b39b15421cb449427f419c95a480fd6b8cf9fc783e2999e"
)


def test_published_worked_example_byte_for_byte() -> None:
    signature = sign_bce(
        access_key=AK, secret_key=SK, method="PUT", path="/v1/test/myfolder/readme.txt",
        headers=EXAMPLE_HEADERS, params=EXAMPLE_PARAMS, timestamp=EXAMPLE_TIME, expiration=1800,
    )
    assert signature.canonical_request == EXAMPLE_CANONICAL
    assert signature.authorization == EXAMPLE_AUTHORIZATION
    assert signature.signed_headers == ""
    assert bce_timestamp(EXAMPLE_TIME) == "2015-04-27T08:23:49Z"
    assert SK not in repr(signature) and "d74a0436" not in repr(signature)


def test_a_different_path_gives_a_different_signature() -> None:
    # The Sample-Code page's own snippet signs /test/... and gets another value (reference §12.2).
    other = sign_bce(
        access_key=AK, secret_key=SK, method="PUT", path="/test/myfolder/readme.txt",
        headers=EXAMPLE_HEADERS, params=EXAMPLE_PARAMS, timestamp=EXAMPLE_TIME,
    )
    assert other.authorization != EXAMPLE_AUTHORIZATION


def test_named_signed_headers_are_listed_sorted_and_lower_case() -> None:
    signature = sign_bce(
        access_key=AK, secret_key=SK, method="GET", path="/v1/BCE-BEARER/token",
        headers={"Host": "iam.bj.baidubce.com", "Content-Type": "application/json", "x-bce-date": "2015-04-27T08:23:49Z"},
        params=[("expireInSeconds", "43200")], timestamp=EXAMPLE_TIME, expiration=300,
        signed_headers=["Host", "Content-Type", "x-bce-date"],
    )
    assert signature.signed_headers == "content-type;host;x-bce-date"
    assert signature.authorization.startswith(f"bce-auth-v1/{AK}/2015-04-27T08:23:49Z/300/content-type;host;x-bce-date/")
    assert signature.canonical_request == (
        "GET\n/v1/BCE-BEARER/token\nexpireInSeconds=43200\n"
        "content-type:application%2Fjson\nhost:iam.bj.baidubce.com\nx-bce-date:2015-04-27T08%3A23%3A49Z"
    )


def test_encoding_rules() -> None:
    assert uri_encode("a b/c~d-e_f.g*") == "a%20b%2Fc~d-e_f.g%2A"
    assert uri_encode("/路径/x", keep_slash=True) == "/%E8%B7%AF%E5%BE%84/x"
    # Empty header values are not signed; an empty query value is "k="; authorization is skipped.
    signature = sign_bce(
        access_key=AK, secret_key=SK, method="post", path="/",
        headers={"Host": "h", "Content-Type": "  "}, params=[("b", None), ("a", ""), ("authorization", "x")],
        timestamp=0,
    )
    assert signature.canonical_request == "POST\n/\na=&b=\nhost:h"


# -- Baidu's own signer on random inputs ---------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=12)
_name = st.text("abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=10).filter(lambda n: not n.startswith("-"))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ak=st.text("abcdef0123456789", min_size=1, max_size=32),
    sk=st.text("abcdefABCDEF0123456789", min_size=1, max_size=32),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE"]),
    segments=st.lists(_text, max_size=4),
    headers=st.dictionaries(_name, _text.filter(lambda v: v.strip() != ""), max_size=5),
    params=st.dictionaries(_text.filter(lambda k: k.lower() != "authorization"), _text, max_size=4),
    timestamp=st.integers(min_value=1, max_value=4_000_000_000),
    expiration=st.integers(min_value=1, max_value=86400),
    name_headers=st.booleans(),
)
def test_agrees_with_the_bce_python_sdk_signer(
    ak: str, sk: str, method: str, segments: List[str], headers: Dict[str, str], params: Dict[str, str],
    timestamp: int, expiration: int, name_headers: bool,
) -> None:
    bce = pytest.importorskip("baidubce.auth.bce_v1_signer")
    creds = pytest.importorskip("baidubce.auth.bce_credentials").BceCredentials(ak, sk)
    headers = {"Host": "example.baidubce.com", **headers, "x-bce-date": bce_timestamp(timestamp)}
    path = "/" + "/".join(segments)
    to_sign = sorted({h.lower() for h in headers}) if name_headers else None
    ours = sign_bce(
        access_key=ak, secret_key=sk, method=method, path=path, headers=headers, params=list(params.items()),
        timestamp=timestamp, expiration=expiration, signed_headers=to_sign,
    )
    # The SDK signs the path as given (pre-encode it) and takes bytes.
    theirs = bce.sign(
        creds, method.encode(), uri_encode(path, keep_slash=True).encode(),
        {k.encode(): v for k, v in headers.items()}, {k.encode(): v for k, v in params.items()},
        timestamp=timestamp, expiration_in_seconds=expiration,
        headers_to_sign={h.encode() for h in to_sign} if to_sign else None,
    ).decode()
    prefix, _, signature = ours.authorization.rpartition("/")
    their_prefix, _, their_signature = theirs.rpartition("/")
    # The SDK joins a Python set for the signed-header list (order varies): compare the rest.
    assert signature == their_signature
    assert prefix.rsplit("/", 1)[0] == their_prefix.rsplit("/", 1)[0]
    assert sorted(prefix.rsplit("/", 1)[1].split(";")) == sorted(their_prefix.rsplit("/", 1)[1].split(";"))


def test_sdk_worked_example_agrees() -> None:
    bce = pytest.importorskip("baidubce.auth.bce_v1_signer")
    creds = pytest.importorskip("baidubce.auth.bce_credentials").BceCredentials(AK, SK)
    theirs = bce.sign(
        creds, b"PUT", b"/v1/test/myfolder/readme.txt", {k.encode(): v for k, v in EXAMPLE_HEADERS.items()},
        {k.encode(): v for k, v in EXAMPLE_PARAMS}, timestamp=EXAMPLE_TIME, expiration_in_seconds=1800,
    )
    assert theirs.decode() == EXAMPLE_AUTHORIZATION

