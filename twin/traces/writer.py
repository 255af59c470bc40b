"""Crash-safe trace writer (docs/traces.md): rows are appended into per-table column
buffers (growable numpy arrays, one per column) and flushed as Parquet part files (a
dataset directory per table) every ``flush_frames`` frames or ``flush_s`` seconds.
Each part is written under a dot-name and renamed into place, so a run killed midway
leaves readable tables made of whole parts.

``add`` costs one slice assignment per column (scalars broadcast for free); the
Parquet encoding happens once per flush over the whole batch. Measured on ``office``
(``benchmarks/bench_engine.py``, cProfile): the former list-of-dicts buffer with
``np.full`` per scalar and a concatenate per flush spent 190 µs per ``add``."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from twin.traces.schema import TABLES


class _ColumnBuffer:
    """The rows of one table not yet flushed: a numpy array per column, grown by doubling."""

    def __init__(self, schema: pa.Schema, capacity: int = 4096):
        self.schema = schema
        self.dtypes = {f.name: np.dtype(f.type.to_pandas_dtype()) for f in schema}
        self.n = 0
        self.cols = {c: np.empty(capacity, dt) for c, dt in self.dtypes.items()}

    def _reserve(self, rows: int) -> None:
        cap = len(next(iter(self.cols.values())))
        if self.n + rows <= cap:
            return
        new = max(2 * cap, self.n + rows)
        for c, a in self.cols.items():
            b = np.empty(new, a.dtype)
            b[:self.n] = a[:self.n]
            self.cols[c] = b

    def append(self, columns: dict) -> None:
        n = None
        for c in self.dtypes:
            v = columns[c]
            if isinstance(v, (list, tuple)):
                v = columns[c] = np.asarray(v)
            if getattr(v, "ndim", 0):
                n = len(v) if n is None else max(n, len(v))
        n = 1 if n is None else n
        if n == 0:
            return
        self._reserve(n)
        a, b = self.n, self.n + n
        for c, buf in self.cols.items():
            buf[a:b] = columns[c]
        self.n = b

    def take_table(self) -> pa.Table | None:
        if self.n == 0:
            return None
        arrays = [pa.array(self.cols[f.name][:self.n], type=f.type) for f in self.schema]
        self.n = 0
        return pa.Table.from_arrays(arrays, schema=self.schema)


class TraceWriter:
    def __init__(self, run_dir: str | Path, flush_frames: int = 200, flush_s: float = 5.0):
        self.dir = Path(run_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        for name in TABLES:
            d = self.dir / f"{name}.parquet"
            if d.exists():
                for part in [*d.glob("part-*.parquet"), *d.glob(".part-*.tmp")]:
                    part.unlink()
            d.mkdir(exist_ok=True)
        self.flush_frames, self.flush_s = flush_frames, flush_s
        self._buf = {n: _ColumnBuffer(s) for n, s in TABLES.items()}
        self._part = 0
        self._frames_since = 0
        self._last_flush = time.monotonic()

    def add(self, table: str, **columns) -> None:
        """Append rows: each column an array (same length) or a scalar (broadcast)."""
        self._buf[table].append(columns)

    def end_frame(self) -> None:
        self._frames_since += 1
        if (self._frames_since >= self.flush_frames
                or time.monotonic() - self._last_flush >= self.flush_s):
            self.flush()

    def flush(self) -> None:
        wrote = False
        for name, buf in self._buf.items():
            table = buf.take_table()
            if table is None:
                continue
            final = self.dir / f"{name}.parquet" / f"part-{self._part:05d}.parquet"
            tmp = final.with_name(f".{final.name}.tmp")        # readers skip dot-files
            pq.write_table(table, tmp, compression="zstd")
            tmp.replace(final)                                # atomic: a kill never leaves half a file
            wrote = True
        if wrote:
            self._part += 1
        self._frames_since = 0
        self._last_flush = time.monotonic()

    def write_json(self, name: str, obj) -> None:
        """Write ``obj`` as standard JSON (NaN and ±inf become ``null``), atomically."""
        tmp = self.dir / f".{name}.tmp"
        tmp.write_text(dumps_json(obj))
        tmp.replace(self.dir / name)


def to_json_safe(obj):
    """``obj`` with numpy values made Python and non-finite floats made None."""
    if isinstance(obj, dict):
        return {str(k): to_json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json_safe(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_json_safe(obj.tolist())
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def dumps_json(obj, indent: int | None = 2) -> str:
    """Standard JSON (RFC 8259): no NaN/Infinity tokens; raises on anything else odd."""
    return json.dumps(to_json_safe(obj), indent=indent, allow_nan=False, default=_json_default)


def _json_default(o):
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")
