"""The Zhipu API-key JWT: the reference vector (vendors.md §12.3) and byte-identity with the
official ``zhipuai`` SDK's ``generate_token`` under a frozen clock."""

from __future__ import annotations

from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from llmplex.signing.jwt import hs256_jwt

KEY = "0123456789abcdef0123456789abcdef.Secr3tPart"
NOW = 1700000000.123
VECTOR = (
    "eyJhbGciOiJIUzI1NiIsInNpZ25fdHlwZSI6IlNJR04iLCJ0eXAiOiJKV1QifQ."
    "eyJhcGlfa2V5IjoiMDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWYiLCJleHAiOjE3MDAwMDAyMTAxMjMsInRpbWVzdGFtcCI6MTcwMDAwMDAwMDEyM30."
    "6QTiVQ1i5oR2QBCjUjVpYudIh8XmER893a0q31R6GDQ"
)


def test_hs256_reproduces_the_reference_vector() -> None:
    payload = {"api_key": "0123456789abcdef0123456789abcdef", "exp": 1700000210123, "timestamp": 1700000000123}
    assert hs256_jwt(payload, "Secr3tPart", header={"alg": "HS256", "sign_type": "SIGN"}) == VECTOR


def _sdk_token(key: str, now: float) -> str:
    jwt_module = pytest.importorskip("zhipuai.core._jwt_token")
    jwt_module.generate_token.cache_clear()  # a TTL cache keyed by the key: never reuse across examples
    with mock.patch.object(jwt_module.time, "time", return_value=now):
        token: str = jwt_module.generate_token(key)
    return token


def test_sdk_mints_the_same_vector() -> None:
    assert _sdk_token(KEY, NOW) == VECTOR


@settings(max_examples=60, deadline=None)
@given(
    key_id=st.text("abcdef0123456789", min_size=1, max_size=32),
    secret=st.text("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789", min_size=1, max_size=24),
    now=st.floats(min_value=1e9, max_value=4e9, allow_nan=False),
)
def test_agrees_with_the_sdk_on_random_keys_and_times(key_id: str, secret: str, now: float) -> None:
    from llmplex.providers.zhipu import zhipu_jwt

    assert zhipu_jwt(f"{key_id}.{secret}", now=now) == _sdk_token(f"{key_id}.{secret}", now)
