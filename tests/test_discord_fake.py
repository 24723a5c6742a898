"""The fake Discord speaks enough of the real protocol for a bare discord.py client: connect, read, reply."""

from __future__ import annotations

import asyncio
import io
import time

import aiohttp
import discord
import pytest

from fakes.discord_server import PNG_SIGNATURE, FakeDiscord, GatewayClose, RefusedSend, Upload

SOCKET_BUFFERS_BYTES = 1024 * 1024  # a client's autotuned receive buffer on loopback: 0.2-0.5 MB measured


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


async def rest(fake: FakeDiscord, method: str, path: str, payload: object = None) -> tuple[int, dict, object]:
    """One REST call as the bot would make it: status, headers and JSON body."""
    headers = {"Authorization": f"Bot {fake.token}"}
    url = f"{fake.api_base}{path}"
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, url, json=payload, headers=headers) as response,
    ):
        return response.status, dict(response.headers), await response.json()


async def attachment_url(fake: FakeDiscord, upload: Upload) -> str:
    posted = await fake.post_message(uploads=[upload])
    return posted["attachments"][0]["url"]


@pytest.mark.parametrize("status", [404, 500])
async def test_the_cdn_answers_an_uploads_error_status(discord_fake, status):
    url = await attachment_url(discord_fake, Upload("gone.png", PNG_SIGNATURE, cdn_status=status))

    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.status == status


@pytest.mark.parametrize("chunked", [False, True], ids=["with Content-Length", "chunked"])
async def test_the_cdn_streams_the_served_size_whatever_the_attachment_declares(discord_fake, chunked):
    upload = Upload("big.png", PNG_SIGNATURE, declared_size=50_000, served_size=3_000_000, chunked=chunked)
    posted = await discord_fake.post_message(uploads=[upload])
    assert posted["attachments"][0]["size"] == 50_000

    async with aiohttp.ClientSession() as session, session.get(posted["attachments"][0]["url"]) as response:
        body = await response.read()
        content_length = response.headers.get("Content-Length")

    assert len(body) == 3_000_000 and body.startswith(PNG_SIGNATURE) and not any(body[len(PNG_SIGNATURE) :])
    assert content_length == (None if chunked else "3000000")
    assert discord_fake.bytes_served_of("big.png") == 3_000_000


async def test_the_cdn_stops_streaming_when_the_client_hangs_up(discord_fake):
    url = await attachment_url(discord_fake, Upload("endless.png", b"", served_size=1_000_000_000, chunked=True))

    async with aiohttp.ClientSession() as session, session.get(url) as response:
        await response.content.readexactly(100_000)
    await asyncio.sleep(0.2)

    # Past what the client read, only what the loopback sockets hold: the fake keeps its own buffers small.
    assert 100_000 <= discord_fake.bytes_served_of("endless.png") < 100_000 + SOCKET_BUFFERS_BYTES


async def test_past_the_channel_send_limit_discord_answers_429_with_its_headers_and_body():
    async with FakeDiscord(channel_send_limit=(3, 5.0)) as fake:
        path = f"/channels/{fake.general_channel_id}/messages"
        answers = [await rest(fake, "POST", path, {"content": f"hi {n}"}) for n in range(4)]

    statuses = [status for status, _, _ in answers]
    assert statuses == [200, 200, 200, 429]
    _, ok_headers, _ = answers[0]
    assert (ok_headers["X-RateLimit-Limit"], ok_headers["X-RateLimit-Remaining"]) == ("3", "2")
    _, headers, body = answers[3]
    assert body["message"] == "You are being rate limited." and body["global"] is False
    assert 0 < body["retry_after"] <= 5.0
    for header in ("X-RateLimit-Reset", "X-RateLimit-Reset-After", "X-RateLimit-Bucket", "Retry-After"):
        assert header in headers
    assert headers["X-RateLimit-Remaining"] == "0"
    assert [hit.channel_id for hit in fake.rate_limited] == [fake.general_channel_id]


async def test_discord_py_waits_out_the_channel_send_limit_and_sends_everything():
    async with FakeDiscord(heartbeat_interval_ms=100, channel_send_limit=(2, 0.5)) as fake:
        client = EchoClient()
        async with client:
            runner = asyncio.create_task(client.start(fake.token))
            await asyncio.wait_for(client.ready.wait(), 10)
            channel = client.get_channel(fake.general_channel_id)
            started = time.perf_counter()
            await asyncio.gather(*(channel.send(f"message {n}") for n in range(5)))
            waited = time.perf_counter() - started
            await client.close()
            await runner

    assert sorted(message.content for message in fake.sent) == [f"message {n}" for n in range(5)]
    assert waited >= 0.9, "five messages at two per half second take two more windows"


async def test_login_status_makes_every_login_fail_with_that_status():
    async with FakeDiscord(login_status=500) as fake:
        status, _, body = await rest(fake, "GET", "/users/@me")

    assert (status, body["message"]) == (500, "500: Internal Server Error")


async def test_gateway_close_code_closes_the_session_right_after_identify():
    async with FakeDiscord(gateway_close_code=4004) as fake:
        client = EchoClient()
        async with client:
            with pytest.raises(discord.ConnectionClosed) as closed:
                await asyncio.wait_for(client.start(fake.token), 10)

    assert closed.value.code == 4004
    assert len(fake.identifies) == 1 and not fake.ready_sent_at
    assert fake.gateway_closes == [GatewayClose(4004, by_bot=False)]


async def test_command_sync_status_403_is_discords_missing_access():
    async with FakeDiscord(command_sync_status=403) as fake:
        status, _, body = await rest(
            fake, "PUT", f"/applications/{fake.application_id}/guilds/{fake.guild_id}/commands", []
        )

    assert (status, body) == (403, {"message": "Missing Access", "code": 50001})
    assert not fake.command_syncs


async def test_a_reply_to_a_deleted_message_is_sent_plain_or_refused_as_it_asks(discord_fake):
    posted = await discord_fake.post_message("soon gone")
    await discord_fake.delete_message(posted)
    path = f"/channels/{discord_fake.general_channel_id}/messages"

    def reply(fail_if_not_exists: bool | None) -> dict:
        reference = {"message_id": posted["id"]}
        if fail_if_not_exists is not None:
            reference["fail_if_not_exists"] = fail_if_not_exists
        return {"content": "an answer", "message_reference": reference}

    plain_status, _, plain = await rest(discord_fake, "POST", path, reply(False))
    refused = [await rest(discord_fake, "POST", path, reply(flag)) for flag in (True, None)]

    assert plain_status == 200 and "message_reference" not in plain
    assert discord_fake.sent[-1].reply_to is None
    for status, _, body in refused:
        assert (status, body["code"]) == (400, 50035)
        assert body["errors"]["message_reference"]["_errors"][0]["message"] == "Unknown message"
    assert [refusal.code for refusal in discord_fake.refused_sends] == [50035, 50035]


async def test_creating_a_message_in_a_forbidden_channel_is_missing_permissions(discord_fake):
    discord_fake.forbidden_channels.add(discord_fake.digits_channel_id)

    status, _, body = await rest(discord_fake, "POST", f"/channels/{discord_fake.digits_channel_id}/messages", {})

    assert (status, body) == (403, {"message": "Missing Permissions", "code": 50013})
    assert discord_fake.refused_sends == [RefusedSend(discord_fake.digits_channel_id, 403, 50013)]


async def test_send_status_fails_every_message_create(discord_fake):
    discord_fake.send_status = 500

    status, _, _ = await rest(discord_fake, "POST", f"/channels/{discord_fake.general_channel_id}/messages", {})

    assert status == 500
    assert not discord_fake.sent


async def test_the_gateway_handed_out_can_be_somewhere_else():
    async with FakeDiscord(gateway_url_override="ws://127.0.0.1:9/gateway") as fake:
        _, _, body = await rest(fake, "GET", "/gateway/bot")

    assert body["url"] == "ws://127.0.0.1:9/gateway"


class ShardedEchoClient(discord.AutoShardedClient):
    def __init__(self) -> None:
        intents = discord.Intents.none()
        intents.guilds = intents.guild_messages = True
        super().__init__(intents=intents, shard_count=2)

    async def before_identify_hook(self, shard_id: int | None, *, initial: bool = False) -> None:
        pass  # discord.py waits 5 s between shards, as Discord allows; the fake doesn't mind


async def test_each_shard_gets_its_own_session_and_a_clean_close_is_recorded(discord_fake):
    client = ShardedEchoClient()
    async with client:
        runner = asyncio.create_task(client.start(discord_fake.token))
        identifies = await discord_fake.wait_for_identifies(2)
        await asyncio.wait_for(client.wait_until_ready(), 10)
        assert client.get_guild(discord_fake.guild_id) is not None
        await client.close()
        await runner
    closes = await discord_fake.wait_for_gateway_closes(2)

    assert sorted(identify["shard"] for identify in identifies) == [[0, 2], [1, 2]]
    assert closes == [GatewayClose(1000, by_bot=True)] * 2
