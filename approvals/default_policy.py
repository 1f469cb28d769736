"""The policy shipped out of the box: exactly the example of the public contract (API.md).

It is a plain document rather than a :class:`~approvals.policy.Policy` so that it goes through
the same ``parse_policy`` door as any admin's file, and can be written out as the starting
point of ``disputeflow policy apply``. Amounts and the reminder ratio are strings so the
document is JSON-safe and never passes money through a float. Treat it as read-only: copy it
(``copy.deepcopy``) before changing anything.
"""

from __future__ import annotations

from typing import Any

DEFAULT_POLICY_DOCUMENT: dict[str, Any] = {
    "base_currency": "USD",
    "aggregation_window_days": 30,
    "levels": {
        "billing_manager": {"sla": "P2D", "escalate_to": "senior_billing_manager"},
        "senior_billing_manager": {"sla": "P2D", "escalate_to": "director_revops"},
        "director_revops": {"sla": "P3D", "escalate_to": "controller"},
        "controller": {"sla": "P3D"},
    },
    "tiers": [
        {"min": "0", "levels": ["billing_manager"]},
        {"min": "5000", "levels": ["billing_manager", "senior_billing_manager"]},
        {
            "min": "25000",
            "levels": ["billing_manager", "senior_billing_manager", "director_revops"],
        },
        {
            "min": "100000",
            "levels": [
                "billing_manager",
                "senior_billing_manager",
                "director_revops",
                "controller",
            ],
        },
    ],
    "prior_period_requires": "controller",
    "sla": {"acknowledge": "PT8H", "investigate": "P5D", "resolve": "P10D", "remind_at": "0.5"},
    "calendar": {
        "timezone": "America/Los_Angeles",
        "workdays": ["mon", "tue", "wed", "thu", "fri"],
        "holidays": ["2026-11-26", "2026-12-25"],
    },
}
