"""What GitHub events do, on a real SQLite file: celebrations once, goals finished, relays."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import delete, select, update

from bot.db.models import GitHubAccount, GitHubProfile, Goal, MergedPullRequest, OutboxMessage, WebhookDelivery
from bot.db.session import transaction
from bot.playground.samples import labeled_pr_payload, load, merged_pr_payload
from bot.services import goals, guilds
from bot.services.github import events as github_events
from bot.services.github import subscriptions
from bot.services.github.events import closing_issues, ordinal
from tests.conftest import NOW

GUILD = 1000
ALICE = 11
CELEBRATIONS = 501
RELAYS = 502
REPO = "octo-org/hello-world"  # merged_pr_payload's default
OCTO_ID = 21031067  # the author of the fixture's pull request


async def link(sessionmaker, user_id: int = ALICE, login: str = "Codertocat", github_id: int | None = OCTO_ID) -> None:
    async with transaction(sessionmaker) as session:
        await guilds.ensure_guild(session, GUILD)
        if github_id is not None and await session.get(GitHubProfile, github_id) is None:
            session.add(GitHubProfile(id=github_id, login=login, history_status="done"))  # no earlier merges
        session.add(
            GitHubAccount(guild_id=GUILD, user_id=user_id, github_id=github_id, login=login, login_lower=login.lower())
        )


async def deliver(sessionmaker, event: str, body: bytes, delivery_id: str) -> None:
    async with transaction(sessionmaker) as session:
        session.add(
            WebhookDelivery(
                delivery_id=delivery_id,
                event=event,
                headers={"content-type": "application/json"},
                body=body,
                received_at=NOW,
            )
        )
    while await github_events.process_batch(sessionmaker, now=NOW):
        pass


async def outbox_rows(sessionmaker, kind: str | None = None) -> list[OutboxMessage]:
    async with transaction(sessionmaker) as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if kind:
            query = query.where(OutboxMessage.kind == kind)
        return list((await session.scalars(query)).all())


@pytest.fixture
async def setup(sessionmaker):
    await guilds.set_channel(sessionmaker, guild_id=GUILD, purpose="celebrations", channel_id=CELEBRATIONS, now=NOW)
    return sessionmaker


async def test_merge_of_linked_member_is_celebrated_once_across_deliveries_and_hooks(setup) -> None:
    sessionmaker = setup
    await link(sessionmaker)
    body = merged_pr_payload()
    await deliver(sessionmaker, "pull_request", body, "d-1")
    await deliver(sessionmaker, "pull_request", body, "d-2")  # the org hook reports the same merge
    rows = await outbox_rows(sessionmaker, "github.merged")
    assert len(rows) == 1
    data = rows[0].data
    assert (rows[0].channel_id, data["user_id"], data["repo"], data["number"]) == (CELEBRATIONS, ALICE, REPO, 2)
    assert (data["total"], data["in_repo"], data["milestones"]) == (1, 1, ["prs:1"])
    async with transaction(sessionmaker) as session:
        statuses = (await session.scalars(select(WebhookDelivery.status))).all()
    assert statuses == ["done", "done"]


@pytest.mark.parametrize(
    "author", [{"user_login": "dependabot[bot]"}, {"user_type": "Bot"}, {"user_login": "stranger", "user_id": 1}]
)
async def test_bots_and_unlinked_authors_are_not_celebrated(setup, author) -> None:
    sessionmaker = setup
    await link(sessionmaker, login="dependabot[bot]" if "user_login" in author else "Codertocat")
    await deliver(sessionmaker, "pull_request", merged_pr_payload(**author), "d-1")
    assert await outbox_rows(sessionmaker, "github.merged") == []


async def test_a_celebration_not_yet_posted_when_its_pr_is_labelled_spam_is_dropped(setup) -> None:
    sessionmaker = setup
    await link(sessionmaker)
    await deliver(sessionmaker, "pull_request", merged_pr_payload(), "d-1")
    assert len(await outbox_rows(sessionmaker, "github.merged")) == 1  # queued, not sent: no message to edit
    await deliver(sessionmaker, "pull_request", labeled_pr_payload("invalid"), "d-2")
    assert await outbox_rows(sessionmaker) == []  # dropped, and no edit of a post that never was
    async with transaction(sessionmaker) as session:
        assert (await session.scalars(select(MergedPullRequest))).all() == []
        assert (await session.scalars(select(WebhookDelivery.status))).all() == ["done", "done"]


async def test_a_celebration_posted_while_its_pr_was_withdrawn_is_redrawn_at_the_next_sighting(setup) -> None:
    # The race: the sender was posting the celebration when the label was applied, so the withdrawal
    # found no post to edit and the counts are gone already. The label seen again redraws the post.
    sessionmaker = setup
    await link(sessionmaker)
    await deliver(sessionmaker, "pull_request", merged_pr_payload(), "d-1")
    async with transaction(sessionmaker) as session:
        await session.execute(delete(MergedPullRequest))
        await session.execute(update(OutboxMessage).values(status="sent", message_id=777))
    for n in range(2):
        await deliver(sessionmaker, "pull_request", labeled_pr_payload("spam"), f"d-label-{n}")
    (edit,) = await outbox_rows(sessionmaker, "discord.edit")
    assert (edit.guild_id, edit.channel_id) == (GUILD, CELEBRATIONS)
    assert edit.data == {
        "channel_id": CELEBRATIONS,
        "message_id": 777,
        "kind": "github.merge_withdrawn",
        "data": {"user_id": ALICE, "repo": REPO, "number": 2},
    }


async def test_a_label_on_an_open_or_a_bots_pr_or_another_label_withdraws_nothing(setup) -> None:
    sessionmaker = setup
    await link(sessionmaker)
    await deliver(sessionmaker, "pull_request", merged_pr_payload(), "d-1")
    unmerged = json.loads(labeled_pr_payload("spam"))
    unmerged["pull_request"]["merged"] = False
    by_bot = json.loads(labeled_pr_payload("spam"))
    by_bot["pull_request"]["user"]["type"] = "Bot"
    for n, body in enumerate([json.dumps(unmerged).encode(), json.dumps(by_bot).encode(), labeled_pr_payload("bug")]):
        await deliver(sessionmaker, "pull_request", body, f"d-label-{n}")
    assert len(await outbox_rows(sessionmaker, "github.merged")) == 1
    async with transaction(sessionmaker) as session:
        assert len((await session.scalars(select(MergedPullRequest))).all()) == 1


async def test_link_by_login_learns_the_id_and_survives_a_rename(setup) -> None:
    sessionmaker = setup
    await link(sessionmaker, login="CODERTOCAT", github_id=None)  # an admin's link: login only
    await deliver(sessionmaker, "pull_request", merged_pr_payload(number=1), "d-1")
    await deliver(sessionmaker, "pull_request", merged_pr_payload(number=2, user_login="octo-renamed"), "d-2")
    rows = await outbox_rows(sessionmaker, "github.merged")
    assert [(r.data["number"], r.data["total"]) for r in rows] == [(1, 1), (2, 2)]
    async with transaction(sessionmaker) as session:
        account = await session.scalar(select(GitHubAccount))
    assert (account.github_id, account.login) == (OCTO_ID, "octo-renamed")


async def test_linked_goals_finish_with_the_merge(setup) -> None:
    sessionmaker = setup
    await link(sessionmaker)
    for text, link_ in [
        ("the PR itself", f"https://github.com/{REPO}/pull/7"),
        ("the issue it fixes", f"{REPO}#12"),
        ("another repo's issue", "octo/other#12"),
        ("an unrelated issue", f"{REPO}#99"),
    ]:
        await goals.add_goal(sessionmaker, guild_id=GUILD, user_id=ALICE, text=text, link=link_, now=NOW)
    await goals.add_goal(sessionmaker, guild_id=GUILD, user_id=22, text="bob's", link=f"{REPO}#7", now=NOW)
    body = merged_pr_payload(number=7, body="Some change.\n\nFixes #12, see also #99")
    await deliver(sessionmaker, "pull_request", body, "d-1")
    async with transaction(sessionmaker) as session:
        status = dict((await session.execute(select(Goal.text, Goal.status))).all())
    assert status == {
        "the PR itself": "done",
        "the issue it fixes": "done",
        "another repo's issue": "open",
        "an unrelated issue": "open",
        "bob's": "open",
    }
    (row,) = await outbox_rows(sessionmaker, "github.merged")
    assert [g["number"] for g in row.data["goals"]] == [1, 2]


async def test_milestones_count_and_grant_roles(setup) -> None:
    sessionmaker = setup
    await link(sessionmaker)
    await subscriptions.set_milestone_role(sessionmaker, guild_id=GUILD, milestone="prs:5", role_id=777)
    await subscriptions.set_milestone_role(sessionmaker, guild_id=GUILD, milestone="repo:5", role_id=888)
    for number in range(1, 6):
        await deliver(sessionmaker, "pull_request", merged_pr_payload(number=number), f"d-{number}")
    merged = await outbox_rows(sessionmaker, "github.merged")
    assert [r.data["total"] for r in merged] == [1, 2, 3, 4, 5]
    assert merged[-1].data["milestones"] == ["prs:5", "repo:5"]
    grants = await outbox_rows(sessionmaker, "role.grant")
    assert sorted(g.data["role_id"] for g in grants) == [777, 888]
    assert all(g.channel_id is None and g.data["user_id"] == ALICE for g in grants)


async def test_merge_without_celebrations_channel_is_recorded_but_not_posted(sessionmaker) -> None:
    await link(sessionmaker)
    await deliver(sessionmaker, "pull_request", merged_pr_payload(), "d-1")
    assert await outbox_rows(sessionmaker) == []
    async with transaction(sessionmaker) as session:
        assert len((await session.scalars(select(MergedPullRequest))).all()) == 1


async def test_a_title_with_a_nul_character_is_celebrated_without_it(setup) -> None:
    # JSON may carry "\u0000"; PostgreSQL's text columns refuse the character, and the merge was lost.
    sessionmaker = setup
    await link(sessionmaker)
    await deliver(sessionmaker, "pull_request", merged_pr_payload(title="Fix\x00 the parser"), "d-1")
    async with transaction(sessionmaker) as session:
        assert (await session.scalars(select(WebhookDelivery.status))).all() == ["done"]
        assert (await session.scalars(select(MergedPullRequest.title))).all() == ["Fix the parser"]
    [row] = await outbox_rows(sessionmaker, "github.merged")
    assert row.data["title"] == "Fix the parser"


async def test_relays_follow_subscriptions(setup, respx_github) -> None:
    sessionmaker = setup
    respx_github.get("/repos/Codertocat/Hello-World").respond(json={"full_name": "Codertocat/Hello-World"})

    async def sub(channel: int, **kwargs: object) -> None:
        await subscriptions.subscribe(
            sessionmaker,
            respx_github.api,
            guild_id=GUILD,
            repo="Codertocat/Hello-World",
            channel_id=channel,
            by=1,
            **{"events": None, "labels": None, "include_bots": False} | kwargs,
        )

    await sub(RELAYS)  # everything
    await sub(RELAYS + 1, events="releases")
    await sub(RELAYS + 2, events="issues", labels="Bug, security")  # the fixture issue is labelled "bug"
    await sub(RELAYS + 3, events="issues,pulls", labels="documentation")
    await deliver(sessionmaker, "pull_request", load("pull_request/opened.payload.json"), "d-1")
    await deliver(sessionmaker, "issues", load("issues/opened.payload.json"), "d-2")
    await deliver(sessionmaker, "release", load("release/published.payload.json"), "d-3")
    await deliver(sessionmaker, "pull_request", merged_pr_payload(user_login="renovate[bot]"), "d-4")
    rows = await outbox_rows(sessionmaker, "github.relay")
    seen = [(r.channel_id, r.data["kind"], r.data["action"]) for r in rows]
    assert seen == [
        (RELAYS, "pulls", "opened"),
        (RELAYS, "issues", "opened"),
        (RELAYS + 2, "issues", "opened"),
        (RELAYS, "releases", "published"),
        (RELAYS + 1, "releases", "published"),
    ]
    assert {r.fold_key for r in rows} == {f"relay:{RELAYS}", f"relay:{RELAYS + 1}", f"relay:{RELAYS + 2}"}
    assert all(r.next_attempt_at >= NOW + timedelta(seconds=1) for r in rows)  # held briefly to fold bursts


async def test_a_payload_that_cannot_be_handled_is_kept_failed_and_does_not_block(setup) -> None:
    sessionmaker = setup
    await link(sessionmaker)
    author = {"login": "Codertocat", "id": OCTO_ID, "type": "User"}
    broken = json.dumps(  # a merged PR without a number
        {"action": "closed", "repository": {"full_name": "a/b"}, "pull_request": {"merged": True, "user": author}}
    )
    await deliver(sessionmaker, "pull_request", broken.encode(), "bad")
    await deliver(sessionmaker, "pull_request", merged_pr_payload(), "good")
    async with transaction(sessionmaker) as session:
        rows = dict((await session.execute(select(WebhookDelivery.delivery_id, WebhookDelivery.status))).all())
    assert rows == {"bad": "failed", "good": "done"}
    assert len(await outbox_rows(sessionmaker, "github.merged")) == 1


def test_closing_keywords() -> None:
    body = "Fixes #12. closes octo/other#3, Resolved https://github.com/a/b/issues/9; fix: #4; mentions #5"
    assert closing_issues(body, "me/repo") == {("me/repo", 12), ("octo/other", 3), ("a/b", 9), ("me/repo", 4)}
    assert closing_issues(None, "me/repo") == set()


def test_ordinals() -> None:
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st", "2nd", "3rd", "4th", "11th", "12th", "13th", "21st", "22nd", "101st", "111th"
    ]  # fmt: skip


@pytest.mark.parametrize("other", [GUILD + 1, GUILD - 1], ids=["after", "before"])
async def test_one_servers_trouble_with_a_merge_holds_back_no_other_server(setup, db_url: str, other: int) -> None:
    """The server in trouble comes after the good one, or before it: then the good one finds its links again,
    the rolled-back savepoint having expired what it touched."""
    if not db_url.startswith("sqlite"):
        pytest.skip("the fault is played by an SQLite trigger")
    from sqlalchemy import text

    sessionmaker = setup
    await guilds.set_channel(
        sessionmaker, guild_id=other, purpose="celebrations", channel_id=CELEBRATIONS + 10, now=NOW
    )
    await link(sessionmaker)
    async with transaction(sessionmaker) as session:
        session.add(
            GitHubAccount(
                guild_id=other, user_id=ALICE, github_id=OCTO_ID, login="Codertocat", login_lower="codertocat"
            )
        )
        # The other server's state is bad: recording a merge there fails in the database.
        await session.execute(
            text(
                f"CREATE TRIGGER bad_server BEFORE INSERT ON merged_prs WHEN NEW.guild_id = {other} "
                "BEGIN SELECT RAISE(ABORT, 'this server cannot take it'); END"
            )
        )
    await deliver(sessionmaker, "pull_request", merged_pr_payload(), "d-1")
    rows = await outbox_rows(sessionmaker, "github.merged")
    assert [(r.guild_id, r.data["number"], r.data["total"]) for r in rows] == [(GUILD, 2, 1)]
    async with transaction(sessionmaker) as session:
        assert (await session.scalars(select(WebhookDelivery.status))).all() == ["done"]


BOB = 22


async def test_a_login_an_admin_linked_before_its_id_was_known_makes_way_for_the_id(setup) -> None:
    """Alice (id 1001) renamed `alpha` to `beta`; an admin had linked Bob by login `beta` while GitHub was away."""
    sessionmaker = setup
    await link(sessionmaker, user_id=ALICE, login="alpha", github_id=1001)
    await link(sessionmaker, user_id=BOB, login="beta", github_id=None)
    await deliver(sessionmaker, "pull_request", merged_pr_payload(user_login="beta", user_id=1001), "d-1")
    (row,) = await outbox_rows(sessionmaker, "github.merged")
    assert row.data["user_id"] == ALICE
    async with transaction(sessionmaker) as session:
        assert (await session.scalars(select(WebhookDelivery.status))).all() == ["done"]
        links_now = {a.user_id: (a.github_id, a.login) for a in await session.scalars(select(GitHubAccount))}
    assert links_now == {ALICE: (1001, "beta"), BOB: (None, "beta")}  # Bob's link waits for an admin, unmatched


async def test_relinking_to_a_login_another_member_claims_by_login_is_refused_politely(setup) -> None:
    import httpx
    import respx

    from bot.errors import UserError
    from bot.services.github import links as github_links
    from bot.services.github.api import GitHubAPI

    sessionmaker = setup
    await link(sessionmaker, user_id=BOB, login="beta", github_id=None)
    await link(sessionmaker, user_id=ALICE, login="alpha", github_id=1001)
    async with httpx.AsyncClient() as client, respx.mock(assert_all_called=False) as gh:
        gh.get("https://api.github.com/users/beta").respond(200, json={"id": 1001, "login": "beta", "type": "User"})
        api = GitHubAPI(client, now=lambda: NOW)
        with pytest.raises(UserError, match=f"already linked to <@{BOB}>"):
            await github_links.admin_link(
                sessionmaker, api, guild_id=GUILD, user_id=ALICE, login="beta", admin_id=1, now=NOW
            )
    async with transaction(sessionmaker) as session:
        links_now = {a.user_id: (a.github_id, a.login) for a in await session.scalars(select(GitHubAccount))}
    assert links_now == {ALICE: (1001, "alpha"), BOB: (None, "beta")}  # nothing changed
