"""Plugin discovery: entry points of the ``llmplex`` group, loaded once, failures isolated.

Every provider, built-in or third-party, arrives the same way: an entry point in the
``llmplex`` group names a module (or object) whose ``register_providers(register)`` hook
calls ``register(ProviderSpec(...))``. llmplex's own providers are listed in its
``pyproject.toml`` exactly like a plugin's. An entry point may name a module (module-level
``@hookimpl`` functions), an object (its ``@hookimpl`` methods) or a class (instantiated without
arguments). A plugin that registers no provider and implements no hook gets a
:class:`PluginWarning` naming its distribution and what to change (docs/plugins.md).

Environment:

``LLMPLEX_DISABLE_PLUGIN_AUTOLOAD=1``
    Load no entry point automatically; register plugins by hand with
    :meth:`Plugins.register_plugin`.
``LLMPLEX_PLUGINS=a,b``
    Load only the entry points named ``a`` and ``b``. An explicit list is an explicit opt-in,
    so it is honoured even when autoload is disabled (as ``PYTEST_PLUGINS`` is with
    ``PYTEST_DISABLE_PLUGIN_AUTOLOAD``). A listed name that no installed entry point has
    produces a :class:`PluginWarning`.

Failures are isolated: a plugin that cannot be imported, or whose ``register_providers``
raises, produces a :class:`PluginWarning` naming it, its distribution and its error, and the
others still load. Two plugins that register the same provider name are not isolated: that
is a :class:`PluginConflictError` naming both distributions, because silently picking one
would route calls (and credentials) to code the user did not choose.
"""

from __future__ import annotations

import difflib
import os
import sys
import threading
import warnings
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Dict, List, Optional, Set, Tuple

import pluggy

from . import hookspecs
from ..errors import ConfigError
from ..provider.contract import SPEC_VERSION, Provider, ProviderSpec

__all__ = [
    "Plugins",
    "PluginConflictError",
    "PluginWarning",
    "RegisteredProvider",
    "ENTRY_POINT_GROUP",
    "OBSERVER_HOOKS",
    "default_plugins",
]

ENTRY_POINT_GROUP = "llmplex"

#: Notification hooks fired by the client around each call. An implementation that raises is
#: reported as a :class:`PluginWarning` instead of failing the user's call: a broken metrics
#: or tracing plugin must not take the calls it observes down with it.
OBSERVER_HOOKS = frozenset(
    {"llmplex_before_request", "llmplex_after_response", "llmplex_on_error", "llmplex_on_retry"}
)

_TRUE = ("1", "true", "yes", "on")


class PluginConflictError(ConfigError):
    """Two plugins registered the same provider name; the message names both distributions."""


class PluginWarning(UserWarning):
    """A plugin could not be loaded, registered or called; the others still work."""


@dataclass(frozen=True)
class RegisteredProvider:
    """A provider in the registry, with where it came from (shown by ``llmplex providers``)."""

    spec: ProviderSpec
    #: The plugin's name: its entry-point name, or the name given to ``register_plugin``.
    plugin: str
    #: The distribution that installed the plugin (``"?"`` if unknown, e.g. registered by hand).
    distribution: str
    version: str


def _entry_points() -> List[Any]:
    """The installed entry points of the ``llmplex`` group (a seam tests monkeypatch)."""
    from importlib import metadata

    if sys.version_info >= (3, 10):
        return list(metadata.entry_points(group=ENTRY_POINT_GROUP))
    # Python 3.9: entry points do not know their distribution; walk the distributions instead.
    return [
        _EntryPoint39(ep, dist)
        for dist in metadata.distributions()
        for ep in dist.entry_points
        if ep.group == ENTRY_POINT_GROUP
    ]


class _EntryPoint39:
    """A Python 3.9 entry point with the ``dist`` attribute that 3.10 added."""

    def __init__(self, ep: Any, dist: Any) -> None:
        self._ep = ep
        self.name: str = ep.name
        self.value: str = ep.value
        self.group: str = ep.group
        self.dist = dist

    def load(self) -> Any:
        return self._ep.load()


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in _TRUE


def _env_list(name: str) -> Optional[Set[str]]:
    """The comma-separated names in ``$name``; None when the variable is unset or blank."""
    names = {n.strip() for n in os.environ.get(name, "").split(",") if n.strip()}
    return names or None


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class Plugins:
    """The plugin manager and the provider registry it fills.

    ``Plugins()`` follows the environment (see the module docstring); ``Plugins(autoload=False)``
    loads nothing, for tests that register plugin objects by hand and hand the result to
    ``Client(plugins=...)``.
    """

    def __init__(self, *, autoload: Optional[bool] = None) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.providers: Dict[str, RegisteredProvider] = {}
        #: Plugin name -> why it failed (distribution and error), for ``llmplex providers``.
        self.failed: Dict[str, str] = {}
        self._hook = _IsolatedHooks(self.pm)
        only = _env_list("LLMPLEX_PLUGINS")
        if autoload is None:
            autoload = only is not None or not _env_flag("LLMPLEX_DISABLE_PLUGIN_AUTOLOAD")
        if autoload:
            self.load_entry_points(only=only)

    def __repr__(self) -> str:
        return f"Plugins(providers={sorted(self.providers)}, failed={sorted(self.failed)})"

    @property
    def hook(self) -> Any:
        """The hook relay the client calls (``plugins.hook.llmplex_on_retry(...)``).

        Observer hooks are called one implementation at a time, each isolated (see
        :data:`OBSERVER_HOOKS`); every other hook is pluggy's own caller.
        """
        return self._hook

    def load_entry_points(self, *, only: Optional[Set[str]] = None) -> None:
        """Load the ``llmplex`` entry points (only those named in ``only``, if given)."""
        seen: Set[str] = set()
        for ep in _entry_points():
            seen.add(ep.name)
            if only is not None and ep.name not in only:
                continue
            if ep.name in self.failed:
                continue
            dist_name, version = _distribution_of(ep)
            try:
                plugin = ep.load()
            except Exception as exc:  # noqa: BLE001 - one broken plugin must not break the rest
                self._fail(ep.name, dist_name, version, "could not be imported", exc)
                continue
            if isinstance(plugin, type):
                # An entry point naming a class ("pkg.mod:AcmePlugin"): its @hookimpl methods
                # need an instance, and a plugin class takes no arguments.
                try:
                    plugin = plugin()
                except Exception as exc:  # noqa: BLE001
                    self._fail(ep.name, dist_name, version, "could not be instantiated (a plugin class takes no arguments)", exc)
                    continue
            if self.pm.is_registered(plugin):
                # The same module reached twice: a second entry point naming it, or one
                # distribution visible twice on sys.path (Python 3.9 does not deduplicate).
                continue
            name = ep.name
            if self.pm.has_plugin(name):
                # Another distribution uses the same entry-point name for a different module.
                # Register it anyway under a distinct name, so that if it registers the same
                # provider names the conflict is reported instead of one being dropped.
                name = f"{dist_name}:{ep.name}"
            self.register_plugin(plugin, name=name, distribution=dist_name, version=version)
        for missing in sorted((only or set()) - seen):
            warnings.warn(
                f"LLMPLEX_PLUGINS names {missing!r}, but no installed distribution has an entry point "
                f"of that name in the {ENTRY_POINT_GROUP!r} group (installed: {', '.join(sorted(seen)) or 'none'})",
                PluginWarning,
                stacklevel=3,
            )

    def register_plugin(
        self, plugin: Any, *, name: Optional[str] = None, distribution: str = "?", version: str = "?"
    ) -> None:
        """Register a plugin object and collect the providers it registers.

        A plugin whose hook implementations do not match the hookspecs, or whose
        ``register_providers`` raises, is left unregistered with a :class:`PluginWarning`. A
        provider name that is already taken raises :class:`PluginConflictError`; the plugin is
        then unregistered again, so the registry is as it was before the call.
        """
        plugin_name = name or getattr(plugin, "__name__", None) or repr(plugin)
        try:
            self.pm.register(plugin, name=plugin_name)
        except pluggy.PluginValidationError as exc:
            # pluggy < 1.7 leaves the plugin half-registered when validation fails.
            if self.pm.is_registered(plugin):
                self.pm.unregister(plugin)
            self._fail(plugin_name, distribution, version, "does not match llmplex's hookspecs", exc)
            return
        others = [p for p in self.pm.get_plugins() if p is not plugin]
        caller = self.pm.subset_hook_caller("register_providers", remove_plugins=others)
        added: List[str] = []

        def register(spec: ProviderSpec) -> None:
            if self._add(spec, plugin_name, distribution, version):
                added.append(spec.name)

        try:
            caller(register=register)
        except Exception as exc:  # noqa: BLE001 - a conflict is re-raised below, after the rollback
            for provider_name in added:
                del self.providers[provider_name]
            self.pm.unregister(plugin)
            if isinstance(exc, PluginConflictError):
                raise
            self._fail(plugin_name, distribution, version, "failed while registering providers", exc)
            return
        if not added and not self.pm.get_hookcallers(plugin):
            # Loaded, yet nothing of it will ever run: almost always the wrong shape (hooks as
            # methods of a class in the module the entry point names), so say what to change.
            origin = _origin(distribution, version)
            warnings.warn(
                f"llmplex plugin {plugin_name!r}{f' from {origin}' if origin else ''} registered no provider and "
                f"implements no hook: {_shape_hint(plugin)}",
                PluginWarning,
                stacklevel=3,
            )

    def _fail(self, plugin: str, distribution: str, version: str, what: str, exc: BaseException) -> None:
        origin = _origin(distribution, version)
        self.failed[plugin] = f"{origin}: {_describe(exc)}" if origin else _describe(exc)
        where = f" from {origin}" if origin else ""
        # stacklevel 3: the caller of load_entry_points / register_plugin.
        warnings.warn(f"llmplex plugin {plugin!r}{where} {what}: {_describe(exc)}", PluginWarning, stacklevel=3)

    def _add(self, spec: ProviderSpec, plugin: str, distribution: str, version: str) -> bool:
        """Validate and store one spec; False when it was refused with a warning."""
        if not isinstance(spec, ProviderSpec):
            raise TypeError(f"plugin {plugin!r} registered {type(spec).__name__}; register(ProviderSpec(...)) expected")
        if not spec.name or "/" in spec.name:
            # Models are addressed as "provider/model": a name with "/" could never be reached.
            raise ValueError(f"plugin {plugin!r} registered provider name {spec.name!r}; it must be non-empty without '/'")
        versions = {spec.spec_version}
        factory = spec.factory
        if isinstance(factory, type) and issubclass(factory, Provider):
            versions.add(factory.spec_version)
        foreign = sorted(versions - {SPEC_VERSION})
        if foreign:
            origin = _origin(distribution, version)
            warnings.warn(
                f"provider {spec.name!r} from plugin {plugin!r}{f' ({origin})' if origin else ''} targets provider "
                f"contract {', '.join(f'v{v}' for v in foreign)}; this llmplex speaks v{SPEC_VERSION}; it was not "
                f"registered (upgrade the plugin or llmplex so that they match)",
                PluginWarning,
                stacklevel=2,
            )
            return False
        existing = self.providers.get(spec.name)
        if existing is not None:
            raise PluginConflictError(
                f"provider {spec.name!r} is registered twice: by {existing.distribution} (plugin {existing.plugin!r}) "
                f"and by {distribution} (plugin {plugin!r}); uninstall one of them, or set "
                f"LLMPLEX_PLUGINS to the entry points you want",
                provider=spec.name,
            )
        self.providers[spec.name] = RegisteredProvider(spec, plugin, distribution, version)
        return True

    def get(self, name: str) -> RegisteredProvider:
        """The registered provider ``name``; a ConfigError with a suggestion if there is none."""
        found = self.providers.get(name)
        if found is not None:
            return found
        installed = sorted(self.providers)
        close = difflib.get_close_matches(name, installed, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ";"
        broken = f" (plugins that failed to load: {', '.join(sorted(self.failed))})" if self.failed else ""
        raise ConfigError(
            f"unknown provider {name!r}{hint} installed providers: {', '.join(installed) or 'none'}{broken}. "
            f"Third-party providers register under the {ENTRY_POINT_GROUP!r} entry-point group.",
            field="provider",
        )


class _IsolatedHooks:
    """``pm.hook``, except that observer hooks cannot break the call they observe.

    pluggy stops at the first implementation that raises, so one faulty plugin would also
    silence every plugin after it; here each implementation is called on its own, in pluggy's
    order (last registered first, honouring tryfirst/trylast).

    The observer relays are made once (the client calls them several times per call); each
    reads the hook's implementations when called, so a plugin registered later is seen.
    """

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self._pm = pm
        for name in OBSERVER_HOOKS:
            setattr(self, name, _Observer(getattr(pm.hook, name), name))

    def __getattr__(self, name: str) -> Any:
        # Only reached for names not set above: pluggy's own callers.
        return getattr(self._pm.hook, name)


class _Observer:
    """One observer hook, called like pluggy's caller (keyword arguments only)."""

    __slots__ = ("_caller", "_name")

    def __init__(self, caller: pluggy.HookCaller, name: str) -> None:
        self._caller = caller
        self._name = name

    def __call__(self, **kwargs: Any) -> List[Any]:
        return _notify(self._caller, self._name, kwargs)

    @property
    def wanted(self) -> bool:
        """Whether any implementation is registered now: with none, the client skips building
        what only the hook would see (a redacted copy of the request)."""
        return bool(self._caller.get_hookimpls())


def _notify(caller: pluggy.HookCaller, name: str, kwargs: Dict[str, Any]) -> List[Any]:
    impls = caller.get_hookimpls()
    if not impls:
        return []
    if any(impl.wrapper or impl.hookwrapper for impl in impls):
        # Wrappers need pluggy's call protocol: keep it, and isolate the hook call as a whole.
        try:
            result: List[Any] = caller(**kwargs)
            return result
        except Exception as exc:  # noqa: BLE001
            _hook_failed(name, "a wrapper of it", exc)
            return []
    results: List[Any] = []
    for impl in reversed(impls):
        try:
            value = impl.function(*[kwargs[arg] for arg in impl.argnames])
        except Exception as exc:  # noqa: BLE001
            _hook_failed(name, repr(impl.plugin_name), exc)
            continue
        if value is not None:
            results.append(value)
    return results


def _hook_failed(hook: str, plugin: str, exc: BaseException) -> None:
    warnings.warn(
        f"llmplex plugin {plugin} raised in {hook}; the call goes on without it: {_describe(exc)}",
        PluginWarning,
        stacklevel=4,
    )


_default: Optional[Plugins] = None
_default_lock = threading.Lock()


def default_plugins() -> Plugins:
    """The process-wide plugin manager, loaded on first use (not at import)."""
    global _default
    # Two threads creating their first Client at once must not load (and warn) twice.
    with _default_lock:
        if _default is None:
            _default = Plugins()
        return _default


def _shape_hint(plugin: Any) -> str:
    """What to change in a plugin that registered nothing (see docs/plugins.md)."""
    if isinstance(plugin, ModuleType):
        classes = sorted(
            name
            for name, value in vars(plugin).items()
            if isinstance(value, type)
            and value.__module__ == plugin.__name__
            and any(getattr(member, f"{hookspecs.PROJECT}_impl", None) is not None for member in vars(value).values())
        )
        if classes:
            return (
                f"its module defines {', '.join(classes)} with @hookimpl methods, but the entry point names the "
                f"module; point the entry point at the class (\"{plugin.__name__}:{classes[0]}\") or make "
                "register_providers a module-level function"
            )
        return (
            f"module {plugin.__name__!r} has no @hookimpl function; define "
            "`@hookimpl def register_providers(register): register(ProviderSpec(...))` at module level"
        )
    return "decorate its register_providers method with llmplex.hookimpl"


def _origin(distribution: str, version: str) -> str:
    """``"name version"`` for messages; empty for a plugin registered by hand."""
    if distribution == "?":
        return ""
    return distribution if version == "?" else f"{distribution} {version}"


def _distribution_of(ep: Any) -> Tuple[str, str]:
    """(name, version) of the distribution that declared ``ep``; ("?", "?") if unknown."""
    dist = getattr(ep, "dist", None)  # Python >= 3.10
    if dist is None:
        return "?", "?"
    return str(dist.metadata["Name"] or "?"), str(dist.version or "?")

