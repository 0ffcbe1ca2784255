"""Configuration: which providers, with which credentials, and model aliases.

Sources, first found wins: the ``config=`` argument (dict or TOML path), ``./llmplex.toml``,
``$LLMPLEX_CONFIG``, then ``<user config dir>/llmplex/config.toml``. With none, every provider
still works from its vendor's usual environment variables.

.. code-block:: toml

    [defaults]
    timeout = 60            # read timeout, seconds
    max_retries = 2

    [providers.deepseek]
    api_key = "${DEEPSEEK_API_KEY}"

    [providers.local]       # a second instance of a provider under another name
    type = "openai-compatible"
    base_url = "http://127.0.0.1:8000/v1"

    [models]
    fast = "deepseek/deepseek-chat"
    robust = ["hunyuan/hunyuan-turbo", "spark/4.0Ultra", "deepseek/deepseek-chat"]
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Union

from pydantic import SecretStr

from ..errors import ConfigError
from ..provider.contract import ProviderSettings, ProviderSpec

__all__ = ["Config", "ConfigSource", "user_config_path"]

ConfigSource = Union[None, str, "os.PathLike[str]", Mapping[str, Any], "Config"]
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_SETTINGS_KEYS = ("base_url", "type")


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
    except OSError as exc:
        raise ConfigError(f"config file {str(path)!r} cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid TOML: {exc}") from None


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


class Config:
    """Loaded configuration. Its repr never shows values, only names."""

    def __init__(self, data: Optional[Mapping[str, Any]] = None, *, source: str = "<dict>") -> None:
        data = dict(data or {})
        self.source = source
        unknown = set(data) - {"providers", "models", "defaults"}
        if unknown:
            raise ConfigError(
                f"{source}: unknown top-level section(s) {', '.join(sorted(unknown))}; "
                "expected [providers.NAME], [models] and [defaults]"
            )
        providers = data.get("providers", {})
        models = data.get("models", {})
        defaults = data.get("defaults", {})
        for name, section in (("providers", providers), ("models", models), ("defaults", defaults)):
            if not isinstance(section, dict):
                raise ConfigError(f"{source}: [{name}] must be a table", field=name)
        self._providers: Dict[str, Dict[str, Any]] = {}
        for name, table in providers.items():
            if not isinstance(table, dict):
                raise ConfigError(f"{source}: [providers.{name}] must be a table", field=f"providers.{name}")
            self._providers[name] = dict(table)
        self.models: Dict[str, Union[str, List[str]]] = {}
        for alias, target in models.items():
            if isinstance(target, str) or (isinstance(target, list) and target and all(isinstance(t, str) for t in target)):
                self.models[alias] = target
            else:
                raise ConfigError(
                    f"{source}: models.{alias} must be 'provider/model' or a list of them", field=f"models.{alias}"
                )
        self.defaults: Dict[str, Any] = dict(defaults)

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
        for candidate in cls._candidates():
            if candidate.is_file():
                return cls(_read_toml(candidate), source=str(candidate))
        return cls()

    @staticmethod
    def _candidates() -> List[Path]:
        paths = [Path("llmplex.toml")]
        env = os.environ.get("LLMPLEX_CONFIG")
        if env:
            paths.append(Path(env))
        paths.append(user_config_path())
        return paths

    def provider_names(self) -> List[str]:
        return sorted(self._providers)

    def implementation_of(self, name: str) -> str:
        """The registered provider that backs the configured name (``type = ...``), else itself."""
        table = self._providers.get(name, {})
        kind = table.get("type", name)
        return str(kind)

    def settings_for(self, name: str, spec: ProviderSpec) -> ProviderSettings:
        """Credentials, base URL and options for provider ``name`` (backed by ``spec``)."""
        table = _interpolate(self._providers.get(name, {}), f"providers.{name}")
        credentials: Dict[str, SecretStr] = {}
        for credential in spec.credentials:
            value = table.get(credential.key)
            if value is None:
                value = next((os.environ[e] for e in credential.env if os.environ.get(e)), None)
            if value is None:
                if credential.required:
                    envs = " or ".join(credential.env)
                    from_env = f", or set the {envs} environment variable" if envs else ""
                    raise ConfigError(
                        f"provider {name!r} needs {credential.key}: set [providers.{name}] {credential.key} = ..."
                        f"{from_env} (`llmplex demo` runs without keys)",
                        provider=name,
                        field=f"providers.{name}.{credential.key}",
                    )
                continue
            credentials[credential.key] = SecretStr(str(value))
        known = {c.key for c in spec.credentials}
        options: Dict[str, Any] = {**spec.default_options, **self.defaults}
        options.update({k: v for k, v in table.items() if k not in known and k not in _SETTINGS_KEYS})
        return ProviderSettings(
            name=name,
            base_url=table.get("base_url") or spec.default_base_url,
            credentials=credentials,
            options=options,
            public=frozenset(c.key for c in spec.credentials if not c.secret),
        )

    def resolve_model(self, model: str) -> List[str]:
        """``alias`` or ``provider/model`` as a chain of ``provider/model`` strings."""
        seen: List[str] = []
        target: Union[str, List[str]] = self.models.get(model, model)
        chain = [target] if isinstance(target, str) else list(target)
        out: List[str] = []
        for entry in chain:
            if entry in self.models and entry not in seen:  # an alias of an alias
                seen.append(entry)
                out.extend(self.resolve_model(entry))
            else:
                out.append(entry)
        for entry in out:
            if "/" not in entry:
                raise ConfigError(
                    f"model {entry!r} is neither 'provider/model' nor an alias in [models] "
                    f"(aliases: {', '.join(sorted(self.models)) or 'none'})",
                    field="model",
                )
        return out
