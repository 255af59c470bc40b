"""The evaluator (MODEL §3, §5): metrics of the in-force state — users' and targets'
actual positions, the elements where the actuator has really moved them, the slot's
active set and beamformers — computed through the transmitter alone, whatever hardware
or controller a run has. Knows no paper."""

from __future__ import annotations

import numpy as np

from twin.hardware import HardwareState
from twin.physics.clusters import frame_outage, look_angles
from twin.physics.sensing import crb_from_channel, crb_over_slots, radar_gain, root_crb
from twin.physics.sinr import rate_bps_hz, sinr_downlink


class Evaluator:
    """Metrics of one run's World (transmitter, floor, sensing receiver, requirements)."""

    def __init__(self, world):
        self.world = world
        self.tx = world.tx
        tg = world.scene.targets
        self.rcs_m2 = tg.rcs_m2 if tg is not None else 1.0
        self.rcs_decay = tg.rcs_decay_per_rad if tg is not None else 0.0

    def users(self, state: HardwareState, W, Rs, users, served=None) -> dict:
        """SINR (K,), rate (K,), outage (K,) against γ_k, LoS element count and the
        smallest wall loss (dB) over active elements per user, and the true channel H
        (MODEL §3.1, §3.5, §2.5), the smallest body loss (dB) over active elements (MODEL
        §5.1). A user not ``served`` in the slot has rate 0 and is not
        in outage (MODEL §5.1: it counts in its throughput, not against its SINR target)."""
        w = self.world
        served = np.ones(len(users), bool) if served is None else np.asarray(served, bool)
        wall = self.tx.wall_loss_db(state, users)                         # (N,M,K), once
        H = self.tx.channel_to(state, users, wall)
        sinr = sinr_downlink(H, W, w.noise_w, Rs)
        loss_db = self.tx.los_loss_db(state, users, wall)                 # (P,K)
        body_db = self.tx.body_loss_db(state, users)                      # (P,K), MODEL §5.1
        return {"sinr": sinr, "rate": np.where(served, rate_bps_hz(sinr), 0.0),
                "outage": served & (sinr < w.sinr_target), "H": H,
                "los": (loss_db == 0).sum(axis=0),
                "loss": loss_db.min(axis=0) if loss_db.size else np.full(len(users), np.inf),
                "body": body_db.min(axis=0) if body_db.size else np.full(len(users), np.inf)}

    def rcrb(self, state: HardwareState, W, Rs, targets) -> np.ndarray:
        """Root CRB (m) of every target's position for the transmit covariance
        R = WWᴴ + R_s (MODEL §3.3); inf where the CRB does not exist."""
        w = self.world
        R = W @ W.conj().T + (Rs if Rs is not None else 0)
        out = []
        for q in targets:
            h, dh = self.tx.target_channel(state, q)
            crb = crb_from_channel(R, h, dh, q, w.sensing.position, w.sensing.elements, w.fc,
                                   rx_axis=w.sensing.axis, rx_spacing=w.sensing.spacing,
                                   rcs_m2=self.rcs_m2, snapshots=w.sensing.snapshots, noise_w=w.sensing_noise_w)
            out.append(root_crb(crb) if np.all(np.isfinite(crb)) else np.inf)
        return np.asarray(out, float)

    # --- a frame's samples at once (the engine's path; same values as the methods above) ----
    def users_batch(self, geo, W, Rs, users, served, bodies=None, channels=None) -> dict:
        """:meth:`users` for the T samples of a frame at once: ``geo`` the states'
        :class:`~twin.hardware.base.BatchGeometry`, W (T,N,K), Rs a list of T (N,N) or None,
        users (T,K,3), served (T,K) bool, bodies the T instants' people (or None),
        channels (H, wall loss) if already computed (:meth:`Transmitter.batch_channels`).
        Every entry (T,K) equals the one-sample value (MODEL §3.1, §3.5, §2.5, §5.1)."""
        w, tx = self.world, self.tx
        T, K = users.shape[:2]
        H, wall = tx.batch_channels(geo, users, bodies) if channels is None else channels
        if all(r is None for r in Rs):
            sinr = sinr_downlink(H, W, w.noise_w)
        else:
            sinr = np.stack([sinr_downlink(H[t], W[t], w.noise_w, Rs[t]) for t in range(T)])
        act = geo.active
        n_act = act.sum(axis=(1, 2))
        if wall is None:                                                   # open room: every link LoS
            los = np.broadcast_to(n_act[:, None], (T, K))
            loss = np.where(n_act[:, None] > 0, 0.0, np.inf) * np.ones((T, K))
        else:
            los = ((wall == 0) & act[..., None]).sum(axis=(1, 2))
            loss = np.where(act[..., None], wall, np.inf).min(axis=(1, 2))
        body = np.where(n_act[:, None] > 0, 0.0, np.inf) * np.ones((T, K))
        if bodies is not None:
            from twin.physics.body import body_loss_db
            from twin.units import wavelength

            for t, b in enumerate(bodies):
                if b is not None and len(b) and n_act[t]:
                    pos = geo.positions[t][act[t]]
                    body[t] = body_loss_db(pos[:, None, :], users[t][None, :, :], b, wavelength(tx.fc)).min(axis=0)
        return {"sinr": sinr, "rate": np.where(served, rate_bps_hz(sinr), 0.0),
                "outage": served & (sinr < w.sinr_target), "H": H, "los": los, "loss": loss, "body": body}

    def sensing_batch(self, W, Rs, targets, channels, frames, beams=None):
        """:meth:`rcrb` of the samples of one or more frames and :meth:`frame_rcrb` of each
        frame's targets, together: one Fisher evaluation per target (MODEL §3.3). W (S,N,K),
        Rs a list, targets (S,J,3) with ``channels`` per target (h (S,N), ∂h (S,2,N)) at the
        samples; ``frames`` = ``[(slots, frame targets (J,3), per target (h, ∂h) at the slot
        centres), …]`` with ``slots`` as for :meth:`frame_rcrb`. Returns root CRBs (S,J) and
        (F,J), the values of the separate methods. ``beams``: the W objects stacked in ``W``,
        so that a slot centre radiating the very same matrices as a sample reuses its
        covariance."""
        from twin.physics.sensing import crbs_of_frames

        w = self.world
        R = W @ np.swapaxes(W.conj(), -1, -2)
        if all(r is None for r in Rs):
            R = R + 0                       # the one-sample ``WWᴴ + 0``, at once (the same floats)
        else:
            R = np.stack([R[t] + (Rs[t] if Rs[t] is not None else 0) for t in range(len(R))])
        # a slot centre radiating a sample's own beams (one sample per slot: the same W and R_s
        # objects) takes that sample's covariance: the same product of the same matrices
        by_beams = {(id(Wt), id(Rst)): t for t, (Wt, Rst) in enumerate(zip(beams, Rs))} if beams is not None else {}
        Rm = [[R[by_beams[(id(Wj), id(Rsj))]] if (id(Wj), id(Rsj)) in by_beams
               else Wj @ Wj.conj().T + (Rsj if Rsj is not None else 0) for _, _, Wj, Rsj in slots]
              for slots, _, _ in frames]
        out, frame = np.empty(targets.shape[:2]), np.empty((len(frames), targets.shape[1]))
        for j in range(targets.shape[1]):
            parts = []
            for (slots, q0, fch), rm in zip(frames, Rm):
                total = sum(d for d, _, _, _ in slots)
                hm, dhm = fch[j]
                parts.append(([(dur / total, rm[i], hm[i], dhm[i]) for i, (dur, _, _, _) in enumerate(slots)],
                              np.asarray(q0[j], float)))
            h, dh = channels[j]
            crb, crb_f = crbs_of_frames(R, h, dh, targets[:, j], parts, w.sensing.position, w.sensing.elements, w.fc,
                                        rx_axis=w.sensing.axis, rx_spacing=w.sensing.spacing, rcs_m2=self.rcs_m2,
                                        snapshots=w.sensing.snapshots, noise_w=w.sensing_noise_w)
            crb = np.concatenate([crb, crb_f])
            ok = np.all(np.isfinite(crb), axis=(-2, -1))
            tr = crb[..., 0, 0] + crb[..., 1, 1]
            r = np.where(ok, np.sqrt(np.where(ok, tr, 0.0)), np.inf)
            out[:, j], frame[:, j] = r[:len(h)], r[len(h):]
        return out, frame

    def frame_rcrb(self, slots, target, channels=None) -> float:
        """Root CRB (m) of a target's position from all the echoes of a frame (MODEL §3.3):
        ``slots`` = ``[(duration_s, state, W, Rs), …]`` at the slots' centres; the slots'
        Fisher information adds (common β), so a frame whose slots each radiate from one
        RF chain (paper 001 clusters) still locates the target. inf when singular."""
        w, tx = self.world, self.tx
        q = np.asarray(target, float)
        total = sum(d for d, _, _, _ in slots)
        if channels is None:                 # the slots' channels at once (``channels``: given)
            geo = tx.batch_geometry([state for _, state, _, _ in slots])
            channels = tx.batch_target_channels(geo, np.broadcast_to(q, (len(slots), 3)), [tx.bodies] * len(slots))
        hs, dhs = channels
        parts = [(dur / total, W @ W.conj().T + (Rs if Rs is not None else 0), hs[i], dhs[i])
                 for i, (dur, _, W, Rs) in enumerate(slots)]
        crb = crb_over_slots(parts, q, w.sensing.position, w.sensing.elements, w.fc, rx_axis=w.sensing.axis,
                             rx_spacing=w.sensing.spacing, rcs_m2=self.rcs_m2, snapshots=w.sensing.snapshots,
                             noise_w=w.sensing_noise_w)
        return root_crb(crb) if np.all(np.isfinite(crb)) else np.inf

    def cluster_weights(self, slots, target) -> tuple[np.ndarray, np.ndarray]:
        """``w_c = Σ_t (τ_t/T_tot) g_c`` (C,) and the clusters' look angles θ_c (C,) for
        slots ``[(duration_s, state), …]`` (MODEL §3.4): in each slot every cluster with
        active elements contributes its own gain (the other clusters switched off)."""
        tx, w = self.tx, self.world
        q = np.asarray(target, float)
        total = sum(d for d, _ in slots)
        centres = tx.cluster_centres()
        weights = np.zeros(len(centres))
        for dur, state in slots:
            act = np.asarray(state.active, bool) & tx.installed
            for i, (n, c, _) in enumerate(centres):
                mask = np.zeros_like(act)
                mask[n] = act[n] & (tx.cluster[n] == c)
                if mask.any():
                    h, _ = tx.target_channel(state.with_(active=mask), q)
                    weights[i] += dur / total * float(radar_gain(
                        np.sum(np.abs(h) ** 2), q, w.sensing.position, w.sensing.elements, w.power_w,
                        w.sensing_noise_w))
        return weights, look_angles(tx, q)

    def cluster_sensing(self, slots, target, rng: np.random.Generator) -> dict:
        """Sensing outage of a frame of a clustered transmitter (MODEL §3.4): exact,
        Chernoff bound, one Monte-Carlo event drawn with ``rng``, mean accumulated SNR."""
        if not self.tx.clustered:
            return {}
        weights, angles = self.cluster_weights(slots, target)
        return frame_outage(weights, angles, self.rcs_m2, self.rcs_decay, self.world.sensing_threshold, rng)

    def estimate_target(self, slots, target, rng: np.random.Generator, **search):
        """The BS's estimate of a target's position from one frame's echoes (MODEL §5.1
        "Target estimation"): ``slots`` = ``[(duration_s, state, W, Rs), …]`` at the slots'
        centres, the echo of each slot simulated over its share of the ``snapshots`` with
        the slot's transmit covariance ``R = WWᴴ + R_s`` (symbols and receiver noise drawn
        from ``rng``), the position found by maximum likelihood with β concentrated out
        over the floor's free space. Returns a
        :class:`~twin.physics.estimation.Estimate`."""
        from twin.physics.estimation import ReceiveArray, estimate_position, simulate_echo, split_snapshots
        from twin.physics.sensing import receiver_response

        w, tx = self.world, self.tx
        q = np.asarray(target, float)
        sn = w.sensing
        T = split_snapshots([d for d, _, _, _ in slots], sn.snapshots)
        echo_slots = []
        for T_j, (_, state, W, Rs) in zip(T, slots):
            h, _ = tx.target_channel(state, q)
            echo_slots.append((T_j, W @ W.conj().T + (Rs if Rs is not None else 0), h))
        a, _, beta = receiver_response(q, sn.position, sn.elements, w.fc, rx_axis=sn.axis,
                                       rx_spacing=sn.spacing, rcs_m2=self.rcs_m2)
        Y, S = simulate_echo(echo_slots, a, beta, w.sensing_noise_w, rng)
        rx = ReceiveArray(sn.position, sn.axis, sn.elements, sn.spacing, w.fc)
        states = [state for _, state, _, _ in slots]
        corners = np.asarray(w.floor.outline.exterior.coords)[:, :2]
        r_max = float(np.max(np.linalg.norm(corners - sn.position[:2], axis=1)))
        return estimate_position(Y, S, lambda pts: [tx.channel_to(st, pts) for st in states], rx,
                                 w.sensing_noise_w, height=float(q[2]), r_max=r_max,
                                 inside=w.floor.is_free, **search)
