"""Verdicts on Discord end to end: the real discord.py client, our cogs, the model and a SQLite feedback database,
against a fake Discord; users press Right and Wrong, pick digits, fill in a modal, and reply !correct."""

# Fixtures imported from other test modules are asked for by name, which ruff takes for redefinitions.
# ruff: noqa: F811

from __future__ import annotations

import asyncio

import discord
import pytest

from bot.discord.verdicts import verdict_buttons
from bot.feedback.store import StoredAnswer
from bot.replies import Reply
from fakes.discord_server import Callback, FakeDiscord, SentMessage, Upload
from tests.chat_feedback import core_on, database_url, locked, service  # noqa: F401
from tests.test_discord_bot import discord_fake, running_bot, settings_for  # noqa: F401


@pytest.fixture
async def digit_bot(service, discord_fake):
    async with running_bot(settings_for(discord_fake), service, discord_fake) as bot:
        yield bot


@pytest.fixture(scope="module")
def picture(readable_digit):
    return lambda digit, nth=0: Upload.picture(f"digit-{digit}-{nth}", readable_digit(digit, nth=nth))


async def answer_to_pictures(fake: FakeDiscord, user: dict, *pictures: Upload) -> SentMessage:
    posted = await fake.post_message("!predict", author=user, uploads=list(pictures))
    return await fake.answer_to(posted)


async def ephemeral_answer(fake: FakeDiscord, interaction: dict) -> SentMessage:
    """What the user of `interaction` alone was told (its last version, after any edit)."""
    (message, *_) = await fake.wait_for_sent(where=lambda m: m.interaction_id == int(interaction["id"]) and m.ephemeral)
    edits = [m for m in fake.sent if m.id == message.id]
    return edits[-1]


async def marked_answer(fake: FakeDiscord, answer: SentMessage, count: int = 1) -> SentMessage:
    """The answer message after its `count`-th edit."""
    edits = await fake.wait_for_sent(count, where=lambda m: m.id == answer.id and m.via in ("edit", "update"))
    return edits[count - 1]


def footers(message: SentMessage) -> list[str]:
    return [embed.get("footer", {}).get("text", "") for embed in message.embeds]


def verdict_ids(message: SentMessage, kind: str) -> list[str]:
    return [custom_id for custom_id in message.custom_ids if custom_id.startswith(f"digit-bot:{kind}:")]


async def test_right_marks_the_answer_and_tells_only_its_sender(digit_bot, discord_fake, picture, service):
    ada = discord_fake.make_user("ada")
    answer = await answer_to_pictures(discord_fake, ada, picture(7))
    assert [button["label"] for button in answer.buttons] == ["Right", "Wrong"]
    (right,) = verdict_ids(answer, "right")

    click = await discord_fake.click(answer, right, user=ada)

    assert (await discord_fake.wait_for_callback(click)).type == Callback.DEFERRED_UPDATE
    acknowledgement = await ephemeral_answer(discord_fake, click)
    assert "Noted: I read it right" in acknowledgement.content
    marked = await marked_answer(discord_fake, answer)
    assert footers(marked) == ["✓ Marked right"]
    assert marked.embeds[0]["title"] == answer.embeds[0]["title"], "the answer itself stays"
    assert marked.embeds[0]["image"] == answer.embeds[0]["image"], "and so does the picture the model saw"
    assert [a["filename"] for a in (await discord_fake.message_now(answer))["attachments"]] == [
        file.filename for file in answer.files
    ]
    assert marked.custom_ids == answer.custom_ids, "its buttons stay, to change the verdict"
    assert "1 answer rated, 100.0% right" in (await service.stats_async()).text


async def test_wrong_offers_the_ten_digits_and_the_one_picked_corrects_the_answer(
    digit_bot, discord_fake, picture, service
):
    ada = discord_fake.make_user("ada")
    answer = await answer_to_pictures(discord_fake, ada, picture(7))
    (wrong,) = verdict_ids(answer, "wrong")

    click = await discord_fake.click(answer, wrong, user=ada)
    offer = await ephemeral_answer(discord_fake, click)
    (select,) = [c for row in offer.components for c in row["components"]]
    assert [option["value"] for option in select["options"]] == [str(digit) for digit in range(10)]
    choice = await discord_fake.choose(offer, select["custom_id"], ["1"], user=ada)

    marked = await marked_answer(discord_fake, answer)
    assert footers(marked) == ["✎ Corrected to 1"]
    await discord_fake.wait_for_sent(where=lambda m: m.interaction_id == int(choice["id"]) and m.via == "edit")
    thanks = [m for m in discord_fake.sent if m.id == offer.id][-1]
    assert "it shows 1, not 7" in thanks.content and thanks.components == [], "the choice is made: no select left"
    assert "Most often corrected: 7 → 1" in (await service.stats_async()).text


async def test_only_the_pictures_sender_can_rate_it_and_rating_again_replaces_the_verdict(
    digit_bot, discord_fake, picture, service
):
    ada, bea = discord_fake.make_user("ada"), discord_fake.make_user("bea")
    answer = await answer_to_pictures(discord_fake, ada, picture(4))
    (right,), (wrong,) = verdict_ids(answer, "right"), verdict_ids(answer, "wrong")

    intruder = await discord_fake.click(answer, right, user=bea)
    refused = await ephemeral_answer(discord_fake, intruder)
    assert "Only the person who sent the picture" in refused.content
    assert not [m for m in discord_fake.sent if m.id == answer.id and m.via != "channel"], "the answer is unmarked"

    await discord_fake.click(answer, right, user=ada)
    assert footers(await marked_answer(discord_fake, answer)) == ["✓ Marked right"]
    offer = await ephemeral_answer(discord_fake, await discord_fake.click(answer, wrong, user=ada))
    await discord_fake.choose(offer, offer.custom_ids[0], ["9"], user=ada)
    assert footers(await marked_answer(discord_fake, answer, 2)) == ["✎ Corrected to 9"]
    stats = (await service.stats_async()).text
    assert "1 answer rated, 0.0% right" in stats, "the second verdict replaced the first"


async def test_each_answer_of_a_message_has_its_own_buttons_and_mark(digit_bot, discord_fake, picture):
    ada = discord_fake.make_user("ada")
    answer = await answer_to_pictures(discord_fake, ada, picture(3), picture(1), picture(4))
    assert [button["label"] for button in answer.buttons] == [
        f"{verdict} #{n}" for n in (1, 2, 3) for verdict in ("Right", "Wrong")
    ]
    assert [len(row["components"]) for row in answer.components] == [2, 2, 2], "one answer a row"
    assert footers(answer) == ["#1", "#2", "#3"]

    await discord_fake.click(answer, verdict_ids(answer, "right")[1], user=ada)

    assert footers(await marked_answer(discord_fake, answer)) == ["#1", "#2 · ✓ Marked right", "#3"]


async def test_ten_answers_fit_discords_five_rows(digit_bot, discord_fake, picture):
    answer = await answer_to_pictures(discord_fake, discord_fake.make_user("ada"), *(picture(d) for d in range(10)))

    assert [len(row["components"]) for row in answer.components] == [4] * 5
    assert len(verdict_ids(answer, "right")) == 10


async def test_buttons_of_an_answer_sent_before_a_restart_work_after_it(
    discord_fake, picture, model_path, database_url
):
    ada = discord_fake.make_user("ada")
    settings = settings_for(discord_fake)
    with core_on(model_path, database_url) as first:
        async with running_bot(settings, first, discord_fake):
            answer = await answer_to_pictures(discord_fake, ada, picture(2))
    with core_on(model_path, database_url) as second:  # a new process's core, on the same database
        async with running_bot(settings, second, discord_fake):
            click = await discord_fake.click(answer, verdict_ids(answer, "right")[0], user=ada)
            assert "Noted: I read it right" in (await ephemeral_answer(discord_fake, click)).content
            assert footers(await marked_answer(discord_fake, answer)) == ["✓ Marked right"]


async def test_correct_in_reply_to_an_answer_and_slash_correct_on_the_latest(digit_bot, discord_fake, picture):
    ada = discord_fake.make_user("ada")
    answer = await answer_to_pictures(discord_fake, ada, picture(7))

    request = await discord_fake.post_message("!correct 1", author=ada, reply_to=await discord_fake.message_now(answer))
    thanks = await discord_fake.answer_to(request)
    assert "it shows 1, not 7" in thanks.text
    assert footers(await marked_answer(discord_fake, answer)) == ["✎ Corrected to 1"]

    slash = await discord_fake.slash_command("correct", user=ada, options={"digits": "2"})
    acknowledgement = await discord_fake.answer_to(slash)
    assert acknowledgement.ephemeral and "it shows 2, not 7" in acknowledgement.text
    assert footers(await marked_answer(discord_fake, answer, 2)) == ["✎ Corrected to 2"]


async def test_correct_not_in_reply_to_an_answer_says_how(digit_bot, discord_fake):
    request = await discord_fake.post_message("!correct 3")

    assert "Reply to my answer with !correct 7" in (await discord_fake.answer_to(request)).text


async def test_forget_deletes_the_users_answers_so_their_buttons_no_longer_rate(digit_bot, discord_fake, picture):
    ada = discord_fake.make_user("ada")
    answer = await answer_to_pictures(discord_fake, ada, picture(5))

    forgotten = await discord_fake.answer_to(await discord_fake.post_message("!forget", author=ada))
    assert "deleted the 1 answer" in forgotten.text
    click = await discord_fake.click(answer, verdict_ids(answer, "right")[0], user=ada)

    assert "I no longer have that answer" in (await ephemeral_answer(discord_fake, click)).content
    slash = await discord_fake.slash_command("forget", user=ada)
    again = await discord_fake.answer_to(slash)
    assert again.ephemeral and "nothing of yours" in again.text


async def test_with_the_database_locked_the_verdict_is_not_saved_and_pictures_are_still_answered(
    digit_bot, discord_fake, picture, database_url
):
    ada = discord_fake.make_user("ada")
    answer = await answer_to_pictures(discord_fake, ada, picture(6))

    with locked(database_url):
        click = await discord_fake.click(answer, verdict_ids(answer, "right")[0], user=ada)
        assert "couldn't save your verdict" in (await ephemeral_answer(discord_fake, click)).content
        unsaved = await answer_to_pictures(discord_fake, ada, picture(8))

    assert "8" in unsaved.embeds[0]["title"]
    assert unsaved.components == [], "an answer that was not kept has nothing to rate"
    await asyncio.sleep(0.2)
    assert not [m for m in discord_fake.sent if m.id == answer.id and m.via != "channel"], "nothing was marked"


async def test_wrong_on_a_number_asks_for_the_whole_number_in_a_modal(digit_bot, discord_fake, service):
    # The bot's answer to ada's picture of 2021, as it would be once numbers are read: kept, then sent.
    ada = discord_fake.make_user("ada")
    store = service.feedback.store()
    stored = StoredAnswer("discord", store.user_key("discord", ("discord", int(ada["id"]))), "2021", 0.9, "m", ())
    store.record_answer(stored)
    reply = Reply(headline="2021 — 90.0% sure", answer="2021", answer_id=stored.id)
    channel = digit_bot.get_channel(discord_fake.general_channel_id)
    sent = await channel.send(embeds=[discord.Embed(title=reply.headline)], view=verdict_buttons([reply]))
    (answer,) = await discord_fake.wait_for_sent(where=lambda m: m.id == sent.id)
    (number,) = verdict_ids(answer, "number")

    modal = await discord_fake.wait_for_modal(await discord_fake.click(answer, number, user=ada))
    submit = await discord_fake.submit_modal(modal, {modal.text_input_ids[0]: "2024"})

    assert "it shows 2024, not 2021" in (await ephemeral_answer(discord_fake, submit)).content
    assert footers(await marked_answer(discord_fake, answer)) == ["✎ Corrected to 2024"]


async def test_in_a_dm_the_picked_digit_corrects_the_answer_too(digit_bot, discord_fake, picture):
    ada = discord_fake.make_user("ada")
    answer = await discord_fake.answer_to(await discord_fake.post_message(dm=True, author=ada, uploads=[picture(7)]))
    (wrong,) = verdict_ids(answer, "wrong")

    offer = await ephemeral_answer(discord_fake, await discord_fake.click(answer, wrong, user=ada))
    await discord_fake.choose(offer, offer.custom_ids[0], ["1"], user=ada)

    assert footers(await marked_answer(discord_fake, answer)) == ["✎ Corrected to 1"]


async def test_an_answer_to_slash_predict_is_rated_like_any_other(digit_bot, discord_fake, picture):
    ada = discord_fake.make_user("ada")
    answer = await discord_fake.answer_to(
        await discord_fake.slash_command("predict", user=ada, options={"image": picture(7)})
    )
    assert answer.via == "followup"

    offer = await ephemeral_answer(
        discord_fake, await discord_fake.click(answer, verdict_ids(answer, "wrong")[0], user=ada)
    )
    await discord_fake.choose(offer, offer.custom_ids[0], ["1"], user=ada)
    assert footers(await marked_answer(discord_fake, answer)) == ["✎ Corrected to 1"]
    await discord_fake.click(answer, verdict_ids(answer, "right")[0], user=ada)
    assert footers(await marked_answer(discord_fake, answer, 2)) == ["✓ Marked right"]
