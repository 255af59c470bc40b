"""The built-in stages (importing this package registers them)."""

from twin.controller.stages import beamform, position, schedule, select  # noqa: F401
