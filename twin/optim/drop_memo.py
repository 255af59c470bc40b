"""Geometry-only results shared by the schemes and sweep points of one figure drop.

A figure drop (paper 001 / 002, :mod:`twin.experiments.figures`) solves several schemes,
and a sweep the same geometry at several transmit powers (or R_min, T, …), each through
its own controller. Some steps of those solves depend on the geometry alone (the
deployment's guides, the floor's walls, the target and user positions), never on the
power, the noise, T or R_min: the intra-cluster focusing of paper 001 (MODEL §4.5, the PA
positions that maximise a weighted sum of |h_i|², :func:`twin.optim.clustered.focus_positions`
and the target focusing of :func:`twin.optim.clustered_mm.cluster_positions`) and the
candidate-line channel terms of paper 002's element-wise search (MODEL §2.3, §4.2).
Inside :func:`shared` those results are memoised on their exact inputs (arrays by their
bytes), so a repeat returns the very arrays the first call computed: the same answers,
bit for bit, for less work. Outside it (the controller, the engine, tests that do not ask
for it) nothing is memoised.

The store outlives one ``with`` block: the figures run the points of a drop one after the
other (their drop maps are drop-major), each in its own block tagged with the drop, and
the entries of the :data:`KEEP` most recent tags are kept (a Dask worker that runs drops
out of order only recomputes)."""

from __future__ import annotations

from collections import OrderedDict
from contextlib import contextmanager

import numpy as np

#: drops (tags) whose entries are kept between blocks
KEEP = 4

_STORE: OrderedDict = OrderedDict()       # tag -> {key: value}, most recent last
_MEMO: dict | None = None                 # the active block's entries


@contextmanager
def shared(tag=None):
    """Memoise the geometry-only steps of everything solved inside. ``tag``: the drop
    (hashable, e.g. (seed, d)); blocks with the same tag share their entries."""
    global _MEMO
    saved = _MEMO
    if tag is None:
        _MEMO = {}
    else:
        _MEMO = _STORE.pop(tag, None) or {}
        _STORE[tag] = _MEMO
        while len(_STORE) > KEEP:
            _STORE.popitem(last=False)
    try:
        yield
    finally:
        _MEMO = saved


def clear() -> None:
    """Drop every kept entry."""
    _STORE.clear()


def active() -> bool:
    return _MEMO is not None


def _floor_key(floor):
    """The floor's walls (all that blockage depends on, MODEL §2.5); None: no blockage."""
    if floor is None or not floor.seg_a.shape[0]:
        return None
    return tuple(np.asarray(getattr(floor, a), float).tobytes() for a in ("seg_a", "seg_b", "seg_height", "seg_loss_db"))


def geometry_key(layout) -> tuple:
    """What a PA's channel term depends on (MODEL §2.2-§2.5): the guides, which PAs are
    installed (the default power split ρ = 1/√M_n) and the walls."""
    dep = layout.deployment
    return ((float(dep.fc),) + tuple(np.asarray(a, float).tobytes() for a in
                                     (dep.feed, dep.direction, dep.n_eff, dep.attenuation, dep.installed))
            + (np.asarray(dep.installed).shape, _floor_key(layout.floor)))


def _canon(v):
    if isinstance(v, np.ndarray):
        return (v.dtype.str, v.shape, v.tobytes())
    if isinstance(v, (list, tuple)):
        return tuple(_canon(x) for x in v)
    if isinstance(v, np.generic):
        return v.item()
    return v


def memo(name: str, layout, args: tuple, compute):
    """``compute()`` memoised on (name, the layout's geometry, args) while :func:`shared`
    is active; else computed."""
    if _MEMO is None:
        return compute()
    key = (name, geometry_key(layout), _canon(args))
    hit = _MEMO.get(key)
    if hit is None:
        hit = _MEMO[key] = compute()
    return hit
