"""The fake Discord speaks enough of the real protocol for a bare discord.py client: connect, read, reply."""

from __future__ import annotations

import asyncio
import io

import discord
import pytest

from fakes.discord_server import PNG_SIGNATURE, FakeDiscord, Upload


@pytest.fixture
async def discord_fake():
    async with FakeDiscord(heartbeat_interval_ms=100) as fake:
        yield fake
        assert not fake.unknown_requests, f"the client called routes the fake does not serve: {fake.unknown_requests}"


class EchoClient(discord.Client):
    """Answers every message that has an attachment with a reply carrying that attachment back."""

    def __init__(self, *, message_content: bool = True) -> None:
        intents = discord.Intents.none()
        intents.guilds = intents.guild_messages = intents.dm_messages = True
        intents.message_content = message_content
        super().__init__(intents=intents)
        self.ready = asyncio.Event()
        self.seen: list[discord.Message] = []

    async def on_ready(self) -> None:
        self.ready.set()

    async def on_message(self, message: discord.Message) -> None:
        self.seen.append(message)
        if message.author.bot or not message.attachments:
            return
        attachment = message.attachments[0]
        data = await attachment.read()
        await message.reply(f"got {attachment.filename}", file=discord.File(io.BytesIO(data), filename="echo.png"))


async def test_a_bare_client_connects_reads_a_message_and_replies_with_a_file(discord_fake):
    client = EchoClient()
    async with client:
        runner = asyncio.create_task(client.start(discord_fake.token))
        await asyncio.wait_for(client.ready.wait(), 10)
        assert client.user.id == discord_fake.application_id
        assert [guild.id for guild in client.guilds] == [discord_fake.guild_id]

        picture = PNG_SIGNATURE + b"not really a picture"
        posted = await discord_fake.post_message(uploads=[Upload("seven.png", picture)])
        answer = await discord_fake.answer_to(posted)

        assert answer.content == "got seven.png"
        assert answer.file("echo.png").data == picture
        assert discord_fake.downloads, "the client downloaded the attachment from the fake CDN"
        await discord_fake.wait_for_heartbeats(3)
        await client.close()
        await runner


async def test_without_the_message_content_intent_guild_messages_arrive_empty(discord_fake):
    client = EchoClient(message_content=False)
    async with client:
        runner = asyncio.create_task(client.start(discord_fake.token))
        await discord_fake.wait_until_ready_sent()
        await discord_fake.post_message("!predict", uploads=[Upload("seven.png", PNG_SIGNATURE)])
        dm = await discord_fake.post_message(
            "!predict", dm=True, author=discord_fake.make_user("ada"), uploads=[Upload("one.png", PNG_SIGNATURE)]
        )
        await discord_fake.answer_to(dm)  # DMs keep their content and attachments, so the client answers

        guild_message, dm_message = [message for message in client.seen if not message.author.bot][:2]
        assert (guild_message.content, guild_message.attachments) == ("", [])
        assert dm_message.content == "!predict"
        await client.close()
        await runner
