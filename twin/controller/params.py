"""Stage parameters: each declared with its type, unit, range or choices and meaning, and
validated at load time (a wrong type, an unknown value or a value out of range stops the
run before it starts, naming the stage, the field and the fix)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from twin.errors import ConfigError


@dataclass(frozen=True)
class Param:
    """default; unit ("" if none); doc: one line; choices (strings) or lo/hi (numbers,
    inclusive)."""

    default: Any
    doc: str
    unit: str = ""
    choices: tuple = ()
    lo: float | None = None
    hi: float | None = None

    @property
    def type(self) -> type:
        return type(self.default)

    def describe(self) -> str:
        rng = ""
        if self.choices:
            rng = " | ".join(map(str, self.choices))
        elif self.lo is not None or self.hi is not None:
            lo = "-inf" if self.lo is None else f"{self.lo:g}"
            hi = "inf" if self.hi is None else f"{self.hi:g}"
            rng = f"[{lo}, {hi}]"
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.default!r}{unit}  {rng}  {self.doc}".replace("  ", "  ")

    def validate(self, value, where: str, source: str):
        """The value, converted where lossless (int for a float parameter), or ConfigError."""
        t = self.type
        if t is bool:
            if not isinstance(value, bool):
                raise ConfigError(source, where, f"expected true or false, got {value!r}", f"give {where} = true or false")
        elif t is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(source, where, f"expected a whole number, got {value!r}",
                                  f"give {where} like its default {self.default!r}")
        elif t is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(source, where, f"expected a number, got {value!r}",
                                  f"give {where} like its default {self.default!r}")
            value = float(value)
            if value != value or value in (float("inf"), float("-inf")):
                raise ConfigError(source, where, f"expected a finite number, got {value!r}", f"give a finite {where}")
        elif t is str:
            if not isinstance(value, str):
                raise ConfigError(source, where, f"expected a string, got {value!r}",
                                  f"give {where} as one of: {', '.join(self.choices)}" if self.choices else "quote it")
        if self.choices and value not in self.choices:
            close = difflib.get_close_matches(str(value), [str(c) for c in self.choices], n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(source, where, f"unknown value {value!r}",
                              f"{hint}use one of: {', '.join(map(str, self.choices))}")
        if self.lo is not None and value < self.lo or self.hi is not None and value > self.hi:
            lo = "-inf" if self.lo is None else f"{self.lo:g}"
            hi = "inf" if self.hi is None else f"{self.hi:g}"
            raise ConfigError(source, where, f"{value!r} is out of range [{lo}, {hi}]",
                              f"give {where} between {lo} and {hi}")
        return value


def validate_params(spec: dict[str, Param], given: dict, prefix: str, source: str) -> dict:
    """Defaults of ``spec`` overridden by ``given``, each value validated."""
    out = {k: p.default for k, p in spec.items()}
    for key, value in given.items():
        if key not in spec:
            close = difflib.get_close_matches(key, list(spec), n=1)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ConfigError(source, f"{prefix}.{key}", f"no parameter {key!r}",
                              f"{hint}its parameters are: {', '.join(sorted(spec)) or '(none)'}")
        out[key] = spec[key].validate(value, f"{prefix}.{key}", source)
    return out
