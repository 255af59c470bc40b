"""Crash-safe trace writer (docs/traces.md): rows are buffered per table and written
as columns in large batches, as Parquet part files (a dataset directory per table),
every ``flush_frames`` frames or ``flush_s`` seconds. Each part is written under a
dot-name and renamed into place, so a run killed midway leaves readable tables made of
whole parts.

``add`` only records the caller's values; each column is built once per flush (one
``np.repeat`` or ``np.concatenate`` over the batch) and the Parquet encoding runs once
per flush over the whole batch. The former writer converted and broadcast every column
on every ``add`` (``np.asarray`` and ``np.full`` per scalar), which cost more than the
flush itself: replaying the writes of 200 ``office`` frames took 2.2 ms a frame with
the former writer and 0.9 ms with this one (``benchmarks/bench_engine.py`` reports the
writer's time per frame in a run)."""

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
    """The rows of one table not yet flushed.

    ``append`` keeps the caller's values with the add's row count and which columns came
    as arrays (arrays are referenced, not copied: the engine passes fresh arrays);
    ``take_table`` builds each column once per flush: one ``np.concatenate`` for a column
    given as arrays, one ``np.repeat`` for a column given as scalars."""

    def __init__(self, schema: pa.Schema):
        self.schema = schema
        self.names = schema.names
        self.dtypes = [np.dtype(f.type.to_pandas_dtype()) for f in schema]
        self._clear()

    def _clear(self):
        self.rows: list[dict] = []
        self.lens: list[int] = []
        self.shapes: set[int] = set()     # bit masks of the columns given as arrays

    def append(self, columns: dict) -> None:
        n, mask, bit = None, 0, 1
        for c in self.names:
            v = columns[c]                  # KeyError names a missing column
            t = type(v)
            if t is list or t is tuple:
                v = columns[c] = np.asarray(v)
                t = np.ndarray
            if t is np.ndarray and v.ndim:
                if n is None:               # a length mismatch is caught at the flush
                    n = len(v)
                mask |= bit
            bit <<= 1
        self.rows.append(columns)
        self.lens.append(1 if n is None else n)
        self.shapes.add(mask)

    def take_table(self) -> pa.Table | None:
        rows, lens, shapes = self.rows, np.asarray(self.lens, np.int64), self.shapes
        self._clear()
        total = int(lens.sum())
        if total == 0:
            return None
        arrays = []
        for i, (f, name, dtype) in enumerate(zip(self.schema, self.names, self.dtypes)):
            values = [r[name] for r in rows]
            if len(shapes) == 1 and not (next(iter(shapes)) >> i) & 1:      # scalars only
                col = np.repeat(np.array(values, dtype=dtype), lens)
            elif len(shapes) == 1:                                          # arrays only
                col = np.concatenate(values).astype(dtype, copy=False)
            else:                                                           # mixed adds
                col = np.empty(total, dtype)
                a = 0
                for v, k in zip(values, lens):
                    col[a:a + k] = v
                    a += k
            if len(col) != total:
                raise ValueError(f"trace column {name!r}: {len(col)} values for {total} rows "
                                 f"(arrays of one add must have the same length)")
            arrays.append(pa.array(col, type=f.type))
        return pa.Table.from_arrays(arrays, schema=self.schema)


class TraceWriter:
    """``keep``: columns per table (e.g. ``twin.traces.reader.SUMMARY_COLUMNS``) of every
    part to keep in memory as written (:attr:`kept`, name → tables in write order), so
    the run can be summarised without reading its files back; at most ``keep_rows`` rows
    in all, past which nothing is kept (:attr:`kept` None: read the files)."""

    def __init__(self, run_dir: str | Path, flush_frames: int = 200, flush_s: float = 5.0,
                 keep: dict[str, list[str]] | None = None, keep_rows: int = 2_000_000):
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
        self._keep, self._keep_rows = keep, keep_rows
        self.kept: dict[str, list[pa.Table]] | None = {n: [] for n in keep} if keep else None
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
            # LZ4 without dictionary pages: a third less CPU than zstd for the same
            # values, files about as small (docs/performance.md, engine fourth round)
            pq.write_table(table, tmp, compression="lz4", use_dictionary=False)
            tmp.replace(final)                                # atomic: a kill never leaves half a file
            wrote = True
            if self.kept is not None and name in self.kept:
                self.kept[name].append(table.select(self._keep[name]))
                self._keep_rows -= table.num_rows
                if self._keep_rows < 0:
                    self.kept = None
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
