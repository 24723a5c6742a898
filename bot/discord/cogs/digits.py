"""Reading digits on Discord: !predict and /predict, the "Read digit" menu, auto-read channels, stats and help."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.client import DigitBot
from bot.discord.messages import replied_to
from bot.discord.rendering import Destination, send_replies
from bot.downloads import download_capped
from bot.replies import Reply
from bot.service import IncomingFile, Request

log = logging.getLogger(__name__)


class Digits(commands.Cog):
    def __init__(self, bot: DigitBot) -> None:
        self.bot = bot
        self.settings = bot.settings
        self.service = bot.service
        self._read_digit_menu = app_commands.ContextMenu(name="Read digit", callback=self.read_digit)

    async def cog_load(self) -> None:
        self.bot.tree.add_command(self._read_digit_menu)

    async def cog_unload(self) -> None:
        self.bot.tree.remove_command(self._read_digit_menu.name, type=self._read_digit_menu.type)

    @commands.hybrid_command(description="Read the handwritten digit in a picture")
    @app_commands.describe(image="A picture of one handwritten digit")
    async def predict(self, ctx: commands.Context[DigitBot], image: discord.Attachment | None = None) -> None:
        """Read the digit in each attached picture, or in the pictures of the message you reply to."""
        # discord.py puts `/predict`'s image in ctx.message.attachments too, next to every picture of `!predict`.
        attachments = ctx.message.attachments
        if not attachments:  # a reply to a message deleted or out of reach: the answer says there is no picture
            replied = await replied_to(ctx.message)
            attachments = replied.attachments if replied is not None else []
        await ctx.defer()  # only does something for /predict: "thinking…" while the picture is fetched
        await self._read_and_answer(ctx, ctx.author, attachments, automatic=False)

    async def read_digit(self, interaction: discord.Interaction, message: discord.Message) -> None:
        # An interaction must be answered within 3 s, a download may take longer: show "thinking…" first.
        await interaction.response.defer(thinking=True)
        await self._read_and_answer(interaction, interaction.user, message.attachments, automatic=False)

    @commands.hybrid_command(description="The model's test accuracy, what I've read and how right I was")
    async def stats(self, ctx: commands.Context[DigitBot]) -> None:
        await send_replies(ctx, [await self.service.stats_async()])

    @commands.hybrid_command(name="help", description="What I do and how to ask")
    async def help(self, ctx: commands.Context[DigitBot]) -> None:
        await send_replies(ctx, [self.service.help(self.command_lines())])

    def command_lines(self) -> list[str]:
        prefix = self.settings.command_prefix
        return [
            f"`{prefix}predict` with pictures attached (or in reply to a message with pictures), or `/predict` "
            "— read the digit in each picture",
            "Right-click a message → Apps → **Read digit** — read the pictures on any message",
            "In a DM with me (and in channels set up for it), just post a picture",
            "Under each answer: **Right** or **Wrong** (then pick the right digit) — teach me; only the picture's "
            "sender can rate it, again to change the verdict",
            f"`{prefix}correct 7` in reply to my answer, or `/correct 7` — correct it with the digits it really shows",
            f"`{prefix}forget` or `/forget` — delete every answer I kept from your pictures",
            f"`{prefix}stats` or `/stats` — the model's test accuracy, what I've read, and how right I was in the wild",
            f"`{prefix}help` or `/help` — this message",
        ]

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Pictures posted without a command, in a DM or an auto-read channel, are read; other files are ignored."""
        if message.author.bot or not message.attachments or not self._reads_everything_in(message.channel):
            return
        ctx = await self.bot.get_context(message)
        if ctx.command is not None:
            return  # an explicit command, which the bot runs anyway
        try:
            await self._read_and_answer(ctx, message.author, message.attachments, automatic=True)
        except Exception as error:  # as a command's would, so every failure meets the one error handler
            await self.bot.answer_error(ctx, error)

    def _reads_everything_in(self, channel: discord.abc.Messageable) -> bool:
        auto_read = self.settings.auto_predict_channels
        return isinstance(channel, discord.DMChannel) or getattr(channel, "id", None) in auto_read

    async def _read_and_answer(
        self,
        destination: Destination,
        requester: discord.abc.User,
        attachments: Sequence[discord.Attachment],
        *,
        automatic: bool,
    ) -> None:
        request = Request(
            user=("discord", requester.id),
            platform="discord",
            files=[self._incoming(attachment) for attachment in attachments],
            automatic=automatic,
            always_answer=isinstance(destination, discord.Interaction) or destination.interaction is not None,
        )
        await self.service.handle(request, functools.partial(self._send_in_turn, destination, requester))

    async def _send_in_turn(self, destination: Destination, requester: discord.abc.User, replies: list[Reply]) -> None:
        """Messages into a channel wait their turn under its send limit; an interaction's answer is not a message."""
        if isinstance(destination, discord.Interaction) or destination.interaction is not None:
            await send_replies(destination, replies)
            return
        channel_id = destination.channel.id
        await self.bot.outbox.send(channel_id, requester.id, functools.partial(send_replies, destination, replies))

    def _incoming(self, attachment: discord.Attachment) -> IncomingFile:
        assert self.bot.downloads is not None, "setup_hook opens the download session"
        fetch = functools.partial(download_capped, self.bot.downloads, attachment.url, name=attachment.filename)
        return IncomingFile(attachment.filename, attachment.size, attachment.content_type, fetch)


async def setup(bot: DigitBot) -> None:
    await bot.add_cog(Digits(bot))
