"""``schedule`` stages: which users are served in which slot. (Round-robin and
proportional-fair scheduling plug in here: a stage that sets ``plan.users[j]``.)"""

from __future__ import annotations

from twin.controller.stage import Stage, stage


@stage
class ScheduleAll(Stage):
    """Serve every user in every slot, or the users the ``select`` stage assigned to a
    slot (paper 001 serves one user per slot)."""

    role, name = "schedule", "all"
    description = "every user in every slot (or whom the select stage assigned)"

    def run(self, obs, plan):
        plan.users = [u for u in plan.users]
