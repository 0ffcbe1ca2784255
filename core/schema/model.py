"""The base of the public request models: constructors that raise the caller's error.

``Message(role="user")`` raises the ``InvalidRequestError`` (with ``.field``) that call-time
validation raises, not pydantic's ``ValidationError``. ``InvalidRequestError`` is a ``ValueError``,
as ``ValidationError`` is, so ``except ValueError`` keeps working. Every string field must be
encodable as UTF-8 and every field named in ``_json_fields`` must hold plain JSON
(:mod:`llmplex.schema.jsonvalue`), so what the caller built can always be sent.

:func:`trusted` builds an instance from values its caller has just checked itself, for the hot
paths (a call's plain messages, a vendor reply, a stream's chunks): pydantic's validation of
one message costs more than the rest of the call's schema work together.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar, Dict, List, Optional, Set, Tuple, Type, TypeVar

from pydantic import BaseModel, ValidationError, model_validator
from pydantic_core import PydanticUndefined

from .invalid import from_validation_error
from .jsonvalue import check_json, check_text

__all__ = ["CheckedModel", "trusted", "built"]

M = TypeVar("M", bound=BaseModel)


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
            # isascii() is O(1) in CPython: only non-ASCII text needs the encode that finds
            # a lone surrogate.
            if isinstance(value, str):
                if not value.isascii():
                    check_text(value, name)
            elif isinstance(value, list):
                for index, item in enumerate(value):
                    if isinstance(item, str) and not item.isascii():
                        check_text(item, f"{name}[{index}]")
        for name in self._json_fields:
            value = getattr(self, name)
            if value or not isinstance(value, dict):  # {} is always plain JSON
                check_json(value, name)
        return self


class _Facts:
    """What :func:`trusted` needs of a model class, computed once per class."""

    __slots__ = ("template", "factories", "private", "private_template")

    def __init__(self, cls: Type[BaseModel]) -> None:
        # Every field in declaration order (the order validation fills ``__dict__`` in); a
        # field with a factory gets a fresh value per instance.
        self.template: Dict[str, Any] = {}
        self.factories: List[Tuple[str, Callable[[], Any]]] = []
        for name, info in cls.model_fields.items():
            if info.default_factory is not None:
                self.template[name] = None
                self.factories.append((name, info.default_factory))  # type: ignore[arg-type]
            else:
                self.template[name] = info.default  # PydanticUndefined for a required field
        self.private = tuple((cls.__private_attributes__ or {}).items())
        # Immutable private defaults (Message's frozenset of null keys) can be copied, not rebuilt.
        defaults = {name: attr.get_default(call_default_factory=True) for name, attr in self.private}
        immutable = all(isinstance(v, (frozenset, tuple, str, int, float, type(None))) for v in defaults.values())
        self.private_template = defaults if self.private and immutable else None


_FACTS: Dict[type, _Facts] = {}
# Whether validation gives an instance of a class without private attributes an empty private
# dict rather than None: pydantic before 2.14 (2.13 is the last for Python 3.9) does so for
# every class with a ``model_post_init``; 2.14 leaves None. Equality compares private state.
_EMPTY_PRIVATE: Dict[type, bool] = {}


def unset_private(cls: type) -> Optional[Dict[str, Any]]:
    """The private state validation gives an instance of ``cls`` that has no private attributes
    (a fresh ``{}`` or None, by pydantic version)."""
    found = _EMPTY_PRIVATE.get(cls)
    if found is None:
        found = _EMPTY_PRIVATE[cls] = getattr(cls, "__pydantic_post_init__", None) is not None
    return {} if found else None
# BaseModel's own __setattr__ would validate assignment and track fields; these are its slots.
_setattr = object.__setattr__
_new = object.__new__


def trusted(cls: Type[M], values: Dict[str, Any]) -> M:
    """``cls(**values)`` without validation, for values the caller has checked exactly as
    validation would (types, the validators' rules, text encodable), so the instance is the
    one validation would build: fields in order, defaults filled, ``model_fields_set`` the
    given names, private attributes at their defaults.

    Only for the hot paths that check their own values; anything unusual goes through ``cls``.
    """
    facts = _FACTS.get(cls)
    if facts is None:
        facts = _FACTS[cls] = _Facts(cls)
    fields = facts.template.copy()
    fields.update(values)
    for name, factory in facts.factories:
        if name not in values:
            fields[name] = factory()
    model = _new(cls)
    _setattr(model, "__dict__", fields)
    _setattr(model, "__pydantic_fields_set__", set(values))
    _setattr(model, "__pydantic_extra__", None)
    if facts.private_template is not None:
        _setattr(model, "__pydantic_private__", facts.private_template.copy())
    elif facts.private:
        _setattr(model, "__pydantic_private__", {n: a.get_default(call_default_factory=True) for n, a in facts.private})
    else:
        _setattr(model, "__pydantic_private__", unset_private(cls))
    return model


def built(cls: Type[M], fields: Dict[str, Any], fields_set: Set[str], private: Optional[Dict[str, Any]] = None) -> M:
    """The lowest level of :func:`trusted`: ``fields`` already holds every field of ``cls`` in
    declaration order (a fresh dict), ``fields_set`` is a fresh set of the names given. For the
    per-reply builders of :mod:`llmplex.schema.fastpath`, whose tests compare each with the
    validated instance."""
    model = _new(cls)
    _setattr(model, "__dict__", fields)
    _setattr(model, "__pydantic_fields_set__", fields_set)
    _setattr(model, "__pydantic_extra__", None)
    if private is None:
        private = unset_private(cls)
    _setattr(model, "__pydantic_private__", private)
    return model


def _required_missing(cls: Type[BaseModel], values: Dict[str, Any]) -> List[str]:
    """The required fields of ``cls`` absent from ``values`` (tests check the hot paths give all)."""
    template = _FACTS[cls].template
    return [name for name, default in template.items() if default is PydanticUndefined and name not in values]
