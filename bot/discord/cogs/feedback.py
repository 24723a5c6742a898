"""Users' verdicts on Discord: the Right/Wrong buttons' handlers, !correct and /correct, !forget and /forget."""

from __future__ import annotations

import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.discord.client import DigitBot
from bot.discord.messages import replied_to
from bot.discord.rendering import send_replies
from bot.discord.verdicts import DigitSelect, VerdictButton, answers_on, discord_user, mark_answer
from bot.replies import Reply

log = logging.getLogger(__name__)

HISTORY_SEARCHED = 50  # messages back that /correct looks through for the bot's latest answer to its user


class Feedback(commands.Cog):
    def __init__(self, bot: DigitBot) -> None:
        self.bot = bot
        self.service = bot.service
        self.prefix = bot.settings.command_prefix

    async def cog_load(self) -> None:
        # Matched by custom_id on any message, so the buttons of answers sent before a restart keep working.
        self.bot.add_dynamic_items(VerdictButton, DigitSelect)

    async def cog_unload(self) -> None:
        self.bot.remove_dynamic_items(VerdictButton, DigitSelect)

    @commands.hybrid_command(description="Correct my answer to your picture with the digits it really shows")
    @app_commands.describe(
        digits="The digits the picture really shows, e.g. 7 (or 2024 for a number)",
        picture="Which answer, when my message has several: its number (#2 → 2)",
    )
    async def correct(self, ctx: commands.Context[DigitBot], digits: str, picture: int | None = None) -> None:
        """As a reply to one of my answers (or, as /correct, on my latest answer to you here)."""
        answer = await self._answer_meant(ctx)
        if answer is None:
            await send_replies(ctx, [self._no_answer_reply()], ephemeral=True)
            return
        answers = answers_on(answer)
        if len(answers) > 1:  # the picture's number says which; a message of one answer needs none
            answers = [(index, answer_id) for index, answer_id in answers if _footer_number(answer, index) == picture]
        if len(answers) != 1:
            await send_replies(ctx, [self._which_answer_reply(len(answers_on(answer)), digits)], ephemeral=True)
            return
        (index, answer_id), *_ = answers
        rating = await self.service.rate("discord", discord_user(ctx.author), answer_id, digits)
        if rating.answer_mark is not None:
            await mark_answer(answer, index, rating.answer_mark)
        await send_replies(ctx, [rating.reply], ephemeral=True)

    @commands.hybrid_command(description="Delete every answer I kept from your pictures, with your verdicts")
    async def forget(self, ctx: commands.Context[DigitBot]) -> None:
        await send_replies(ctx, [await self.service.forget("discord", discord_user(ctx.author))], ephemeral=True)

    async def _answer_meant(self, ctx: commands.Context[DigitBot]) -> discord.Message | None:
        """The bot's message replied to, or (for /correct, which cannot reply) its latest answer to this user here."""
        if ctx.interaction is None:
            replied = await replied_to(ctx.message)
            return replied if replied is not None and self._is_an_answer(replied) else None
        try:
            async for message in ctx.channel.history(limit=HISTORY_SEARCHED):
                if self._is_an_answer(message) and _asked_by(message) == ctx.author.id:
                    return message
        except discord.HTTPException as error:
            log.warning("Could not look through a channel for an answer to correct: %s", error.status)
        return None

    def _is_an_answer(self, message: discord.Message) -> bool:
        return self.bot.user is not None and message.author.id == self.bot.user.id and bool(answers_on(message))

    def _no_answer_reply(self) -> Reply:
        return Reply(
            headline="Which answer of mine should I correct?",
            details=(
                f"Reply to my answer with {self.prefix}correct 7 (the digits the picture really shows), "
                "or press Wrong under it.",
            ),
            is_error=True,
        )

    def _which_answer_reply(self, answers: int, digits: str) -> Reply:
        return Reply(
            headline=f"That message has {answers} answers: say which one.",
            details=(f"{self.prefix}correct {digits} 2 corrects answer #2.",),
            is_error=True,
        )


def _asked_by(message: discord.Message) -> int | None:
    """Whose request the bot's message answers: the author of the message it replies to, or the command's user."""
    if message.interaction_metadata is not None:
        return message.interaction_metadata.user.id
    replied = message.reference.resolved if message.reference is not None else None
    return replied.author.id if isinstance(replied, discord.Message) else None


def _footer_number(message: discord.Message, index: int) -> int | None:
    """The number an answer of several carries on its footer ("#2"); None for a message of one answer."""
    if index >= len(message.embeds):
        return None
    label = (message.embeds[index].footer.text or "").partition(" · ")[0]
    return int(label[1:]) if label.startswith("#") and label[1:].isdigit() else None


async def setup(bot: DigitBot) -> None:
    await bot.add_cog(Feedback(bot))
