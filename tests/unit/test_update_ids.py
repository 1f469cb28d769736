"""Which requests are the same request: the one scheme of Update ids for every channel."""

from __future__ import annotations

from api.commands.decide import DecisionRequest
from api.commands.update_ids import Button, IdempotencyKey, update_id


def _id(request: DecisionRequest, actor: str = "U-1", dispute: str = "DSP-1") -> str:
    return update_id("decide", dispute_id=dispute, actor_id=actor, replay=request.replay)


def test_without_a_key_or_a_button_every_request_is_new() -> None:
    request = DecisionRequest(decision="approve", comment="ok")
    assert request.replay is None
    assert _id(request) != _id(request)


def test_the_same_key_and_body_is_the_same_request() -> None:
    first = DecisionRequest(decision="approve", comment="ok", key="k-1")
    assert _id(first) == _id(DecisionRequest(decision="approve", comment="ok", key="k-1"))
    # The same key with another body, another key, another person: other requests.
    assert _id(first) != _id(DecisionRequest(decision="reject", comment="ok", key="k-1"))
    assert _id(first) != _id(DecisionRequest(decision="approve", comment="ok", key="k-2"))
    assert _id(first) != _id(first, actor="U-2")
    assert "k-1" not in _id(first)  # a client's key is not shown in the Temporal UI


def test_a_button_is_its_memo_level_and_decision_whatever_the_comment() -> None:
    web = DecisionRequest(decision="approve", comment="", level=1, memo_number="CM-1")
    slack = DecisionRequest(decision="approve", comment="from Slack", level=1,
                            memo_number="CM-1")
    assert web.replay == slack.replay == Button("CM-1", 1, "approve")
    assert _id(web) == _id(slack) == "decide:DSP-1:U-1:button:CM-1:1:approve"
    assert _id(web) != _id(web.model_copy(update={"level": 2}))
    assert _id(web) != _id(web.model_copy(update={"decision": "reject"}))
    assert _id(web) != _id(web, actor="U-2")


def test_a_key_wins_over_a_button() -> None:
    keyed = DecisionRequest(decision="approve", level=1, memo_number="CM-1", key="k")
    assert isinstance(keyed.replay, IdempotencyKey)
