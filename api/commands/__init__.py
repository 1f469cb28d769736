"""The application layer: one function per command a person can give a dispute.

``open_dispute``, ``investigate``, ``revise``, ``decide`` (and ``may_decide``, its dry
run), ``withdraw`` and ``repost`` (a memo the ledger refused) take who is acting, the
dispute, a typed input and the channel
(API, web page or Slack), and return an :class:`Outcome` or raise a :class:`Refused`.
The API routes, the web pages and the Slack handler are adapters over these: they parse
their own input and put the outcome into their own words, nothing more. This layer owns
what every channel must do alike — the Update ids (``update_ids.py``), the delegations a
decision carries, the few checks a workflow validator cannot make (the dispute exists,
it is still open, which level a request means), and one audit format for refusals.
The rules themselves stay in the workflow's validators (``workflows/rules.py``).
"""

from api.commands.changes import investigate, revise, withdraw
from api.commands.context import Commands, Outcome, Refused
from api.commands.decide import DecisionRequest, decide, may_decide
from api.commands.intake import open_dispute
from api.commands.repost import repost

__all__ = ["Commands", "DecisionRequest", "Outcome", "Refused", "decide", "investigate",
           "may_decide", "open_dispute", "repost", "revise", "withdraw"]
