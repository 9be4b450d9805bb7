"""/github link in one step: the reply with GitHub's code, and its edit once the device flow ends.

The flow's rules and its wait live in bot/services/github/device.py, and so do the tasks that wait
(`Flows`: one per member, started by the command, never at load). Here is only what the member
sees: the reply, and its one edit when the flow ends: the member approved or declined, the code
expired, or the cog was unloaded (the bot stops).
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import discord

from bot.errors import UserError
from bot.services.github import links as github_links
from bot.services.github.device import DeviceCode, DeviceFlow, Flows
from bot.tree import error_reference
from cogs._format import NO_MENTIONS, escape, github_link, guild_id_of

if TYPE_CHECKING:
    from bot.bot import Shiplog

log = logging.getLogger(__name__)

HOW_TO_LINK = (
    "To link your GitHub account, run `/github link username:<your login>`: I give you a code to put "
    "in your GitHub bio or a public gist, then `/github verify` checks it."
)
STOPPED = "Shiplog restarted before you approved, so nothing was linked. Run `/github link` again."
UNLOAD_GRACE = 2.0  # seconds the replies of flows cut short by a stop have to say so


def code_text(code: DeviceCode, *, again: bool = False) -> str:
    """The reply: where to go, the code to type, and what happens next."""
    first = "You already have a code waiting." if again else "Link your GitHub account in one step."
    return (
        f"{first} Open **{escape(code.verification_uri)}** and enter this code:\n"
        f"```\n{code.user_code}\n```"
        f"Then approve **Shiplog** on GitHub (it only reads your public profile). This message will "
        f"say when you're linked; the code works until {discord.utils.format_dt(code.expires_at, 't')}."
    )


def code_view(code: DeviceCode) -> discord.ui.View:
    """A button that opens GitHub's page for the code."""
    view = discord.ui.View(timeout=None)
    view.add_item(discord.ui.Button(label="Open GitHub", emoji="🔑", url=code.verification_uri))
    return view


def linked_text(account: github_links.LinkedAccount, watch_note: str) -> str:
    """What the reply says once the account is linked (as /github verify says it)."""
    return (
        f"✅ Linked to {github_link(escape(account.login), account.url, preview=False)}. "
        "Your merged PRs will be celebrated here!\n" + watch_note
    )


@dataclass
class DeviceLinks:
    """/github link with no username: the reply with the code, and its edit when the flow ends."""

    bot: Shiplog
    watch_note: str
    flows: Flows = field(default_factory=Flows)

    async def start(self, interaction: discord.Interaction[Shiplog], flow: DeviceFlow) -> None:
        """Answer with a code to type on GitHub, then wait for the approval (in `flows`) to edit the answer."""
        key = (guild_id_of(interaction), interaction.user.id)
        if not self.flows.reserve(key):
            # The same code again: a second flow would race the first, and GitHub limits new codes.
            waiting = self.flows.codes.get(key)
            if waiting is None:
                raise UserError("I'm still asking GitHub for your code: it will show in your first reply.")
            await interaction.response.send_message(
                code_text(waiting, again=True), view=code_view(waiting), ephemeral=True, allowed_mentions=NO_MENTIONS
            )
            return
        try:
            await interaction.response.defer(ephemeral=True, thinking=True)
            code = await flow.start()
            await interaction.edit_original_response(
                content=code_text(code), view=code_view(code), allowed_mentions=NO_MENTIONS
            )
        except BaseException:
            self.flows.release(key)
            raise
        self.flows.run(key, code, self._finish(interaction, flow, code))

    async def _finish(self, interaction: discord.Interaction[Shiplog], flow: DeviceFlow, code: DeviceCode) -> None:
        text = STOPPED
        try:
            text = await self._outcome(interaction, flow, code)
        finally:
            with contextlib.suppress(discord.HTTPException):  # the member may have dismissed the reply
                await interaction.edit_original_response(content=text, view=None, allowed_mentions=NO_MENTIONS)

    async def _outcome(self, interaction: discord.Interaction[Shiplog], flow: DeviceFlow, code: DeviceCode) -> str:
        try:
            user = await flow.identify(code)
            account = await github_links.link_approved(
                self.bot.sessionmaker,
                user,
                guild_id=guild_id_of(interaction),
                user_id=interaction.user.id,
                now=self.bot.now(),
            )
        except UserError as exc:
            return f"❌ {exc}"
        except Exception:
            ref = error_reference()
            log.exception("unexpected error (ref %s) in a /github link for user %s", ref, interaction.user.id)
            return f"Something went wrong on my side (ref {ref}), so nothing was linked. Please try again later."
        self.bot.wake_radar()  # the new link's history is imported by the radar's next pass
        return linked_text(account, self.watch_note)

    async def stop(self) -> None:
        """Cancel every flow (the cog is unloaded, the bot stops); their replies say so."""
        await self.flows.stop(UNLOAD_GRACE)
