"""MODEL §2.5: 3D blockage by walls of finite height, per-wall loss, opaque walls."""

import numpy as np
import pytest

from twin.geometry.floorplan import FloorPlan
from twin.scene.schema import Wall

OUTLINE = [(0, 0), (10, 0), (10, 10), (0, 10)]


def _fp():
    walls = [Wall(points=((5, 0), (5, 4)), height_m=1.5, loss_db=6.0),     # low partition
             Wall(points=((5, 6), (5, 10)), height_m=3.0, loss_db=9.0),    # tall wall
             Wall(points=((2, 4.5), (2, 5.5)), height_m=3.0, opaque=True)]
    return FloorPlan(OUTLINE, walls)


def test_link_over_low_partition_is_clear_but_through_tall_wall_pays_its_loss():
    fp = _fp()
    pa = np.array([4.8, 2.0, 3.0])        # ceiling PA right next to the partition
    ue = np.array([8.0, 2.0, 0.0])
    assert fp.loss_db(pa, ue) == 0.0       # crosses x=5 at height ≈ 2.8 m > 1.5 m
    low_pa = np.array([1.0, 2.0, 1.0])     # link crosses the partition below 1.5 m
    assert fp.loss_db(low_pa, ue) == pytest.approx(6.0)
    pa2, ue2 = np.array([4.0, 8.0, 3.0]), np.array([8.0, 8.0, 0.0])
    assert fp.loss_db(pa2, ue2) == pytest.approx(9.0)
    assert fp.blockage_amplitude(pa2, ue2) == pytest.approx(10 ** (-9 / 20))


def test_opaque_wall_zeroes_the_link_and_shapes_broadcast():
    fp = _fp()
    pas = np.array([[1.0, 5.0, 3.0], [1.0, 8.0, 3.0]])[:, None, :]
    ues = np.array([[3.0, 5.0, 0.0], [8.0, 8.0, 0.0], [1.0, 1.0, 0.0]])[None, :, :]
    b = fp.blockage_amplitude(pas, ues)
    assert b.shape == (2, 3)
    assert b[0, 0] == 0.0                       # through the opaque wall (crossing below 3 m)
    assert b[1, 1] == pytest.approx(10 ** (-9 / 20))
    assert b[1, 2] == 1.0


def test_no_walls_is_an_open_room():
    fp = FloorPlan(OUTLINE, [])
    assert np.all(fp.blockage_amplitude(np.array([[1, 1, 3.0]]), np.array([[9, 9, 0.0]])) == 1.0)


# --- the wall-first kernel against the former links-first one and against shapely -------

def _loss_db_links_first(fp, p, q):
    """The former ``loss_db`` (links × walls, walls innermost): the reference the
    wall-first kernel must equal bit for bit."""
    p = np.asarray(p, float)
    q = np.asarray(q, float)
    shape = np.broadcast_shapes(p.shape, q.shape)[:-1]
    if fp.seg_a.shape[0] == 0:
        return np.zeros(shape)
    e0, e1 = fp._seg_dir
    p0, p1, p2 = p[..., 0, None], p[..., 1, None], p[..., 2, None]
    d0, d1 = q[..., 0, None] - p0, q[..., 1, None] - p1
    w0 = fp.seg_a[:, 0] - p0
    w1 = fp.seg_a[:, 1] - p1
    den = d0 * e1 - d1 * e0
    with np.errstate(divide="ignore", invalid="ignore"):
        t = (w0 * e1 - w1 * e0) / den
        u = (w0 * d1 - w1 * d0) / den
    cross = (den != 0) & (t >= 0) & (t <= 1) & (u >= 0) & (u <= 1)
    with np.errstate(invalid="ignore"):
        z = p2 + t * (q[..., 2, None] - p2)
    hit = cross & (z < fp.seg_height)
    with np.errstate(invalid="ignore"):
        return np.where(hit, fp.seg_loss_db, 0.0).sum(axis=-1)


def _random_floor(rng, n_walls, closed=False):
    """Walls on a 1 m grid (endpoints exactly representable) with random heights and
    losses (some opaque), so links can end on walls or run along them."""
    walls = []
    for _ in range(n_walls):
        a = rng.integers(0, 11, 2)
        b = a + rng.integers(-6, 7, 2)
        if (a == b).all():
            b = a + (1, 0)
        loss = dict(opaque=True) if rng.random() < 0.15 else dict(loss_db=float(rng.uniform(0.5, 12.0)))
        walls.append(Wall(points=(tuple(map(float, a)), tuple(map(float, b))),
                          height_m=float(rng.choice([0.8, 1.2, 2.2, 2.8, 3.5])), **loss))
    if closed:
        walls.append(Wall(points=((3, 3), (6, 3), (6, 6), (3, 6)), closed=True, height_m=2.5, loss_db=5.0))
    return FloorPlan([(-2, -2), (18, -2), (18, 18), (-2, 18)], walls)


def _points(rng, shape, grid_share=0.5):
    """Points: half on the 1 m grid (on wall lines and endpoints), half anywhere;
    heights from the floor to above the tallest wall."""
    xy = rng.uniform(-1, 17, shape + (2,))
    on = rng.random(shape) < grid_share
    xy[on] = np.round(xy[on])
    z = rng.choice([0.0, 1.0, 1.2, 1.5, 2.2, 3.0, 4.0], shape)[..., None] + rng.uniform(0, 0.3, shape + (1,)) * (rng.random(shape + (1,)) < 0.5)
    return np.concatenate([xy, z], axis=-1)


@pytest.mark.parametrize("below", [FloorPlan.ALL_PAIRS_BELOW, 0])         # 0: every call on candidate pairs
@pytest.mark.parametrize("seed", range(6))
def test_wall_first_kernel_equals_the_links_first_one_bit_for_bit(seed, below, monkeypatch):
    monkeypatch.setattr(FloorPlan, "ALL_PAIRS_BELOW", below)
    rng = np.random.default_rng(seed)
    fp = _random_floor(rng, n_walls=int(rng.integers(1, 25)), closed=seed % 2 == 1)
    # small calls take the all-pairs kernel itself (< 2048 pairs), large ones the candidate
    # pairs: (40, 4, 3, 6) is 2880 links, the engine's frame shape (states, guides, PAs, users)
    shapes = [((40, 4, 3, 1), (40, 1, 1, 6)), ((6, 4, 3, 1), (6, 1, 1, 5)), ((30,), (30,)), ((7, 1), (1, 9)),
              ((1, 9), (7, 1)), ((), (40,)), ((5, 2, 1, 1), (5, 1, 1, 1)), ((0,), (3, 1)), ((90, 1), (1, 30))]
    multi = 0
    for sp, sq in shapes:
        p, q = _points(rng, sp), _points(rng, sq)
        new, ref = fp.loss_db(p, q), _loss_db_links_first(fp, p, q)
        assert new.shape == ref.shape
        np.testing.assert_array_equal(new, ref)
        assert np.array_equal(np.signbit(new), np.signbit(ref))
        multi += int((np.isfinite(ref) & (ref > 0)).sum())
    assert multi > 0                                   # some links do pay wall losses
    # links running along a wall's centre line (collinear: never a crossing) and links
    # that end exactly on a wall or pass through a wall's endpoint
    a, b = fp.seg_a[0], fp.seg_b[0]
    along = np.array([[*a, 1.0], [*b, 1.0], [*(2 * b - a), 0.5], [*(a + (b - a) / 2), 0.2]])
    ends = np.array([[*(a + (b - a) / 4), 0.0], [*a, 0.0], [*b, 2.0], [-1.0, -1.0, 0.0], [16.0, 16.0, 3.0]])
    for p, q in [(along[:, None], along[None]), (ends[:, None], along[None]), (along[:, None], ends[None])]:
        np.testing.assert_array_equal(fp.loss_db(p, q), _loss_db_links_first(fp, p, q))


@pytest.mark.parametrize("below", [FloorPlan.ALL_PAIRS_BELOW, 0])
def test_links_crossing_three_or_more_walls_keep_the_former_sum(below, monkeypatch):
    monkeypatch.setattr(FloorPlan, "ALL_PAIRS_BELOW", below)
    # parallel walls 1 m apart with losses whose sums round differently in other orders
    losses = [1e-3, 7.3, 0.1, 3.7, 1e-9, 5.9, 11.0]
    walls = [Wall(points=((x + 1.0, 0.0), (x + 1.0, 10.0)), height_m=3.0, loss_db=v) for x, v in enumerate(losses)]
    walls.append(Wall(points=((0.0, 9.0), (9.0, 9.0)), height_m=0.5, loss_db=2.0))   # too low to matter
    fp = FloorPlan([(0, 0), (10, 0), (10, 10), (0, 10)], walls)
    rng = np.random.default_rng(3)
    p = np.concatenate([rng.uniform(0.0, 0.9, (50, 1, 1)), rng.uniform(0, 10, (50, 1, 1)), np.full((50, 1, 1), 2.0)], -1)
    q = np.concatenate([rng.uniform(1.1, 9.9, (1, 40, 1)), rng.uniform(0, 10, (1, 40, 1)), np.full((1, 40, 1), 1.0)], -1)
    new = fp.loss_db(p, q)
    np.testing.assert_array_equal(new, _loss_db_links_first(fp, p, q))
    assert (new > losses[0] + losses[1] + losses[2] - 1e-9).any()            # ≥ 3 walls crossed


@pytest.mark.parametrize("below", [FloorPlan.ALL_PAIRS_BELOW, 0])
def test_walls_lower_than_every_link_end_block_nothing(below, monkeypatch):
    monkeypatch.setattr(FloorPlan, "ALL_PAIRS_BELOW", below)
    fp = FloorPlan(OUTLINE, [Wall(points=((5, 0), (5, 10)), height_m=1.2, loss_db=6.0)])
    p, q = np.array([1.0, 5.0, 3.0]), np.array([[9.0, 5.0, 1.3], [9.0, 4.0, 1.2]])
    assert (fp.loss_db(p, q) == 0.0).all()               # the links never dip below 1.2 m
    level = np.array([1.0, 5.0, 1.2])
    assert fp.loss_db(level, q[1]) == 0.0                # at 1.2 m: not below the wall's top
    assert fp.loss_db(level, q[1] - (0, 0, 1e-6)) == 6.0  # just below: blocked
    for far in ([9.0, 5.0, np.nan], [9.0, 5.0, -np.inf], [9.0, 5.0, 0.0]):
        far = np.array(far)
        with np.errstate(invalid="ignore"):
            np.testing.assert_array_equal(fp.loss_db(p, far), _loss_db_links_first(fp, p, far))


@pytest.mark.parametrize("below", [FloorPlan.ALL_PAIRS_BELOW, 0])
def test_loss_db_matches_a_per_segment_shapely_reference(below, monkeypatch):
    """Generic links (no link through a wall's end or along a wall): the walls a link
    crosses below their height are exactly shapely's intersecting segments."""
    from shapely.geometry import LineString

    monkeypatch.setattr(FloorPlan, "ALL_PAIRS_BELOW", below)
    rng = np.random.default_rng(11)
    fp = _random_floor(rng, n_walls=12)
    p = np.concatenate([rng.uniform(-1, 17, (300, 2)), rng.uniform(0, 4, (300, 1))], -1)
    q = np.concatenate([rng.uniform(-1, 17, (300, 2)), rng.uniform(0, 4, (300, 1))], -1)
    got = fp.loss_db(p, q)
    for i in range(len(p)):
        link = LineString([p[i, :2], q[i, :2]])
        want = 0.0
        for a, b, h, loss in zip(fp.seg_a, fp.seg_b, fp.seg_height, fp.seg_loss_db):
            x = link.intersection(LineString([a, b]))
            if x.is_empty:
                continue
            frac = np.linalg.norm(np.asarray(x.coords[0]) - p[i, :2]) / np.linalg.norm(q[i, :2] - p[i, :2])
            if p[i, 2] + frac * (q[i, 2] - p[i, 2]) < h:
                want += loss
        assert got[i] == pytest.approx(want, rel=1e-12), i
    assert (got > 0).sum() > 30 and np.isinf(got).any()
