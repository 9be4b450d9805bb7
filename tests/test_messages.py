"""The outbox contract's values: any stored shape reads, and the ping's layout and the removal of
a member from it agree."""

from __future__ import annotations

import pytest

from bot.services import messages
from bot.services.rhythm.ping import WAITING_MARK, DueMember, PingSettings, plan_ping


@pytest.mark.parametrize("kind", sorted(messages.KINDS))
def test_every_kind_reads_a_payload_missing_every_key(kind: str) -> None:
    value = messages.decode(kind, {})
    assert kind == value.KIND
    assert messages.decode(kind, value.encode()) == value


def test_an_unknown_kind_is_refused_by_name() -> None:
    with pytest.raises(messages.UnknownKind):
        messages.decode("from.a.newer.version", {})


def test_a_merge_from_before_repo_name_reads_as_its_repository() -> None:
    merged = messages.decode("github.merged", {"user_id": 5, "repo": "o/r", "number": 2, "total": 3, "in_repo": 1})
    assert (merged.repo_name, merged.known, merged.exact, merged.goals) == ("o/r", True, True, ())
    assert merged.subjects() == (messages.Subject(5, messages.Role.MENTION),)


def test_taking_a_member_out_of_a_ping_leaves_everyone_else_and_pings_only_them() -> None:
    members = [
        DueMember(user_id=100 + n, open_goals=1, streak_at_risk=(3 if n < 4 else 0), waiting=("pr",) * (n % 2))
        for n in range(12)
    ]
    pings, _ = plan_ping(members, PingSettings(cap=10, role_id=7), limit=140)
    assert len(pings) > 1  # several messages, several lines each
    for ping in pings:
        value = messages.Ping(content=ping.content, user_ids=ping.user_ids, role_ids=ping.role_ids)
        for user_id in ping.user_ids:
            out = value.without({messages.Subject(user_id, messages.Role.MENTION, messages.OptIn.REMINDERS)})
            others = [u for u in ping.user_ids if u != user_id]
            if out is None:
                assert others == []
                continue
            assert f"<@{user_id}>" not in out.content
            assert all(f"<@{u}>" in out.content for u in others)
            assert out.user_ids == tuple(others) and out.role_ids == ping.role_ids
            assert out.content.count(WAITING_MARK) == sum(1 for m in members if m.user_id in others and m.waiting)
