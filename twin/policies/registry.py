"""Policy registry: one name per policy; parameters validated against its defaults."""

from __future__ import annotations

from twin.errors import ConfigError

_REGISTRY: dict[str, type] = {}


def register(cls):
    """Class decorator: register a :class:`~twin.policies.base.Policy` under ``cls.name``."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"policy name {cls.name!r} registered twice")
    _REGISTRY[cls.name] = cls
    return cls


def available() -> dict[str, type]:
    """All registered policies by name (sorted)."""
    _discover()
    return dict(sorted(_REGISTRY.items()))


def make_policy(name: str, world, params: dict | None = None, source: str = "controller"):
    """Instantiate policy ``name`` with ``params`` merged over its defaults.

    Unknown names or parameters raise :class:`ConfigError` naming the field and the fix.
    """
    _discover()
    params = dict(params or {})
    if name not in _REGISTRY:
        raise ConfigError(source, "policy", f"unknown policy {name!r}",
                          f"use one of: {', '.join(sorted(_REGISTRY))}")
    cls = _REGISTRY[name]
    unknown = sorted(set(params) - set(cls.params))
    if unknown:
        raise ConfigError(source, f"params.{unknown[0]}",
                          f"policy {name!r} has no parameter {unknown[0]!r}",
                          f"its parameters are: {', '.join(sorted(cls.params)) or '(none)'}")
    for key, value in params.items():
        default = cls.params[key]
        if default is not None and not isinstance(value, type(default)) and not (
                isinstance(default, float) and isinstance(value, int)):
            raise ConfigError(source, f"params.{key}",
                              f"expected {type(default).__name__}, got {value!r}",
                              f"give {key} like its default {default!r}")
    return cls(world, **params)


def _discover():
    import importlib
    import pkgutil

    import twin.policies as pkg

    for mod in pkgutil.iter_modules(pkg.__path__):
        if mod.name not in ("base", "registry"):
            importlib.import_module(f"twin.policies.{mod.name}")
