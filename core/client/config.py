"""Configuration: which providers, with which credentials and options, and model aliases.

Sources, first found wins: the ``config=`` argument (dict or TOML path), the file named by
``$LLMPLEX_CONFIG``, ``./llmplex.toml``, then ``<user config dir>/llmplex/config.toml``. A path
given explicitly (``config=``, ``--config`` or ``$LLMPLEX_CONFIG``) that does not exist is a
``ConfigError``. With no file, every provider still works from its vendor's usual environment
variables.

Every key is checked: a misspelt key (``base_ulr``) is a ``ConfigError`` with a did-you-mean,
never silently ignored (an ignored ``base_url`` would send the key to the vendor's public host).

.. code-block:: toml

    [defaults]
    timeout = 60            # read timeout, seconds
    max_retries = 2

    [providers.deepseek]
    api_key = "${DEEPSEEK_API_KEY}"
    temperature = 0.7       # a default request parameter of this provider

    [providers.local]       # a second instance of a provider under another name
    type = "openai-compatible"
    base_url = "http://127.0.0.1:8000/v1"

    [models]
    robust = ["hunyuan/hunyuan-turbo", "spark/4.0Ultra", "deepseek/deepseek-chat"]

    [models.fast]           # an alias with default request parameters
    model = "deepseek/deepseek-chat"
    temperature = 0.2
"""

from __future__ import annotations

import difflib
import os
import re
import sys
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Tuple, Union

from pydantic import SecretStr

from ..errors import ConfigError, InvalidRequestError
from ..provider.contract import ProviderSettings, ProviderSpec

__all__ = [
    "Config",
    "ConfigSource",
    "user_config_path",
    "PROVIDER_KEYS",
    "DEFAULTS_KEYS",
    "request_param_names",
]

ConfigSource = Union[None, str, "os.PathLike[str]", Mapping[str, Any], "Config"]
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_SECTIONS = ("providers", "models", "defaults")

#: Options that ``[defaults]`` and every ``[providers.NAME]`` table accept, whatever the
#: provider (a provider adds its own through ``ProviderSpec.options``).
DEFAULTS_KEYS: Mapping[str, str] = {
    "timeout": "read timeout, seconds",
    "connect_timeout": "connect timeout, seconds",
    "total_timeout": "deadline of the whole call, seconds",
    "max_retries": "retries after the first attempt",
    "retry": "the retry policy table",
    "rate_limit": "the client-side rate limit table",
    "limits": "body, line, event and frame size limits",
    "strict": "refuse instead of dropping a parameter the vendor lacks",
}
#: Keys of ``[providers.NAME]`` besides credentials, request parameters and declared options.
PROVIDER_KEYS: Mapping[str, str] = {
    "type": "the registered provider this table configures",
    "base_url": "the vendor endpoint",
    **DEFAULTS_KEYS,
}
# Request parameters that a config table may hold as defaults; the call's own win.
# ``headers`` stays a provider option (OpenAI-compatible ones declare it) even if calls take it.
_NOT_CONFIGURABLE = ("tools", "tool_choice", "stream", "headers")


def request_param_names() -> Tuple[str, ...]:
    """The request parameters a ``[models.ALIAS]`` or ``[providers.NAME]`` table may default."""
    from ..schema import validation

    return tuple(p for p in validation._ALL_PARAMS if p not in _NOT_CONFIGURABLE)


def user_config_path() -> Path:
    if sys.platform == "win32":
        base = Path(os.environ.get("APPDATA", Path.home() / "AppData" / "Roaming"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    return base / "llmplex" / "config.toml"


def _read_toml(path: Path) -> Dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python < 3.11 only
        import tomli as tomllib
    try:
        with path.open("rb") as handle:
            data: Dict[str, Any] = tomllib.load(handle)
            return data
    except FileNotFoundError:
        raise ConfigError(f"config file {str(path)!r} does not exist", field="config") from None
    except OSError as exc:
        raise ConfigError(f"config file {str(path)!r} cannot be read: {exc.strerror}", field="config") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}", field="config") from None


def _interpolate(value: Any, where: str) -> Any:
    if isinstance(value, str):

        def replace(match: "re.Match[str]") -> str:
            name, default = match.group(1), match.group(2)
            found = os.environ.get(name)
            if found is None:
                if default is not None:
                    return default
                raise ConfigError(
                    f"{where}: environment variable {name} is not set; set it or write the value in the config",
                    field=where,
                )
            return found

        return _ENV_REF.sub(replace, value)
    if isinstance(value, dict):
        return {k: _interpolate(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _check_keys(keys: Iterable[str], allowed: Iterable[str], where: str) -> None:
    """ConfigError for the first key of ``keys`` not in ``allowed``, with a did-you-mean."""
    known = sorted(set(allowed))
    for key in keys:
        if key in known:
            continue
        close = difflib.get_close_matches(str(key), known, n=1, cutoff=0.6)
        guess = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            f"{where}: unknown key {key!r}; {guess}known keys: {', '.join(known) or 'none'}",
            field=f"{where}.{key}" if where != "config" else str(key),
        )


def _check_params(params: Mapping[str, Any], where: str) -> None:
    """Default request parameters are checked as a call's would be, but blamed on the config."""
    if not params:
        return
    from ..schema.validation import make_request

    try:
        make_request("config-check", [{"role": "user", "content": "x"}], **params)
    except InvalidRequestError as exc:
        field = f"{where}.{exc.field}" if exc.field else where
        raise ConfigError(f"{where}: {exc.message}", field=field) from None


def _chain(target: Union[str, List[str]]) -> List[str]:
    return [target] if isinstance(target, str) else list(target)


def _is_chain(value: Any) -> bool:
    return isinstance(value, str) or (isinstance(value, list) and bool(value) and all(isinstance(t, str) for t in value))


class Config:
    """Loaded configuration. Its repr never shows values, only names."""

    def __init__(self, data: Optional[Mapping[str, Any]] = None, *, source: str = "<dict>") -> None:
        if data is not None and not isinstance(data, Mapping):
            raise ConfigError(f"config must be a table (dict), got {type(data).__name__}", field="config")
        data = dict(data or {})
        self.source = source
        # A Config does not change once loaded, and every call asks what its model name
        # resolves to and what each chain entry's default parameters are: worked out once.
        self._resolved: Dict[str, List[Tuple[str, Dict[str, Any]]]] = {}
        self._own_params: Dict[str, Dict[str, Any]] = {}
        self._entry_params: Dict[Tuple[str, int, str], Dict[str, Any]] = {}
        _check_keys(data, _SECTIONS, "config")
        providers = data.get("providers", {})
        models = data.get("models", {})
        defaults = data.get("defaults", {})
        for name, section in (("providers", providers), ("models", models), ("defaults", defaults)):
            if not isinstance(section, dict):
                raise ConfigError(f"{source}: [{name}] must be a table", field=name)
        _check_keys(defaults, DEFAULTS_KEYS, "defaults")
        self._providers: Dict[str, Dict[str, Any]] = {}
        for name, table in providers.items():
            if not isinstance(table, dict):
                raise ConfigError(f"{source}: [providers.{name}] must be a table", field=f"providers.{name}")
            self._providers[name] = dict(table)
            for key in ("type", "base_url"):
                if key in table and not isinstance(table[key], str):
                    where = f"providers.{name}.{key}"
                    raise ConfigError(f"{where} must be a string, got {type(table[key]).__name__}", field=where)
        self.models: Dict[str, Union[str, List[str]]] = {}
        self._alias_params: Dict[str, Dict[str, Any]] = {}
        params = request_param_names()
        for alias, target in models.items():
            where = f"models.{alias}"
            if isinstance(target, dict):
                _check_keys(target, ("model",) + params, where)
                if "model" not in target:
                    raise ConfigError(f"{where}: a table alias needs model = 'provider/model'", field=f"{where}.model")
                own = {k: v for k, v in target.items() if k != "model"}
                _check_params(own, where)
                self._alias_params[alias] = own
                target = target["model"]
            if not _is_chain(target):
                raise ConfigError(f"{where} must be 'provider/model' or a list of them", field=where)
            self.models[alias] = target
        self.defaults: Dict[str, Any] = dict(defaults)
        for alias in self.models:  # a cycle or a dangling name fails now, not at the first call
            self.resolve_model(alias)

    def __repr__(self) -> str:
        return f"Config(source={self.source!r}, providers={sorted(self._providers)}, models={sorted(self.models)})"

    @classmethod
    def load(cls, source: ConfigSource = None) -> Config:
        if isinstance(source, Config):
            return source
        if isinstance(source, Mapping):
            return cls(source)
        if source is not None:
            path = Path(source)
            return cls(_read_toml(path), source=str(path))
        env = os.environ.get("LLMPLEX_CONFIG")
        if env:
            path = Path(env)
            if not path.is_file():
                raise ConfigError(
                    f"$LLMPLEX_CONFIG names {env!r}, which is not a file; fix the path or unset LLMPLEX_CONFIG",
                    field="LLMPLEX_CONFIG",
                )
            return cls(_read_toml(path), source=str(path))
        for candidate in (Path("llmplex.toml"), user_config_path()):
            if candidate.is_file():
                return cls(_read_toml(candidate), source=str(candidate))
        return cls()

    def provider_names(self) -> List[str]:
        return sorted(self._providers)

    def implementation_of(self, name: str) -> str:
        """The registered provider that backs the configured name (``type = ...``), else itself."""
        table = self._providers.get(name, {})
        kind = table.get("type", name)
        return str(kind)

    def settings_for(self, name: str, spec: ProviderSpec) -> ProviderSettings:
        """Credentials, base URL and options for provider ``name`` (backed by ``spec``).

        Every key of the table must be a credential of ``spec``, a key of :data:`PROVIDER_KEYS`,
        an option ``spec`` declares, or a request parameter (a default of the provider's calls).
        """
        where = f"providers.{name}"
        raw = self._providers.get(name, {})
        credential_keys = [c.key for c in spec.credentials]
        params = request_param_names()
        _check_keys(raw, [*credential_keys, *PROVIDER_KEYS, *spec.options, *params], where)
        table = _interpolate(raw, where)
        credentials: Dict[str, SecretStr] = {}
        missing = []
        for credential in spec.credentials:
            value = table.get(credential.key)
            if value is None:
                value = next((os.environ[e] for e in credential.env if os.environ.get(e)), None)
            if value is None:  # last: a key stored by ``llmplex keys set``
                from .keys import stored_key

                value = stored_key(name, credential.key)
            if value is None:
                if credential.required:
                    missing.append(credential)
                continue
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                # Never echo the value: it may be the secret itself.
                raise ConfigError(
                    f"[{where}] {credential.key} must be a string, got {type(value).__name__}",
                    provider=name,
                    field=f"{where}.{credential.key}",
                )
            credentials[credential.key] = SecretStr(str(value))
        if missing:
            keys = [c.key for c in missing]
            needs = keys[0] if len(keys) == 1 else f"{', '.join(keys[:-1])} and {keys[-1]}"
            sets = ", ".join(f"{c.key} = ..." for c in missing)
            envs = [" or ".join(c.env) for c in missing if c.env]
            plural = "s" if len(envs) > 1 else ""
            from_env = f", or set the environment variable{plural} {', '.join(envs)}" if envs else ""
            raise ConfigError(
                f"provider {name!r} needs {needs}: set [{where}] {sets}{from_env} (`llmplex demo` runs without keys)",
                provider=name,
                field=f"{where}.{missing[0].key}",
            )
        base_url = table.get("base_url") or spec.default_base_url
        if spec.requires_base_url and not base_url:
            raise ConfigError(
                f"provider {name!r} ({spec.name}) has no default endpoint: set [{where}] base_url = 'http://host:port/v1'",
                provider=name,
                field=f"{where}.base_url",
            )
        _check_params(self.provider_params(name), where)
        not_options = {*credential_keys, "base_url", "type", *params}
        options: Dict[str, Any] = {**spec.default_options, **self.defaults}
        options.update({k: v for k, v in table.items() if k not in not_options})
        return ProviderSettings(
            name=name,
            base_url=base_url,
            credentials=credentials,
            options=options,
            public=frozenset(c.key for c in spec.credentials if not c.secret),
        )

    def provider_params(self, name: str) -> Dict[str, Any]:
        """The default request parameters of ``[providers.NAME]`` (``temperature = 0.2``, ...)."""
        found = self._own_params.get(name)
        if found is None:
            raw = self._providers.get(name, {})
            params = request_param_names()
            own = {k: v for k, v in raw.items() if k in params}
            found = _interpolate(own, f"providers.{name}") if own else {}
            _remember(self._own_params, name, found)
        return dict(found)

    def resolve_model(self, model: str) -> List[str]:
        """``alias`` or ``provider/model`` as a chain of ``provider/model`` strings."""
        return [target for target, _ in self.resolve(model)]

    def resolve(self, model: str) -> List[Tuple[str, Dict[str, Any]]]:
        """The chain of ``model`` with each entry's alias parameters (outer aliases win)."""
        if not isinstance(model, str):
            raise ConfigError(f"model must be a string like 'provider/model', got {type(model).__name__}", field="model")
        found = self._resolved.get(model)
        if found is not None:
            return list(found)
        out: List[Tuple[str, Dict[str, Any]]] = []
        self._expand(model, {}, [], out)
        for entry, _ in out:
            if "/" not in entry:
                close = difflib.get_close_matches(entry, list(self.models), n=1)
                guess = f"did you mean {close[0]!r}? " if close else ""
                raise ConfigError(
                    f"model {entry!r} is neither 'provider/model' nor an alias in [models]; {guess}"
                    f"(aliases: {', '.join(sorted(self.models)) or 'none'})",
                    field="model",
                )
        _remember(self._resolved, model, out)
        return list(out)

    def _expand(self, name: str, params: Dict[str, Any], path: List[str], out: List[Tuple[str, Dict[str, Any]]]) -> None:
        if name not in self.models:
            out.append((name, params))
            return
        if name in path:
            cycle = " -> ".join(path[path.index(name):] + [name])
            raise ConfigError(
                f"models: alias cycle {cycle}; point one of them at a 'provider/model'",
                field=f"models.{path[-1]}",
            )
        merged = {**self._alias_params.get(name, {}), **params}
        for entry in _chain(self.models[name]):
            if entry == name and "/" in entry:
                # ``[models."deepseek/deepseek-chat"] model = "deepseek/deepseek-chat"``: default
                # parameters for one model, not a cycle.
                out.append((entry, merged))
            else:
                self._expand(entry, merged, path + [name], out)

    def call_params(self, requested: str, position: int, provider: str, params: Mapping[str, Any]) -> Dict[str, Any]:
        """The request parameters of chain entry ``position`` of ``requested``: the call's own,
        over the alias's, over ``[providers.NAME]``'s. ``extra`` is merged key by key."""
        key = (requested, position, provider)
        base = self._entry_params.get(key)
        if base is None:
            entries = self.resolve(requested)
            alias = entries[position][1] if position < len(entries) else {}
            base = _merged(_merged({}, self.provider_params(provider)), alias)
            _remember(self._entry_params, key, base)
        return _merged(dict(base), params) if params else dict(base)


#: How many model names a Config remembers the resolution of (a service passing its users'
#: model names through must not grow without bound).
_MEMO_SIZE = 1024


def _remember(memo: Dict[Any, Any], key: Any, value: Any) -> None:
    if len(memo) >= _MEMO_SIZE:
        memo.clear()
    memo[key] = value


def _merged(merged: Dict[str, Any], layer: Mapping[str, Any]) -> Dict[str, Any]:
    """``layer`` over ``merged`` (in place): None means "not given", as it does for a call's
    parameters, and ``extra`` is merged key by key."""
    for key, value in layer.items():
        if value is None:
            continue
        previous = merged.get(key)
        if key == "extra" and isinstance(value, Mapping) and isinstance(previous, Mapping):
            merged[key] = {**previous, **value}
        else:
            merged[key] = value
    return merged
