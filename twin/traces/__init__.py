"""Trace schema, crash-safe Parquet writer, reader and summaries (docs/traces.md)."""

from twin.traces.reader import (beams_of_frame, check_run_dir, load_run_scene, read_meta,
                                read_table, summarize)
from twin.traces.schema import TABLES, TIMING_COLUMNS
from twin.traces.writer import TraceWriter

__all__ = ["TABLES", "TIMING_COLUMNS", "TraceWriter", "beams_of_frame", "check_run_dir",
           "load_run_scene", "read_meta", "read_table", "summarize"]
