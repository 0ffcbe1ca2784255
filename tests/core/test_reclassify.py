from __future__ import annotations

from llmplex.errors import ContextLengthError, InvalidRequestError
from llmplex.provider.error_mapping import reclassify


def test_reclassify_keeps_every_field() -> None:
    error = InvalidRequestError(
        "too long", provider="p", model="m", status=400, code="characters_too_long", request_id="r1",
        raw=b"{}", partial="so far", retry_after=2.5, attempts=3, field="messages",
    )
    error.should_retry = False
    moved = reclassify(error, ContextLengthError)
    assert type(moved) is ContextLengthError
    assert moved.message == "too long"
    assert (moved.provider, moved.model, moved.status, moved.code, moved.request_id) == ("p", "m", 400, "characters_too_long", "r1")
    assert (moved.raw, moved.partial, moved.retry_after, moved.attempts, moved.field) == (b"{}", "so far", 2.5, 3, "messages")
    assert moved.should_retry is False


def test_reclassify_to_the_same_class_is_the_same_error() -> None:
    error = ContextLengthError("x")
    assert reclassify(error, ContextLengthError) is error
