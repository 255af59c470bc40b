"""Floor plan geometry (MODEL §2.5) and mobility (MODEL §5)."""

from twin.geometry.floorplan import FloorPlan

__all__ = ["FloorPlan"]
