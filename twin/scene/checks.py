"""Geometry checks of a scene that the schema cannot express (docs/scenes.md, "Errors"):
a floor outline that encloses an area, walls that are lines or polygons inside it and
leave free floor space, waveguides over the floor and above the users (MODEL §1).

Each check raises one :class:`~twin.errors.ConfigError` naming the field and the fix;
they run before :class:`~twin.geometry.floorplan.FloorPlan` is built, so shapely never
sees a degenerate polygon.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import LineString, Point, Polygon
from shapely.validation import explain_validity

from twin.errors import ConfigError

#: Coordinates (outline corners, feed and sensing positions) are refused beyond ± this.
MAX_EXTENT_M = 10_000.0
#: The walls must leave at least this fraction of the floor free (users are drawn there).
MIN_FREE_FRACTION = 0.01


def _where(msg: str) -> str:
    """'Self-intersection[5 5]' -> 'self-intersection at (5, 5)'."""
    name, _, at = msg.partition("[")
    xy = at.rstrip("]").split()
    return f"{name.lower()} at ({', '.join(xy)})" if xy else name.lower()


def _tol(poly: Polygon) -> float:
    x0, y0, x1, y1 = poly.bounds
    return 1e-9 * max(1.0, x1 - x0, y1 - y0)


def check_extent(scene, source: str) -> None:
    """Coordinates within ±MAX_EXTENT_M (beyond it distances overflow the channel model)."""
    items = [("floor.outline", scene.floor.outline), ("sensing.position", [scene.sensing.position]),
             ("floor.ceiling_m", [[scene.floor.ceiling_m]]), ("floor.ue_height_m", [[scene.floor.ue_height_m]])]
    items += [(f"floor.walls[{i}].height_m", [[w.height_m]]) for i, w in enumerate(scene.floor.walls)]
    items += [(f"floor.walls[{i}].thickness_m", [[w.thickness_m]]) for i, w in enumerate(scene.floor.walls)]
    items += [(f"waveguides[{i}].feed", [g.feed]) for i, g in enumerate(scene.waveguides)]
    items += [(f"waveguides[{i}].length_m", [[g.length_m]]) for i, g in enumerate(scene.waveguides)]
    for field, pts in items:
        a = np.abs(np.asarray(pts, float))
        if a.size and a.max() > MAX_EXTENT_M:
            raise ConfigError(source, field, f"{a.max():.4g} m is beyond the limit of ±{MAX_EXTENT_M:g} m",
                              "give coordinates in metres (docs/scenes.md, Limits)")


def check_sizes(scene, source: str) -> None:
    """Limits that span two fields (docs/scenes.md, Limits): channel evaluations per frame
    and the number of frames a duration asks for."""
    from twin.scene.schema import MAX_EVALUATIONS_PER_FRAME, MAX_FRAMES

    sim = scene.simulation
    if sim.slots_per_frame * sim.samples_per_slot > MAX_EVALUATIONS_PER_FRAME:
        raise ConfigError(source, "simulation.samples_per_slot",
                          f"slots_per_frame × samples_per_slot = {sim.slots_per_frame * sim.samples_per_slot} "
                          f"is over the limit of {MAX_EVALUATIONS_PER_FRAME} evaluations per frame",
                          "use fewer slots or samples per slot")
    n_clusters = sum(len(g.clusters) for g in scene.waveguides)
    if sim.distinct_clusters and sim.slots_per_frame > n_clusters:
        raise ConfigError(source, "simulation.distinct_clusters",
                          f"every slot a different cluster needs slots_per_frame ≤ the {n_clusters} clusters, "
                          f"got {sim.slots_per_frame}",
                          "use fewer slots per frame, more [[waveguides]] clusters, or distinct_clusters = false")
    if sim.min_slot_s is not None and sim.min_slot_s * sim.slots_per_frame > sim.frame_s:
        raise ConfigError(source, "simulation.min_slot_s",
                          f"{sim.slots_per_frame} slots of at least min_slot_s = {sim.min_slot_s:g} s do not fit in "
                          f"frame_s = {sim.frame_s:g} s", "use a shorter min_slot_s or fewer slots per frame")
    if sim.frames is None and sim.duration_s is not None and sim.duration_s / sim.frame_s > MAX_FRAMES:
        raise ConfigError(source, "simulation.duration_s",
                          f"duration_s / frame_s = {sim.duration_s / sim.frame_s:.3g} frames is over the limit "
                          f"of {MAX_FRAMES} frames", "use a shorter duration_s or a longer frame_s")


def check_outline(scene, source: str) -> Polygon:
    """The floor outline as a valid polygon of non-zero area."""
    pts = np.asarray(scene.floor.outline, float)
    poly = Polygon(pts)
    span = np.ptp(pts, axis=0).max()
    if not poly.is_valid and shapely.make_valid(poly).area > 1e-12 * max(span, 1.0) ** 2:
        raise ConfigError(source, "floor.outline", f"the polygon is invalid: {_where(explain_validity(poly))}",
                          "list the corners in order around the floor, without crossing edges")
    if poly.area <= 1e-12 * max(span, 1.0) ** 2 or not poly.is_valid:
        raise ConfigError(source, "floor.outline", "encloses no area (repeated or collinear corners)",
                          "give at least 3 corners of the floor polygon, in order around it")
    return poly


def check_walls(scene, outline: Polygon, source: str) -> None:
    """Each wall a line of non-zero length (or a simple polygon of non-zero area) whose
    centre line lies inside the outline; a closed wall may be flush with it."""
    tol = _tol(outline)
    region = outline.buffer(tol)
    for i, w in enumerate(scene.floor.walls):
        field = f"floor.walls[{i}].points"
        label = f"wall {w.name!r}" if w.name else f"wall {i}"
        pts = np.asarray(w.points, float)
        if w.closed:
            shape = Polygon(pts)
            if not shape.is_valid and shapely.make_valid(shape).area > tol * tol:
                raise ConfigError(source, field, f"closed {label} is invalid: {_where(explain_validity(shape))}",
                                  "list its corners in order around it, without crossing edges")
            if shape.area <= tol * tol or not shape.is_valid:
                raise ConfigError(source, field, f"closed {label} encloses no area (repeated or collinear points)",
                                  "give at least 3 corners of the polygon, in order")
        else:
            shape = LineString(pts)
            if shape.length <= tol:
                raise ConfigError(source, field, f"{label} has zero length (its points coincide)",
                                  "give two distinct points for its centre line")
        if not region.covers(shape):
            raise ConfigError(source, field, f"{label} lies outside the outline",
                              "move its points inside floor.outline")


def check_free_space(fp, scene, source: str) -> None:
    """Walls leave at least MIN_FREE_FRACTION of the floor free (else users and waypoints
    are drawn from nothing and the draw never ends)."""
    area = fp.outline.area
    free = fp.free.area
    if free >= MIN_FREE_FRACTION * area:
        return
    field = "floor.walls"
    for i, shape in enumerate(fp.wall_shapes):
        if fp.outline.difference(shape).area < MIN_FREE_FRACTION * area:
            field = f"floor.walls[{i}]"
            break
    raise ConfigError(source, field, f"the walls cover the floor: {free:.3g} m² of {area:.3g} m² is free "
                      f"(at least {MIN_FREE_FRACTION:.0%} must be)", "make the walls thinner or smaller")


def check_guides(scene, outline: Polygon, source: str) -> None:
    """Each guide runs over the floor (its floor projection inside the outline) and
    above the users' height (so no PA can sit on a user)."""
    tol = _tol(outline)
    region = outline.buffer(tol)
    shapely.prepare(region)
    ue = scene.floor.ue_height_m
    for i, g in enumerate(scene.waveguides):
        feed = np.asarray(g.feed, float)
        u = np.asarray(g.direction, float)
        u = u / np.linalg.norm(u)
        end = feed + g.length_m * u
        if not region.covers(Point(feed[:2])):
            raise ConfigError(source, f"waveguides[{i}].feed", f"feed {tuple(g.feed)} is outside the floor outline",
                              "put the feed over the floor (its x, y inside floor.outline)")
        track = LineString([feed[:2], end[:2]]) if np.linalg.norm(end[:2] - feed[:2]) > tol else Point(feed[:2])
        if not region.covers(track):
            inside = track.intersection(region)
            parts = getattr(inside, "geoms", [inside])
            first = next((p for p in parts if p.distance(Point(feed[:2])) <= tol), None)
            horiz = np.linalg.norm(u[:2])
            cap = (first.length / horiz) if (first is not None and horiz > 0) else 0.0
            raise ConfigError(source, f"waveguides[{i}].length_m",
                              f"the guide leaves the floor outline (its end is at {tuple(round(float(x), 3) for x in end)})",
                              f"use length_m ≤ {cap:.4g} or change feed/direction")
        low = min(feed[2], end[2])
        if low <= ue:
            field = f"waveguides[{i}].feed" if feed[2] <= end[2] else f"waveguides[{i}].direction"
            raise ConfigError(source, field, f"the guide reaches z = {low:.4g} m, not above the users "
                              f"(floor.ue_height_m = {ue:g} m)",
                              "mount the guide above the users: a feed z above ue_height_m (e.g. the ceiling)")


def check_sensing(scene, source: str) -> None:
    """No target placed on the sensing array: its CRB divides by the array–target distance
    (MODEL §3.3), so a target start position or waypoint there gives inf/NaN."""
    t = scene.targets
    if t is None:
        return
    p = np.asarray(scene.sensing.position, float)
    if abs(p[2] - scene.floor.ue_height_m) > 1e-6:
        return
    spots = [(f"targets.positions[{i}]", q) for i, q in enumerate(t.positions or ())]
    for i in range(t.n):
        m = t.mobility_of(i)
        where = f"targets.mobility[{i}]" if isinstance(t.mobility, tuple) else "targets.mobility"
        spots += [(f"{where}.waypoints[{j}]", q) for j, q in enumerate(m.waypoints if m.model == "waypoints" else ())]
    for field, q in spots:
        if np.linalg.norm(np.asarray(q, float) - p[:2]) < 1e-6:
            raise ConfigError(source, field, f"{tuple(q)} is where the sensing array is ({tuple(scene.sensing.position)})",
                              "move the target, or raise sensing.position (e.g. to the ceiling)")


#: A scripted walker may not run more legs than this in one frame (a tiny looping path
#: walked fast would turn one frame into millions of events).
MAX_LEGS_PER_FRAME = 1000


def check_waypoints(scene, source: str) -> None:
    """Scripted paths (mobility model ``waypoints``) that can be walked: no waypoint
    repeating the one before it, a looping path with at least 2 points, and not so short
    for its speed that a frame holds more than MAX_LEGS_PER_FRAME legs (MODEL §5)."""
    frame_s = scene.simulation.frame_s
    for kind in ("users", "targets", "blockers"):
        ent = getattr(scene, kind)
        if ent is None:
            continue
        listed = isinstance(ent.mobility, tuple)
        for i, m in enumerate(ent.mobility if listed else (ent.mobility,)):
            if m.model != "waypoints":
                continue
            where = f"{kind}.mobility[{i}]" if listed else f"{kind}.mobility"
            wp = np.asarray(m.waypoints, float)
            steps = np.linalg.norm(np.diff(wp, axis=0), axis=1)
            for j in np.flatnonzero(steps < 1e-9):
                raise ConfigError(source, f"{where}.waypoints[{j + 1}]", f"repeats waypoints[{j}]",
                                  "remove it (pause_s makes a walker wait at each waypoint)")
            if not m.loop:
                continue
            if len(wp) < 2:
                raise ConfigError(source, f"{where}.waypoints",
                                  "a looping path (loop = true, the default) needs at least 2 waypoints",
                                  "add a waypoint, or set loop = false to walk there and stay")
            length = steps.sum() + np.linalg.norm(wp[-1] - wp[0])
            legs = len(wp) * frame_s * m.speed_range[0] / length
            if m.pause_range[0] == 0 and legs > MAX_LEGS_PER_FRAME:
                raise ConfigError(source, f"{where}.waypoints",
                                  f"the loop is {length:.3g} m long: at {m.speed_range[0]:g} m/s that is "
                                  f"{legs:.3g} legs per frame, over the limit of {MAX_LEGS_PER_FRAME}",
                                  "lengthen the path, walk slower, or give pause_s > 0")


def check_stations(scene, source: str) -> None:
    """The installed positions of an activation guide (MODEL §5) are at least the guide's
    minimum PA spacing apart (two PAs cannot be mounted closer)."""
    lam = scene.radio.wavelength_m
    for i, g in enumerate(scene.waveguides):
        pts = g.stations
        if pts is None:
            continue
        delta = g.min_spacing_m if g.min_spacing_m is not None else lam / 2
        gaps = np.diff(pts)
        if gaps.size and gaps.min() < delta - 1e-12:
            field = "installed_m" if g.installed_m is not None else "installed_count"
            raise ConfigError(source, f"waveguides[{i}].{field}",
                              f"installed positions {gaps.min():.4g} m apart, closer than the PA spacing "
                              f"{delta:.4g} m", "space them at least min_spacing_m (default λ/2) apart")
