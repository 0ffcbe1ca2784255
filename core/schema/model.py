"""The base of the public request models: constructors that raise the caller's error.

``Message(role="user")`` raises the ``InvalidRequestError`` (with ``.field``) that call-time
validation raises, not pydantic's ``ValidationError``. ``InvalidRequestError`` is a ``ValueError``,
as ``ValidationError`` is, so ``except ValueError`` keeps working. Every string field must be
encodable as UTF-8 and every field named in ``_json_fields`` must hold plain JSON
(:mod:`llmplex.schema.jsonvalue`), so what the caller built can always be sent.
"""

from __future__ import annotations

from typing import Any, ClassVar, Tuple

from pydantic import BaseModel, ValidationError, model_validator

from .invalid import from_validation_error
from .jsonvalue import check_json, check_text

__all__ = ["CheckedModel"]


class CheckedModel(BaseModel):
    """A public model: typed constructor errors, values that can go on the wire."""

    #: Fields forwarded to vendors untouched: they must be plain JSON.
    _json_fields: ClassVar[Tuple[str, ...]] = ()

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise from_validation_error("", exc, data) from None

    # Tell pydantic this __init__ only wraps BaseModel's: it then validates nested models and
    # runs model_validate without calling it (pydantic's RootModel does the same), so a nested
    # dict with non-string keys stays a validation error and model_validate stays pydantic's.
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @model_validator(mode="after")
    def _sendable(self) -> Any:
        for name, value in self.__dict__.items():
            if isinstance(value, str):
                check_text(value, name)
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    if isinstance(item, str):
                        check_text(item, f"{name}[{index}]")
        for name in self._json_fields:
            check_json(getattr(self, name), name)
        return self
