"""Controller policies: compositions of optimisers, one registry (twin.policies.registry).

Every module in this package is imported on first registry use, so a new policy is a
new file with a ``@register``-decorated :class:`Policy` subclass.
"""

from twin.policies.base import Decision, Observation, Policy, SlotPlan
from twin.policies.registry import available, make_policy, register

__all__ = ["Decision", "Observation", "Policy", "SlotPlan", "available", "make_policy", "register"]
