"""Values typed on the command line (``--set key=v``, ``--param k=v``), read as TOML
reads them, so a flag and a scene file accept the same spellings."""

from __future__ import annotations

import tomllib

from twin.errors import ConfigError


def parse_value(text: str):
    """A command-line value as TOML would read it (numbers, booleans, lists, strings)."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def parse_assignments(items, option: str) -> dict:
    """``["a.b=1", "c=x"]`` -> ``{"a.b": 1, "c": "x"}``; a malformed item raises
    :class:`ConfigError` naming ``option``."""
    out = {}
    for item in items or []:
        if "=" not in item:
            raise ConfigError(option, item, "expected key=value", f"e.g. {option} radio.tx_power_dbm=20")
        k, v = item.split("=", 1)
        out[k.strip()] = parse_value(v.strip())
    return out
