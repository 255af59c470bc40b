"""One colour per user, guide and PA state across every figure and render.

Users take the bright hues of matplotlib's ``tab10`` except red (active PAs, blocked
links, the 2D map's PA markers), brown and grey (reserved for guides); guides take dark,
desaturated tones (black, brown, grey, slate, tan) so a guide's line never reads as a
user's. Reference lines (the SINR target) are black and dashed."""

from __future__ import annotations

import matplotlib

_TAB10 = matplotlib.colormaps["tab10"].colors
# tab10 without red (3), brown (5) and grey (7)
_USERS = tuple(_TAB10[i] for i in (0, 1, 2, 4, 6, 8, 9))
_GUIDES = ((0.0, 0.0, 0.0), _TAB10[5], (0.45, 0.45, 0.45), (0.24, 0.33, 0.40), (0.78, 0.64, 0.47))

PA_ACTIVE = (0.86, 0.08, 0.08)       # red
PA_INACTIVE = (0.55, 0.55, 0.55)     # grey
BLOCKER = (0.62, 0.62, 0.66)         # light blue-grey: people who block links
GUIDE = _GUIDES[0]
TARGET = (0.0, 0.0, 0.0)
SINR_TARGET_LINE = (0.0, 0.0, 0.0)   # black, dashed
OUTAGE_SHADE = (0.85, 0.85, 0.85)    # light grey spans
LINK_CLEAR = (0.1, 0.7, 0.2)
LINK_ATTENUATED = (0.95, 0.6, 0.0)
LINK_BLOCKED = (0.8, 0.0, 0.0)
LINK_LABELS = (("LoS clear", LINK_CLEAR), ("through a wall (finite loss)", LINK_ATTENUATED),
               ("blocked (opaque wall)", LINK_BLOCKED))

# Colour maps: beam / received power (perceptually uniform) and wall loss (a grey ramp:
# darker = more loss), chosen so the two layers cannot be confused.
POWER_CMAP = "viridis"
WALL_CMAP = "Greys"


def user_color(k: int):
    return _USERS[int(k) % len(_USERS)]


def guide_color(n: int):
    return _GUIDES[int(n) % len(_GUIDES)]
