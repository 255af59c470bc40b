"""Run the built-in office scene from Python, read the traces, and print what happened.

    python examples/run_office.py
"""

from twin.engine import Simulation
from twin.scene import load_scene
from twin.traces import read_table

scene = load_scene("office", {"simulation.duration_s": 5.0})
summary = Simulation(scene, "runs/example-office", progress=True).run()
print({k: round(v, 4) if isinstance(v, float) else v for k, v in summary.items()})

users = read_table("runs/example-office", "users")
print(users.groupby("user")[["rate_bps_hz", "outage", "los_pas"]].mean())
pas = read_table("runs/example-office", "pas")
print("PA travel per guide [m]:")
print(pas.sort_values("time_s").groupby(["waveguide", "pa"]).s_m.apply(lambda s: s.diff().abs().sum())
      .groupby("waveguide").sum())
