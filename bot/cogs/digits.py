"""Reading digits on Discord: !predict and /predict, the "Read digit" menu, auto-read channels, stats and help."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import aiohttp
import discord
from discord import app_commands
from discord.ext import commands

from bot.discord_app import Destination, DigitBot, send_replies
from bot.errors import DownloadFailed, ImageTooLarge, NoPicture, NotAnImage, SlowDown
from bot.replies import Reply
from bot.service import Picture

log = logging.getLogger(__name__)

MAX_PICTURES = 10  # as many as one Discord message can carry


class Digits(commands.Cog):
    def __init__(self, bot: DigitBot) -> None:
        self.bot = bot
        self.settings = bot.settings
        self.service = bot.service
        # Keyed by user, so a slash command, a menu and a message share one cooldown.
        self._cooldowns = commands.CooldownMapping(
            commands.Cooldown(1, self.settings.user_cooldown_seconds), lambda user: user.id
        )
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
        attachments = ctx.message.attachments or await self._replied_to_attachments(ctx.message)
        await self._read_and_answer(ctx, ctx.author, attachments)

    async def read_digit(self, interaction: discord.Interaction, message: discord.Message) -> None:
        await self._read_and_answer(interaction, interaction.user, message.attachments)

    @commands.hybrid_command(description="The model's test accuracy and what I've read so far")
    async def stats(self, ctx: commands.Context[DigitBot]) -> None:
        await send_replies(ctx, [self.service.stats()])

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
            f"`{prefix}stats` or `/stats` — the model's test accuracy and what I've read so far",
            f"`{prefix}help` or `/help` — this message",
        ]

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Pictures posted without a command, in a DM or an auto-read channel, are read as if by `!predict`."""
        if message.author.bot or not message.attachments or not self._reads_everything_in(message.channel):
            return
        ctx = await self.bot.get_context(message)
        if ctx.command is not None:
            return  # an explicit command, which the bot runs anyway
        ctx.command = self.predict
        await self.bot.invoke(ctx)  # through the command machinery, so errors reach the one error handler

    def _reads_everything_in(self, channel: discord.abc.Messageable) -> bool:
        auto_read = self.settings.auto_predict_channels
        return isinstance(channel, discord.DMChannel) or getattr(channel, "id", None) in auto_read

    async def _replied_to_attachments(self, message: discord.Message) -> list[discord.Attachment]:
        reference = message.reference
        if reference is None or reference.message_id is None:
            return []
        replied = reference.resolved
        if not isinstance(replied, discord.Message):
            try:
                replied = await message.channel.fetch_message(reference.message_id)
            except discord.HTTPException:
                return []  # deleted or out of reach: the answer says there is no picture
        return replied.attachments

    async def _read_and_answer(
        self, destination: Destination, requester: discord.abc.User, attachments: Sequence[discord.Attachment]
    ) -> None:
        if not attachments:
            raise NoPicture("no picture attached, and none on a replied-to message")
        retry_after = self._cooldowns.get_bucket(requester).update_rate_limit()
        if retry_after:
            raise SlowDown(retry_after)
        # An interaction must be answered within 3 s, a download may take longer: show "thinking…" first.
        if isinstance(destination, discord.Interaction):
            await destination.response.defer(thinking=True)
        else:
            await destination.defer()  # only does something for /predict
        await send_replies(destination, await self._read(attachments[:MAX_PICTURES]))

    async def _read(self, attachments: Sequence[discord.Attachment]) -> list[Reply]:
        """One reply per attachment, in order; a picture that can't be fetched gets its reason, not a failure."""
        return await self.service.read(await asyncio.gather(*(self._fetch(attachment) for attachment in attachments)))

    async def _fetch(self, attachment: discord.Attachment) -> Picture:
        """The attachment's bytes, refused from what Discord says about it before anything is downloaded."""
        limit, name = self.settings.max_image_bytes, attachment.filename
        if attachment.size > limit:
            return Picture.refused(ImageTooLarge(f"{name} has {attachment.size} bytes", limit_bytes=limit), name)
        if attachment.content_type and not attachment.content_type.startswith("image/"):
            return Picture.refused(NotAnImage(f"{name} is {attachment.content_type}"), name)
        try:
            async with asyncio.timeout(self.settings.download_timeout_seconds):
                return Picture(await attachment.read(), name)
        except (TimeoutError, discord.HTTPException, aiohttp.ClientError) as error:
            log.warning("Could not download %s: %r", name, error)
            return Picture.refused(DownloadFailed(f"{name} was not downloaded: {error!r}"), name)


async def setup(bot: DigitBot) -> None:
    await bot.add_cog(Digits(bot))
