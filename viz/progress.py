"""Progress on stderr for the slow viz commands: a tqdm bar over
frames, or over named stages for a single picture."""

from __future__ import annotations

import sys
from contextlib import contextmanager


@contextmanager
def stages(desc: str, names, enabled: bool = True):
    """``with stages("render", ["load", "draw", "write"]) as step: step("load") …`` shows
    ``render: draw | 1/3`` on stderr; each ``step(name)`` completes the previous stage."""
    from tqdm import tqdm

    names = list(names)
    bar = tqdm(total=len(names), desc=desc, unit="step", file=sys.stderr, disable=not enabled,
               bar_format="{desc} | {n_fmt}/{total_fmt} [{elapsed}]", leave=True)
    started = [False]

    def step(name: str) -> None:
        if started[0]:
            bar.update(1)
        started[0] = True
        bar.set_description_str(f"{desc}: {name}", refresh=True)

    try:
        yield step
        if started[0]:
            bar.update(1)
        bar.set_description_str(f"{desc}: done", refresh=True)
    finally:
        bar.close()


def frames(iterable, desc: str, enabled: bool = True, total=None):
    """tqdm over frames on stderr."""
    from tqdm import tqdm

    return tqdm(iterable, desc=desc, unit="frame", file=sys.stderr, disable=not enabled, total=total)
