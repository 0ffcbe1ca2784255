"""Plugin discovery: entry points of the ``llmplex`` group, loaded once, failures isolated.

Set ``LLMPLEX_DISABLE_PLUGIN_AUTOLOAD=1`` to load nothing automatically (then register plugins
by hand with :meth:`Plugins.register_plugin`), or ``LLMPLEX_PLUGINS=a,b`` to load only the
named entry points.
"""

from __future__ import annotations

import difflib
import os
import warnings
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import pluggy

from . import hookspecs
from .errors import ConfigError
from .provider import SPEC_VERSION, ProviderSpec

__all__ = ["Plugins", "PluginConflictError", "PluginWarning", "RegisteredProvider", "ENTRY_POINT_GROUP"]

ENTRY_POINT_GROUP = "llmplex"


class PluginConflictError(ConfigError):
    """Two plugins registered the same provider name."""


class PluginWarning(UserWarning):
    """A plugin could not be loaded or registered; the others still work."""


@dataclass(frozen=True)
class RegisteredProvider:
    spec: ProviderSpec
    plugin: str
    distribution: str
    version: str


def _entry_points() -> List[Any]:
    from importlib import metadata

    eps = metadata.entry_points()
    if hasattr(eps, "select"):
        return list(eps.select(group=ENTRY_POINT_GROUP))
    return list(eps.get(ENTRY_POINT_GROUP, []))  # Python 3.9


class Plugins:
    """The plugin manager and the provider registry it fills."""

    def __init__(self, *, autoload: Optional[bool] = None) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.providers: Dict[str, RegisteredProvider] = {}
        self.failed: Dict[str, str] = {}
        if autoload is None:
            autoload = os.environ.get("LLMPLEX_DISABLE_PLUGIN_AUTOLOAD", "") not in ("1", "true", "yes")
        if autoload:
            self.load_entry_points()

    @property
    def hook(self) -> Any:
        return self.pm.hook

    def load_entry_points(self) -> None:
        only = {n.strip() for n in os.environ.get("LLMPLEX_PLUGINS", "").split(",") if n.strip()}
        for ep in _entry_points():
            if only and ep.name not in only:
                continue
            if self.pm.has_plugin(ep.name) or ep.name in self.failed:
                continue
            dist_name, version = _distribution_of(ep)
            try:
                plugin = ep.load()
            except Exception as exc:  # noqa: BLE001 - one broken plugin must not break the rest
                self.failed[ep.name] = f"{type(exc).__name__}: {exc}"
                warnings.warn(
                    f"llmplex plugin {ep.name!r} from {dist_name} could not be loaded: {type(exc).__name__}: {exc}",
                    PluginWarning,
                    stacklevel=2,
                )
                continue
            self.register_plugin(plugin, name=ep.name, distribution=str(dist_name), version=str(version))

    def register_plugin(self, plugin: Any, *, name: Optional[str] = None, distribution: str = "?", version: str = "?") -> None:
        """Register a plugin object and collect the providers it registers."""
        plugin_name = name or getattr(plugin, "__name__", None) or repr(plugin)
        self.pm.register(plugin, name=plugin_name)
        caller = self.pm.subset_hook_caller("register_providers", remove_plugins=[p for p in self.pm.get_plugins() if p is not plugin])

        def register(spec: ProviderSpec) -> None:
            self._add(spec, plugin_name, distribution, version)

        try:
            caller(register=register)
        except PluginConflictError:
            raise
        except Exception as exc:  # noqa: BLE001
            self.failed[plugin_name] = f"{type(exc).__name__}: {exc}"
            warnings.warn(
                f"llmplex plugin {plugin_name!r} failed while registering providers: {type(exc).__name__}: {exc}",
                PluginWarning,
                stacklevel=2,
            )

    def _add(self, spec: ProviderSpec, plugin: str, distribution: str, version: str) -> None:
        if not isinstance(spec, ProviderSpec):
            raise TypeError(f"plugin {plugin!r} registered {type(spec).__name__}; register(ProviderSpec(...)) expected")
        if spec.spec_version != SPEC_VERSION:
            warnings.warn(
                f"provider {spec.name!r} from plugin {plugin!r} targets provider contract v{spec.spec_version}; "
                f"this llmplex speaks v{SPEC_VERSION}; it was not registered",
                PluginWarning,
                stacklevel=3,
            )
            return
        existing = self.providers.get(spec.name)
        if existing is not None:
            raise PluginConflictError(
                f"provider {spec.name!r} is registered twice: by {existing.distribution} (plugin {existing.plugin!r}) "
                f"and by {distribution} (plugin {plugin!r}); uninstall one of them"
            )
        self.providers[spec.name] = RegisteredProvider(spec, plugin, distribution, version)

    def get(self, name: str) -> RegisteredProvider:
        found = self.providers.get(name)
        if found is not None:
            return found
        installed = sorted(self.providers)
        close = difflib.get_close_matches(name, installed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        broken = f" (plugins that failed to load: {', '.join(sorted(self.failed))})" if self.failed else ""
        raise ConfigError(
            f"unknown provider {name!r}{hint} installed providers: {', '.join(installed) or 'none'}{broken}. "
            f"Third-party providers register under the {ENTRY_POINT_GROUP!r} entry-point group.",
            field="provider",
        )


_default: Optional[Plugins] = None


def default_plugins() -> Plugins:
    """The process-wide plugin manager, loaded on first use (not at import)."""
    global _default
    if _default is None:
        _default = Plugins()
    return _default


def _distribution_of(ep: Any) -> tuple[str, str]:
    dist = getattr(ep, "dist", None)  # Python >= 3.10
    if dist is None:
        return "?", "?"
    return str(dist.metadata["Name"] or "?"), str(dist.version or "?")
