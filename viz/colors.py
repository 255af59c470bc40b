"""One colour per user, guide and PA state across every figure and render."""

from __future__ import annotations

import matplotlib

_TAB10 = matplotlib.colormaps["tab10"].colors
_DARK2 = matplotlib.colormaps["Dark2"].colors

PA_ACTIVE = (0.86, 0.08, 0.08)       # red
PA_INACTIVE = (0.55, 0.55, 0.55)     # grey
GUIDE = (0.15, 0.35, 0.85)
TARGET = (0.0, 0.0, 0.0)
LINK_CLEAR = (0.1, 0.7, 0.2)
LINK_ATTENUATED = (0.95, 0.6, 0.0)
LINK_BLOCKED = (0.8, 0.0, 0.0)


def user_color(k: int):
    return _TAB10[int(k) % len(_TAB10)]


def guide_color(n: int):
    return _DARK2[int(n) % len(_DARK2)]
