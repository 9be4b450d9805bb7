"""The fake Discord drives a real discord.py client end to end (gateway, slash commands,
components, channel posts, faults)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import aiohttp
import discord
import pytest
from discord import app_commands
from discord.ext import commands

from bot.playground.fake_discord import (
    Channel,
    FakeDiscord,
    FakeDiscordError,
    FakeFile,
    FakeGuild,
    InteractionTimeout,
    Member,
    ServerSpec,
    build_server,
    snowflake,
)

MANAGE_GUILD = discord.Permissions(manage_guild=True).value
GOALS = ["ship it", "ship the docs", "shave the yak", "write tests"]


class VoteView(discord.ui.View):
    def __init__(self) -> None:
        super().__init__(timeout=None)
        self.votes = 0

    @discord.ui.button(label="Upvote", custom_id="demo:up", style=discord.ButtonStyle.primary)
    async def up(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        self.votes += 1
        await interaction.response.edit_message(content=f"Votes: {self.votes}", view=self)

    @discord.ui.button(label="Feedback", custom_id="demo:feedback")
    async def feedback(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        await interaction.response.send_modal(FeedbackModal())

    @discord.ui.select(custom_id="demo:color", options=[discord.SelectOption(label=c) for c in ("red", "blue")])
    async def color(self, interaction: discord.Interaction, select: discord.ui.Select) -> None:
        await interaction.response.send_message(f"You picked {select.values[0]}", ephemeral=True)


class FeedbackModal(discord.ui.Modal, title="Feedback"):
    text = discord.ui.TextInput(label="What do you think?", custom_id="feedback:text", max_length=200)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"Thanks for: {self.text.value}", ephemeral=True)


def make_demo_group() -> app_commands.Group:
    demo = app_commands.Group(name="demo", description="Demo commands")
    admin = app_commands.Group(name="admin", description="Admin-only demo commands", parent=demo)

    @demo.command(name="echo", description="Echo text back")
    async def echo(interaction: discord.Interaction, text: str) -> None:
        await interaction.response.send_message(text, ephemeral=True)

    @demo.command(name="who", description="Describe a member")
    async def who(interaction: discord.Interaction, member: discord.Member) -> None:
        assert interaction.guild is not None
        cached = interaction.guild.get_member(member.id) is not None
        await interaction.response.send_message(
            f"{member.display_name} manage_guild={member.guild_permissions.manage_guild} cached={cached}"
        )

    @demo.command(name="where", description="Describe a channel")
    async def where(interaction: discord.Interaction, channel: discord.TextChannel) -> None:
        assert interaction.guild is not None
        can_send = channel.permissions_for(interaction.guild.me).send_messages
        await interaction.response.send_message(f"{channel.mention} #{channel.name} bot_can_send={can_send}")

    @demo.command(name="pick", description="Pick a goal")
    async def pick(interaction: discord.Interaction, goal: str, times: int = 1) -> None:
        await interaction.response.send_message(f"picked {goal} x{times}")

    @pick.autocomplete("goal")
    async def pick_goal(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
        return [app_commands.Choice(name=g.title(), value=g) for g in GOALS if g.startswith(current)][:25]

    @demo.command(name="slow", description="Defers, then follows up")
    async def slow(interaction: discord.Interaction) -> None:
        await interaction.response.defer(ephemeral=True, thinking=True)
        await asyncio.sleep(0.05)
        await interaction.followup.send("done, slowly")
        await interaction.followup.send("and one more thing", ephemeral=True)

    @demo.command(name="announce", description="Post an announcement")
    async def announce(interaction: discord.Interaction, channel: discord.TextChannel, text: str) -> None:
        embed = discord.Embed(title="Announcement", description=text, color=0x00FF00)
        await channel.send(
            f"{interaction.user.mention} announced something @everyone",
            embed=embed,
            file=discord.File(io.BytesIO(b"the details"), filename="details.txt"),
            allowed_mentions=discord.AllowedMentions.none(),
        )
        await interaction.response.send_message("Posted!", ephemeral=True)

    @demo.command(name="vote", description="Post a vote")
    async def vote(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("Votes: 0", view=VoteView())

    @demo.command(name="boom", description="Raises")
    async def boom(interaction: discord.Interaction) -> None:
        raise RuntimeError("kaboom")

    @admin.command(name="ping", description="Needs Manage Server")
    @app_commands.checks.has_permissions(manage_guild=True)
    async def ping(interaction: discord.Interaction) -> None:
        await interaction.response.send_message("pong", ephemeral=True)

    @ping.error
    async def ping_error(interaction: discord.Interaction, error: app_commands.AppCommandError) -> None:
        if isinstance(error, app_commands.MissingPermissions):
            await interaction.response.send_message("You need Manage Server.", ephemeral=True)

    return demo


class DemoBot(commands.Bot):
    def __init__(self, guild_id: int) -> None:
        intents = discord.Intents.default()
        intents.members = True
        super().__init__(command_prefix=commands.when_mentioned, intents=intents)
        self.guild_id = guild_id
        self.joined: list[discord.Member] = []
        self.seen: list[str] = []

    async def setup_hook(self) -> None:
        self.tree.add_command(make_demo_group(), guild=discord.Object(self.guild_id))

    async def on_member_join(self, member: discord.Member) -> None:
        self.joined.append(member)

    async def on_message(self, message: discord.Message) -> None:
        if message.author != self.user:
            self.seen.append(message.content)


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    async with FakeDiscord() as fake:
        yield fake
        assert fake.unhandled == []


@pytest.fixture
def world(fake: FakeDiscord) -> SimpleNamespace:
    guild = fake.add_guild(name="Builders")
    return SimpleNamespace(
        guild=guild,
        ada=fake.add_member(guild, "ada", manage_guild=True),
        alice=fake.add_member(guild, "alice"),
        goals=fake.add_text_channel(guild, "goals"),
        readonly=fake.add_text_channel(guild, "readonly", bot_can_send=False),
    )


@pytest.fixture
async def bot(fake: FakeDiscord, world: SimpleNamespace) -> AsyncIterator[DemoBot]:
    bot = DemoBot(world.guild.id)
    async with fake.running(bot):
        await bot.tree.sync(guild=discord.Object(world.guild.id))
        yield bot


async def test_login_gateway_and_cache(fake: FakeDiscord, world: SimpleNamespace, bot: DemoBot) -> None:
    conn = fake.gateway_connections[0]
    assert conn.compress in ("zlib-stream", "zstd-stream")  # transport compression, as discord.py asks for it
    assert conn.query["v"] == "10"
    assert bot.user is not None and bot.user.id == fake.bot_user.id
    assert bot.application_id == fake.application_id
    guild = bot.get_guild(world.guild.id)
    assert guild is not None and guild.name == "Builders"
    assert guild.chunked  # REQUEST_GUILD_MEMBERS was answered
    assert guild.get_member(world.alice.id) is not None
    assert guild.get_channel(world.goals.id).name == "goals"
    assert guild.me.guild_permissions.manage_roles
    assert not guild.get_channel(world.readonly.id).permissions_for(guild.me).send_messages
    assert any(p.get("op") == 8 for p in conn.received)
    synced = fake.commands(world.guild)
    assert [c["name"] for c in synced] == ["demo"]
    assert {o["name"] for o in synced[0]["options"]} >= {"echo", "who", "admin"}


async def test_slash_commands(fake: FakeDiscord, world: SimpleNamespace, bot: DemoBot) -> None:
    res = await fake.invoke(world.guild, world.alice, "demo echo", text="hello there")
    assert (res.type, res.content, res.ephemeral) == (4, "hello there", True)
    assert fake.messages_in(world.guild.channel_named("general")) == []  # ephemeral: not in the channel

    res = await fake.invoke(world.guild, world.alice, "demo who", member=world.ada)
    assert res.content == "ada manage_guild=True cached=True"
    assert not res.ephemeral
    assert fake.messages_in(world.goals) == []
    general = world.guild.channel_named("general")
    assert fake.messages_in(general)[-1]["content"] == res.content  # public responses land in the channel

    res = await fake.invoke(world.guild, world.alice, "demo where", channel=world.readonly, in_channel=world.goals)
    assert res.content == f"<#{world.readonly.id}> #readonly bot_can_send=False"
    assert fake.messages_in(world.goals)[-1]["content"] == res.content

    with pytest.raises(FakeDiscordError, match="not synced"):
        await fake.invoke(world.guild, world.alice, "nope")
    with pytest.raises(FakeDiscordError, match="required option 'text' missing"):
        await fake.invoke(world.guild, world.alice, "demo echo")


async def test_subcommand_group_and_checks(fake: FakeDiscord, world: SimpleNamespace, bot: DemoBot) -> None:
    denied = await fake.invoke(world.guild, world.alice, "demo admin ping")
    assert (denied.content, denied.ephemeral) == ("You need Manage Server.", True)
    allowed = await fake.invoke(world.guild, world.ada, "demo admin ping")
    assert allowed.content == "pong"
    assert int(allowed.interaction["member"]["permissions"]) & discord.Permissions(manage_guild=True).value


async def test_autocomplete(fake: FakeDiscord, world: SimpleNamespace, bot: DemoBot) -> None:
    choices = await fake.autocomplete(world.guild, world.alice, "demo pick", "goal", "sh", times=2)
    assert choices == [
        {"name": "Ship It", "value": "ship it"},
        {"name": "Ship The Docs", "value": "ship the docs"},
        {"name": "Shave The Yak", "value": "shave the yak"},
    ]
    res = await fake.invoke(world.guild, world.alice, "demo pick", goal=choices[0]["value"], times=3)
    assert res.content == "picked ship it x3"


async def test_deferred_then_followups(fake: FakeDiscord, world: SimpleNamespace, bot: DemoBot) -> None:
    res = await fake.invoke(world.guild, world.alice, "demo slow")
    assert res.type == 5 and res.deferred and not res.pending
    assert res.content == "done, slowly"
    assert res.ephemeral  # the defer was ephemeral, so the message replacing "thinking..." is too
    assert [m["content"] for m in res.followups] == ["done, slowly", "and one more thing"]
    assert res.followups[1]["flags"] & 64


async def test_channel_post_with_embed_file_and_no_pings(
    fake: FakeDiscord, world: SimpleNamespace, bot: DemoBot
) -> None:
    res = await fake.invoke(world.guild, world.ada, "demo announce", channel=world.goals, text="v1 shipped")
    assert (res.content, res.ephemeral) == ("Posted!", True)
    [post] = fake.messages_in(world.goals)
    assert post["author"]["id"] == str(fake.bot_user.id)
    assert post["content"] == f"<@{world.ada.id}> announced something @everyone"
    assert post["embeds"][0]["title"] == "Announcement"
    assert post["embeds"][0]["description"] == "v1 shipped"
    assert post["allowed_mentions"] == {"parse": []}
    assert post["mentions"] == [] and not post["mention_everyone"]  # nobody got pinged
    assert post["attachments"][0]["filename"] == "details.txt"
    assert post["attachments"][0]["data"] == b"the details"
    [req] = fake.requests_to("POST", rf"^/channels/{world.goals.id}/messages$")
    assert req.files[0].data == b"the details"


async def test_buttons_select_and_modal(fake: FakeDiscord, world: SimpleNamespace, bot: DemoBot) -> None:
    res = await fake.invoke(world.guild, world.alice, "demo vote")
    assert res.content == "Votes: 0"
    assert res.custom_ids == ["demo:up", "demo:feedback", "demo:color"]

    clicked = await fake.click(world.guild, world.alice, res, "demo:up")
    assert clicked.type == 7
    assert clicked.content == "Votes: 1"
    assert res.content == "Votes: 1"  # the same message, edited
    clicked = await fake.click(world.guild, world.ada, res.message, "demo:up")
    assert clicked.content == "Votes: 2"

    picked = await fake.click(world.guild, world.alice, res, "demo:color", values=["blue"])
    assert (picked.content, picked.ephemeral) == ("You picked blue", True)

    opened = await fake.click(world.guild, world.alice, res, "demo:feedback")
    assert opened.type == 9 and opened.modal["title"] == "Feedback"
    submitted = await fake.submit_modal(world.guild, world.alice, opened, {"feedback:text": "love it"})
    assert submitted.content == "Thanks for: love it"


async def test_command_error_fails_fast(fake: FakeDiscord, world: SimpleNamespace, bot: DemoBot) -> None:
    loop = asyncio.get_running_loop()
    start = loop.time()
    with pytest.raises(InteractionTimeout, match="kaboom"):
        await fake.invoke(world.guild, world.alice, "demo boom")
    assert loop.time() - start < 2


async def test_fail_next_retries_and_errors(fake: FakeDiscord, world: SimpleNamespace, bot: DemoBot) -> None:
    channel = bot.get_channel(world.goals.id)
    assert isinstance(channel, discord.TextChannel)
    messages = rf"^/channels/{world.goals.id}/messages$"

    rule = fake.fail_next("POST", messages, 500)
    msg = await channel.send("after a 500")  # discord.py retries 5xx itself (sleep scaled down)
    assert len(rule.hits) == 1 and msg.content == "after a 500"
    assert [r.status for r in fake.requests_to("POST", messages)] == [500, 200]

    fake.fail_next("POST", messages, 429, retry_after=0.01)
    await channel.send("after a 429")

    fake.fail_next("POST", messages, 403)
    with pytest.raises(discord.Forbidden) as forbidden:
        await channel.send("nope")
    assert forbidden.value.code == 50013

    readonly = bot.get_channel(world.readonly.id)
    with pytest.raises(discord.Forbidden):
        await readonly.send("the bot lacks Send Messages here")

    with pytest.raises(discord.NotFound) as unknown:
        await bot.get_partial_messageable(123456789012345678).send("nowhere")
    assert unknown.value.code == 10003

    fake.outage = True
    with pytest.raises(discord.DiscordServerError):
        await channel.send("down")
    fake.outage = False

    assert [m["content"] for m in fake.messages_in(world.goals)] == ["after a 500", "after a 429"]


async def test_dms_roles_and_gateway_events(fake: FakeDiscord, world: SimpleNamespace, bot: DemoBot) -> None:
    guild = bot.get_guild(world.guild.id)
    member = guild.get_member(world.alice.id)
    await member.send("welcome!")
    assert [m["content"] for m in fake.dms_to(world.alice)] == ["welcome!"]
    shy = fake.add_member(world.guild, "shy", dms_open=False)
    with pytest.raises(discord.Forbidden):
        await (await bot.fetch_user(shy.id)).send("hi")

    shipper = await fake.create_role(world.guild, "Shipper")  # + GUILD_ROLE_CREATE
    await bot.http.get_member(world.guild.id, world.alice.id)  # plain REST works too
    await member.add_roles(discord.Object(shipper.id))
    assert shipper.id in world.alice.role_ids
    await fake.sync()
    assert [r.name for r in guild.get_member(world.alice.id).roles] == ["@everyone", "Shipper"]

    # without the message_content intent the bot only sees content when it is mentioned
    await fake.user_message(world.goals, world.alice, "just chatting")
    await fake.user_message(world.goals, world.alice, f"{fake.bot_user.mention} hello bot")
    assert bot.seen == ["", f"<@{fake.bot_user.id}> hello bot"]

    newcomer = await fake.member_join(world.guild, "newcomer")
    assert [m.id for m in bot.joined] == [newcomer.id]
    assert guild.get_member(newcomer.id) is not None

    await fake.disconnect_clients()  # default code 4000: discord.py RESUMEs
    assert fake.resume_count == 1 and fake.identify_count == 1
    res = await fake.invoke(world.guild, world.alice, "demo echo", text="still here")
    assert res.content == "still here"


async def test_file_upload_option_and_context_menus(fake: FakeDiscord, world: SimpleNamespace) -> None:
    """A command with an attachment option that answers with a file (a multipart callback),
    and user / message context menus."""

    class FileBot(commands.Bot):
        async def setup_hook(self) -> None:
            here = discord.Object(world.guild.id)

            @self.tree.context_menu(name="High five", guild=here)
            async def high_five(interaction: discord.Interaction, member: discord.Member) -> None:
                await interaction.response.send_message(f"{interaction.user.display_name} high-fived {member.mention}")

            @self.tree.context_menu(name="Quote", guild=here)
            async def quote(interaction: discord.Interaction, message: discord.Message) -> None:
                await interaction.response.send_message(f"> {message.content}", ephemeral=True)

            @self.tree.command(name="upload", description="Re-upload a file", guild=discord.Object(world.guild.id))
            async def upload(interaction: discord.Interaction, attachment: discord.Attachment) -> None:
                data = await attachment.read()
                await interaction.response.send_message(
                    f"got {attachment.filename}", file=discord.File(io.BytesIO(data.upper()), "upper.txt")
                )

    bot = FileBot(command_prefix=commands.when_mentioned, intents=discord.Intents.default())
    async with fake.running(bot):
        await bot.tree.sync(guild=discord.Object(world.guild.id))
        res = await fake.invoke(world.guild, world.alice, "upload", attachment=FakeFile("in.txt", b"abc"))
        assert res.content == "got in.txt"
        assert [(f.filename, f.data) for f in res.files] == [("upper.txt", b"ABC")]
        for junk in ("junk", ["a.txt"], 7):  # only an uploaded file fills an attachment option
            with pytest.raises(FakeDiscordError, match=r"expected an uploaded file|not a valid file"):
                await fake.invoke(world.guild, world.alice, "upload", attachment=junk)

        five = await fake.invoke_context_menu(world.guild, world.alice, "High five", world.ada)
        assert five.content == f"alice high-fived <@{world.ada.id}>"
        quoted = await fake.invoke_context_menu(world.guild, world.ada, "Quote", five.message)
        assert (quoted.content, quoted.ephemeral) == (f"> {five.content}", True)


async def test_manual_login_flow_invalid_session_and_unknown_routes(fake: FakeDiscord, world: SimpleNamespace) -> None:
    """The plain discord.py flow (no fake.start_bot) works and is quick too."""
    bot = DemoBot(world.guild.id)  # created while the fake runs: on_ready isn't delayed 2 s
    loop = asyncio.get_running_loop()
    start = loop.time()
    await bot.login(fake.token)
    task = asyncio.create_task(bot.connect(reconnect=False))
    await asyncio.wait_for(bot.wait_until_ready(), timeout=5)
    assert loop.time() - start < 1.5
    try:
        await bot.tree.sync(guild=discord.Object(world.guild.id))
        res = await fake.invoke(world.guild, world.alice, "demo echo", text="manual")
        assert res.content == "manual"

        fake.invalidate_sessions()
        await fake.disconnect_clients()  # RESUME -> INVALID_SESSION -> IDENTIFY (its 5 s wait is scaled)
        assert (fake.identify_count, fake.resume_count) == (2, 0)
        assert (await fake.invoke(world.guild, world.alice, "demo echo", text="again")).content == "again"

        await fake.dispatch("GUILD_UPDATE", {**fake.guild_payload(world.guild, full=False), "name": "Renamed"})
        assert bot.get_guild(world.guild.id).name == "Renamed"

        with pytest.raises(discord.NotFound):
            await bot.http.request(discord.http.Route("GET", "/voice/regions"))
        assert [(r.method, r.path) for r in fake.unhandled] == [("GET", "/voice/regions")]
        fake.unhandled.clear()
    finally:
        await bot.close()
        await asyncio.wait_for(task, timeout=5)


async def test_channel_rate_limit_is_opt_in_and_answers_429_with_retry_after_like_discord() -> None:
    async with FakeDiscord(channel_rate_limit=(2, 0.5)) as fake:
        guild = fake.add_guild(name="Limits")
        one, two = fake.add_text_channel(guild, "one"), fake.add_text_channel(guild, "two")
        headers = {"Authorization": f"Bot {fake.token}"}

        async def post(channel: object) -> aiohttp.ClientResponse:
            url = f"{fake.api_base}/channels/{channel.id}/messages"
            async with (
                aiohttp.ClientSession() as session,
                session.post(url, json={"content": "hi"}, headers=headers) as r,
            ):
                await r.read()
                return r

        first, second, third = [await post(one) for _ in range(3)]
        assert (first.status, second.status, third.status) == (200, 200, 429)
        assert first.headers["X-RateLimit-Remaining"] == "1" and second.headers["X-RateLimit-Remaining"] == "0"
        assert 0 < float(third.headers["X-RateLimit-Reset-After"]) <= 0.5
        assert (await post(two)).status == 200  # each channel has its own window
        await asyncio.sleep(0.55)
        assert (await post(one)).status == 200
        assert fake.rate_limited == 1 and len(fake.messages_in(one)) == 3


async def test_the_bot_removed_and_invited_back_and_a_member_leaving_and_rejoining(
    fake: FakeDiscord, world: SimpleNamespace
) -> None:
    events: list[tuple[str, int]] = []

    class Watcher(DemoBot):
        async def on_guild_remove(self, guild: discord.Guild) -> None:
            events.append(("remove", guild.id))

        async def on_guild_unavailable(self, guild: discord.Guild) -> None:
            events.append(("unavailable", guild.id))

        async def on_guild_join(self, guild: discord.Guild) -> None:
            events.append(("join", guild.id))

        async def on_raw_member_remove(self, payload: discord.RawMemberRemoveEvent) -> None:
            events.append(("member_remove", payload.user.id))

    bot = Watcher(world.guild.id)
    async with fake.running(bot):
        await fake.remove_bot(world.guild)
        await fake.sync()
        assert events == [("remove", world.guild.id)]  # a removal, not an outage
        assert bot.get_guild(world.guild.id) is None
        with pytest.raises(discord.NotFound):  # its channels are gone for the bot
            await bot.get_partial_messageable(world.goals.id).send("anyone?")

        await fake.invite_bot(world.guild)
        for _ in range(100):  # the members intent: discord.py fetches the member list before on_guild_join
            if events[-1][0] == "join":
                break
            await asyncio.sleep(0.02)
        assert events[-1] == ("join", world.guild.id)
        assert bot.get_guild(world.guild.id) is not None
        await bot.get_partial_messageable(world.goals.id).send("back")

        await fake.member_leave(world.alice)
        assert events[-1] == ("member_remove", world.alice.id)
        back = await fake.member_rejoin(world.alice)
        assert back.id == world.alice.id and [m.id for m in bot.joined] == [world.alice.id]


async def test_an_option_value_that_names_nothing_is_refused_as_discords_client_would(
    fake: FakeDiscord, world: SimpleNamespace, bot: DemoBot
) -> None:
    """Junk in a user, channel, integer option is a FakeDiscordError (the playground's 400), not a TypeError."""
    for command, options in [
        ("demo who", {"member": "notanid"}),
        ("demo who", {"member": {"nope": 1}}),
        ("demo who", {"member": 12345}),  # a number, but nobody's
        ("demo where", {"channel": "notanid"}),
        ("demo where", {"channel": [1, 2]}),
        ("demo pick", {"goal": "ship it", "times": "many"}),
    ]:
        with pytest.raises(FakeDiscordError):
            await fake.invoke(world.guild, world.alice, command, **options)
    assert fake.messages_in(world.guild.channel_named("general")) == []


async def test_a_departed_members_pasted_id_resolves_as_a_user_without_member_data(
    fake: FakeDiscord, world: SimpleNamespace, bot: DemoBot
) -> None:
    """Discord resolves any existing user in a user option; who left comes without member data."""

    @bot.tree.command(name="whois", description="A user, in the server or not", guild=discord.Object(world.guild.id))
    async def whois(interaction: discord.Interaction, user: discord.User) -> None:
        await interaction.response.send_message(f"{user.name} is a {type(user).__name__}")

    await bot.tree.sync(guild=discord.Object(world.guild.id))
    await fake.member_leave(world.alice)
    assert world.alice.id in fake.users  # still a Discord user
    res = await fake.invoke(world.guild, world.ada, "whois", user=str(world.alice.id))  # pasted, as a string
    assert res.content == "alice is a User"
    assert str(world.alice.id) not in res.interaction["data"]["resolved"].get("members", {})
    res = await fake.invoke(world.guild, world.ada, "whois", user=str(world.ada.id))
    assert res.content == "ada is a Member"


async def test_an_upload_without_a_type_gets_one_from_its_name_and_a_clock_stamps_messages(
    world: SimpleNamespace,
) -> None:
    when = datetime(2030, 1, 7, 8, 1, tzinfo=UTC)
    async with FakeDiscord(clock=lambda: when) as fake:
        guild = fake.add_guild(name="Later")
        channel = fake.add_text_channel(guild, "pics")
        bot = DemoBot(guild.id)
        async with fake.running(bot):
            # discord.py sends application/octet-stream for every file; Discord infers it from the name.
            await bot.get_partial_messageable(channel.id).send(
                file=discord.File(io.BytesIO(b"\x89PNG\r\n\x1a\n"), filename="streak.png")
            )
            await bot.get_partial_messageable(channel.id).send(file=discord.File(io.BytesIO(b"x"), filename="notes"))
        picture, blob = fake.messages_in(channel)
        assert picture["attachments"][0]["content_type"] == "image/png"
        assert blob["attachments"][0]["content_type"] == "application/octet-stream"
        assert datetime.fromisoformat(picture["timestamp"]) == when  # the given clock, not the wall clock
        assert discord.utils.snowflake_time(int(picture["id"])) == when
        assert int(blob["id"]) > int(picture["id"])
    # A clock years ahead leaves the process's other ids at the real time (their time bits pick shards).
    assert abs(discord.utils.snowflake_time(snowflake()) - datetime.now(UTC)) < timedelta(minutes=1)
    # Without a clock: the real time.
    async with FakeDiscord() as fake:
        guild = fake.add_guild(name="Now")
        member = fake.add_member(guild, "bea")
        message = await fake.user_message(guild.channel_named("general"), member, "hi")
        assert abs((datetime.fromisoformat(message["timestamp"]) - datetime.now(UTC)).total_seconds()) < 60


async def test_heartbeats_are_acknowledged_after_a_round_trip_not_at_once() -> None:
    # An ACK handled before discord.py's keep-alive thread noted its send read as a whole interval
    # of latency: "Can't keep up, shard ID 0 websocket is 41.3s behind" in the playground's log.
    async with FakeDiscord(heartbeat_interval=0.2) as fake:
        guild = fake.add_guild(name="Beats")
        bot = DemoBot(guild.id)
        async with fake.running(bot):
            await asyncio.sleep(0.5)  # the heartbeat at HELLO, then two of the keep-alive thread's
            assert 0.04 <= bot.latency < 10  # a round trip (50 ms), neither 0 nor a whole interval


def _made(fake: FakeDiscord, guild: FakeGuild) -> list[tuple[str, str | None, int, int]]:
    """Everything in `guild` in the order of its ids: kind, name, position and (members) permissions."""
    things: list[tuple[int, tuple[str, str | None, int, int]]] = []
    things += [(r.id, ("role", r.name, r.position, r.permissions)) for r in guild.roles.values()]
    things += [(c.id, ("channel", c.name, c.position, 0)) for c in guild.channels.values()]
    things += [(m.id, ("member", m.name, 0, fake.permissions_for(m, guild=guild))) for m in guild.members.values()]
    return [thing for _, thing in sorted(things)]


async def test_a_server_spec_builds_what_the_same_calls_by_hand_build_in_the_same_order() -> None:
    fake = FakeDiscord()  # nothing connects: building needs no server running
    by_hand = fake.add_guild(name="Builders", owner="ada", general=False)
    fake.add_text_channel(by_hand, "general", topic="Say hello.")
    fake.add_member(by_hand, "alice", manage_guild=True)
    fake.add_member(by_hand, "bob")
    fake.add_text_channel(by_hand, "goals")
    spec = ServerSpec(
        name="Builders",
        owner="ada",
        general=False,
        contents=(
            Channel("general", "Say hello."),
            Member("alice", permissions=("manage_guild",)),
            Member("bob"),
            Channel("goals"),
        ),
    )

    server = build_server(fake, spec)

    assert _made(fake, server.guild) == _made(fake, by_hand)
    assert [m.name for m in server.members.values()] == ["ada", "alice", "bob"]
    assert server.owner is server.members["ada"] and server.guild.owner_id == server.owner.id
    assert server.channels["general"].topic == "Say hello."
    alice, bob = server.members["alice"], server.members["bob"]
    assert fake.permissions_for(alice, guild=server.guild) & MANAGE_GUILD
    assert not fake.permissions_for(bob, guild=server.guild) & MANAGE_GUILD
    # Defaults are add_guild's: an owner named "owner" and a #general channel.
    default = build_server(fake, ServerSpec(name="Plain"))
    assert list(default.members) == ["owner"] and list(default.channels) == ["general"]
