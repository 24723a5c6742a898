"""Verdicts on Discord: Right/Wrong buttons under each answer, the digits or a number to correct it, and the answer
marked once rated. Every custom_id carries what its click needs, so buttons on old answers work after a restart."""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import discord

from bot.replies import Reply

if TYPE_CHECKING:
    from bot.service import DigitService, Rating

log = logging.getLogger(__name__)

PREFIX = "digit-bot"
MAX_ROWS, MAX_PER_ROW = 5, 5  # Discord's grid of components under a message
NUMBER_LENGTH = 40  # the longest correction a modal takes (the store's verdict column)
ANSWER_ID = r"[0-9a-f]{1,40}"
# What a click on each kind of component names; `index` is the answer's embed in its message.
RIGHT_OR_WRONG = re.compile(rf"{PREFIX}:(?P<kind>right|wrong|number):(?P<index>\d):(?P<answer_id>{ANSWER_ID})")
DIGIT_CHOICE = re.compile(rf"{PREFIX}:digit:(?P<index>\d):(?P<message_id>\d+):(?P<answer_id>{ANSWER_ID})")
MODAL_SECONDS = 15 * 60  # as long as Discord keeps the interaction behind a modal


def discord_user(user: discord.abc.User) -> tuple[str, int]:
    """The key a user's requests and verdicts share, as `Request.user` has it."""
    return ("discord", user.id)


def verdict_buttons(replies: Sequence[Reply], first_number: int | None = None) -> discord.ui.View | None:
    """Right and Wrong under each answer that was stored, in the order of the answers; None when none was.

    Up to five answers take a row each; ten (a full message) take two a row. With `first_number`, the answers are
    numbered from it, as their embeds' footers are (see `answer_label`).
    """
    rateable = [(index, reply) for index, reply in enumerate(replies) if reply.answer_id and reply.answer]
    if not rateable:
        return None
    view = discord.ui.View(timeout=None)
    per_row = 1 if len(rateable) <= MAX_ROWS else 2
    for position, (index, reply) in enumerate(rateable):
        assert reply.answer_id is not None and reply.answer is not None
        label = answer_label(None if first_number is None else first_number + index)
        wrong_kind = "wrong" if len(reply.answer) == 1 else "number"
        for kind in ("right", wrong_kind):
            view.add_item(VerdictButton(kind, index, reply.answer_id, label=label, row=position // per_row))
    return view


def answer_label(number: int | None) -> str:
    """How a message of several answers tells them apart: "#2" on the second's footer and buttons."""
    return "" if number is None else f"#{number}"


def answers_on(message: discord.Message) -> list[tuple[int, str]]:
    """(embed index, answer_id) of each answer on one of the bot's messages, read off its buttons."""
    found = []
    for row in message.components:
        for component in getattr(row, "children", []):
            match = RIGHT_OR_WRONG.fullmatch(getattr(component, "custom_id", None) or "")
            if match and match["kind"] == "right":
                found.append((int(match["index"]), match["answer_id"]))
    return found


def marked(embeds: Sequence[discord.Embed], index: int, mark: str) -> list[discord.Embed]:
    """The message's embeds with the rated answer's footer showing its verdict (replacing an earlier one)."""
    changed = [embed.copy() for embed in embeds]
    if 0 <= index < len(changed):
        label = (changed[index].footer.text or "").partition(" · ")[0]
        changed[index].set_footer(text=f"{label} · {mark}" if label.startswith("#") else mark)
    return changed


async def mark_answer(message: discord.Message, index: int, mark: str) -> None:
    """Edits one of the bot's messages so the rated answer shows its verdict; a message gone meanwhile is let be."""
    try:
        await message.edit(embeds=marked(message.embeds, index, mark))
    except discord.HTTPException as error:
        log.warning("Could not mark a rated answer on Discord: %s %s", error.status, error.text or "")


def acknowledgement(reply: Reply) -> str:
    """The words for the rater alone (an ephemeral message): the headline in bold, then its details."""
    return "\n".join((f"**{reply.headline}**", *reply.details))


async def rate(interaction: discord.Interaction, answer_id: str, verdict: str) -> Rating:
    service: DigitService = interaction.client.service  # type: ignore[attr-defined]
    return await service.rate("discord", discord_user(interaction.user), answer_id, verdict)


class VerdictButton(discord.ui.DynamicItem[discord.ui.Button], template=RIGHT_OR_WRONG):
    """Right, Wrong (one digit: a select of the ten) or Wrong (a number: a modal asking for it)."""

    def __init__(self, kind: str, index: int, answer_id: str, *, label: str = "", row: int | None = None) -> None:
        right = kind == "right"
        button = discord.ui.Button(
            label=" ".join(filter(None, ("Right" if right else "Wrong", label))),
            emoji="✅" if right else "❌",
            style=discord.ButtonStyle.success if right else discord.ButtonStyle.secondary,
            custom_id=f"{PREFIX}:{kind}:{index}:{answer_id}",
        )
        super().__init__(button, row=row)
        self.kind, self.index, self.answer_id = kind, index, answer_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Button, match: re.Match[str]
    ) -> VerdictButton:
        return cls(match["kind"], int(match["index"]), match["answer_id"])

    async def callback(self, interaction: discord.Interaction) -> Any:
        assert interaction.message is not None, "a button is always on a message"
        if self.kind == "wrong":
            choice = discord.ui.View(timeout=None)
            choice.add_item(DigitSelect(self.index, interaction.message.id, self.answer_id))
            await interaction.response.send_message("Which digit is it?", view=choice, ephemeral=True)
        elif self.kind == "number":
            await interaction.response.send_modal(NumberModal(self.index, self.answer_id))
        else:
            await rate_on_answer(interaction, self.index, self.answer_id, "right")


async def rate_on_answer(interaction: discord.Interaction, index: int, answer_id: str, verdict: str) -> None:
    """For a click or a modal on the answer itself: acknowledged at once (rating may wait on the database), the
    answer marked, and the rater told alone."""
    await interaction.response.defer()
    rating = await rate(interaction, answer_id, verdict)
    if rating.answer_mark is not None and interaction.message is not None:
        try:
            await interaction.edit_original_response(
                embeds=marked(interaction.message.embeds, index, rating.answer_mark)
            )
        except discord.HTTPException as error:
            log.warning("Could not mark a rated answer on Discord: %s %s", error.status, error.text or "")
    await interaction.followup.send(acknowledgement(rating.reply), ephemeral=True)


class DigitSelect(discord.ui.DynamicItem[discord.ui.Select], template=DIGIT_CHOICE):
    """The ten digits, offered to the rater alone after "Wrong"; it names the answer's message to mark it."""

    def __init__(self, index: int, message_id: int, answer_id: str) -> None:
        select: discord.ui.Select = discord.ui.Select(
            placeholder="The digit the picture shows",
            options=[discord.SelectOption(label=str(digit), value=str(digit)) for digit in range(10)],
            custom_id=f"{PREFIX}:digit:{index}:{message_id}:{answer_id}",
        )
        super().__init__(select)
        self.index, self.message_id, self.answer_id = index, message_id, answer_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Select, match: re.Match[str]
    ) -> DigitSelect:
        return cls(int(match["index"]), int(match["message_id"]), match["answer_id"])

    async def callback(self, interaction: discord.Interaction) -> Any:
        await interaction.response.defer()  # the choice's own (ephemeral) message is edited into the answer below
        rating = await rate(interaction, self.answer_id, self.item.values[0])
        if rating.answer_mark is not None and isinstance(interaction.channel, discord.abc.Messageable):
            try:
                answer = await interaction.channel.fetch_message(self.message_id)
            except discord.HTTPException:
                answer = None  # deleted meanwhile: the verdict is saved all the same
            if answer is not None:
                await mark_answer(answer, self.index, rating.answer_mark)
        await interaction.edit_original_response(content=acknowledgement(rating.reply), view=None)


class NumberModal(discord.ui.Modal, title="The right number"):
    """Asks for the whole number when an answer of several digits was wrong."""

    number: discord.ui.TextInput = discord.ui.TextInput(
        label="The digits the picture shows", placeholder="2024", min_length=1, max_length=NUMBER_LENGTH
    )

    def __init__(self, index: int, answer_id: str) -> None:
        super().__init__(timeout=MODAL_SECONDS)
        self.index, self.answer_id = index, answer_id

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await rate_on_answer(interaction, self.index, self.answer_id, self.number.value)
