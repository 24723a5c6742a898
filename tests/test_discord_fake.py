"""The fake Discord speaks enough of the real protocol for a bare discord.py client: connect, read, reply."""

from __future__ import annotations

import asyncio
import io
import time

import aiohttp
import discord
import pytest

from fakes.discord_server import (
    PNG_SIGNATURE,
    Callback,
    FakeDiscord,
    GatewayClose,
    InteractionCallback,
    RefusedSend,
    Upload,
)

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
        body = await response.json() if response.status != 204 else None
        return response.status, dict(response.headers), body


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


class PressButton(discord.ui.DynamicItem[discord.ui.Button], template=r"demo:press:(?P<count>\d+)"):
    """A button that survives a restart: its custom_id carries its state, as the bot's verdict buttons do."""

    def __init__(self, count: int) -> None:
        super().__init__(discord.ui.Button(label=f"Pressed {count}", custom_id=f"demo:press:{count}"))
        self.count = count

    @classmethod
    async def from_custom_id(cls, interaction, item, match) -> PressButton:
        return cls(int(match["count"]))

    async def callback(self, interaction: discord.Interaction) -> None:
        view = discord.ui.View(timeout=None)
        view.add_item(PressButton(self.count + 1))
        await interaction.response.edit_message(content=f"pressed by {interaction.user.name}", view=view)


class ComponentClient(discord.Client):
    """Sends what a test asks and answers component interactions through discord.py's own view machinery."""

    def __init__(self) -> None:
        intents = discord.Intents.none()
        intents.guilds = intents.guild_messages = intents.dm_messages = True
        super().__init__(intents=intents)
        self.ready = asyncio.Event()
        self.created: list[discord.Message] = []

    async def setup_hook(self) -> None:
        self.add_dynamic_items(PressButton)

    async def on_ready(self) -> None:
        self.ready.set()

    async def on_message(self, message: discord.Message) -> None:
        self.created.append(message)


@pytest.fixture
async def component_client(discord_fake):
    client = ComponentClient()
    async with client:
        runner = asyncio.create_task(client.start(discord_fake.token))
        await asyncio.wait_for(client.ready.wait(), 10)
        yield client
        await client.close()
        await runner


def one_button(count: int = 0) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    view.add_item(PressButton(count))
    return view


@pytest.mark.parametrize("in_dm", [False, True], ids=["in a channel", "in a DM"])
async def test_a_click_reaches_the_clients_dynamic_item_and_update_message_edits_the_message_it_is_on(
    discord_fake, component_client, in_dm
):
    ada = discord_fake.make_user("ada")
    if in_dm:
        posted = await discord_fake.post_message("hi", dm=True, author=ada)
        while not any(message.id == int(posted["id"]) for message in component_client.created):
            await asyncio.sleep(0.01)
        channel = component_client.created[-1].channel
    else:
        channel = component_client.get_channel(discord_fake.general_channel_id)
    sent = await channel.send("press me", embed=discord.Embed(title="kept"), view=one_button())
    (on_fake,) = await discord_fake.wait_for_sent(where=lambda m: m.id == sent.id)
    assert on_fake.custom_ids == ["demo:press:0"]
    assert on_fake.buttons[0]["label"] == "Pressed 0"

    click = await discord_fake.click(on_fake, "demo:press:0", user=ada)

    assert (await discord_fake.wait_for_callback(click)).type == Callback.UPDATE_MESSAGE
    (update,) = await discord_fake.wait_for_sent(where=lambda m: m.via == "update")
    assert (update.id, update.content, update.interaction_id) == (sent.id, "pressed by ada", int(click["id"]))
    now = await discord_fake.message_now(sent)
    assert now["content"] == "pressed by ada" and now["edited_timestamp"]
    assert now["embeds"][0]["title"] == "kept", "an edit changes only what it names"
    assert update.custom_ids == ["demo:press:1"]
    second = await discord_fake.click(update, "demo:press:1", user=ada)
    await discord_fake.wait_for_callback(second)
    assert (await discord_fake.message_now(sent))["components"][0]["components"][0]["custom_id"] == "demo:press:2"


async def test_clicking_what_is_not_on_the_message_is_not_something_a_user_can_do(discord_fake, component_client):
    sent = await component_client.get_channel(discord_fake.general_channel_id).send("x", view=one_button())

    with pytest.raises(AssertionError, match="has no BUTTON 'demo:press:9'"):
        await discord_fake.click({"id": sent.id}, "demo:press:9")


async def test_a_second_answer_to_one_interaction_is_40060_and_a_late_first_one_is_unknown(discord_fake):
    discord_fake.interaction_response_seconds = 0.2
    status, _, message = await rest(
        discord_fake,
        "POST",
        f"/channels/{discord_fake.general_channel_id}/messages",
        {"content": "x", "components": [{"type": 1, "components": [{"type": 2, "style": 1, "custom_id": "a"}]}]},
    )
    assert status == 200
    first, late = [await discord_fake.click(message, "a") for _ in range(2)]
    callback = "/interactions/{id}/{token}/callback"

    answers = [await rest(discord_fake, "POST", callback.format(**first), {"type": 6}) for _ in range(2)]
    await asyncio.sleep(0.3)
    too_late = await rest(discord_fake, "POST", callback.format(**late), {"type": 6})

    assert [status for status, _, _ in answers] == [204, 400]
    assert answers[1][2] == {"message": "Interaction has already been acknowledged.", "code": 40060}
    assert (too_late[0], too_late[2]["code"]) == (404, 10062)
    assert discord_fake.interaction_callbacks == [InteractionCallback(int(first["id"]), Callback.DEFERRED_UPDATE)]


class DigitSelect(discord.ui.Select):
    def __init__(self) -> None:
        options = [discord.SelectOption(label=str(digit), value=str(digit)) for digit in range(10)]
        super().__init__(custom_id="demo:digit", options=options, placeholder="Which digit?")

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.defer()  # type 6: no new message, the select's message edited below
        await interaction.edit_original_response(content=f"chose {self.values[0]}", view=None)
        await interaction.followup.send(f"thanks for {self.values[0]}", ephemeral=True)


async def test_a_select_choice_deferred_then_edited_and_an_ephemeral_followup_only_its_user_sees(
    discord_fake, component_client
):
    view = discord.ui.View(timeout=None)
    view.add_item(DigitSelect())
    sent = await component_client.get_channel(discord_fake.general_channel_id).send("pick", view=view)
    component_client.created.clear()
    with pytest.raises(AssertionError, match="not all among the select's options"):
        await discord_fake.choose({"id": sent.id}, "demo:digit", ["x"])

    choice = await discord_fake.choose({"id": sent.id}, "demo:digit", ["3"])

    (followup,) = await discord_fake.wait_for_sent(where=lambda m: m.via == "followup")
    assert (followup.content, followup.ephemeral) == ("thanks for 3", True)
    assert (await discord_fake.wait_for_callback(choice)).type == Callback.DEFERRED_UPDATE
    now = await discord_fake.message_now(sent)
    assert (now["content"], now["components"]) == ("chose 3", [])
    path = f"/channels/{discord_fake.general_channel_id}/messages/{followup.id}"
    assert (await rest(discord_fake, "GET", path))[0] == 404, "an ephemeral message is not in the channel"
    await asyncio.sleep(0.1)
    assert [m.id for m in component_client.created] == [], "nor in its events"


class NumberModal(discord.ui.Modal, title="The right number"):
    number = discord.ui.TextInput(label="Number", custom_id="demo:number-input", max_length=20)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_message(f"got {self.number.value}", ephemeral=True)


class AskButton(discord.ui.DynamicItem[discord.ui.Button], template=r"demo:ask"):
    def __init__(self) -> None:
        super().__init__(discord.ui.Button(label="Ask", custom_id="demo:ask"))

    @classmethod
    async def from_custom_id(cls, interaction, item, match) -> AskButton:
        return cls()

    async def callback(self, interaction: discord.Interaction) -> None:
        await interaction.response.send_modal(NumberModal(custom_id="demo:number"))


async def test_a_modal_opened_from_a_button_is_filled_in_and_submitted(discord_fake, component_client):
    component_client.add_dynamic_items(AskButton)
    view = discord.ui.View(timeout=None)
    view.add_item(AskButton())
    sent = await component_client.get_channel(discord_fake.general_channel_id).send("ask", view=view)
    ada = discord_fake.make_user("ada")

    click = await discord_fake.click({"id": sent.id}, "demo:ask", user=ada)
    modal = await discord_fake.wait_for_modal(click)
    assert (modal.custom_id, modal.title, modal.text_input_ids) == (
        "demo:number",
        "The right number",
        ["demo:number-input"],
    )
    assert modal.user["id"] == ada["id"]
    submit = await discord_fake.submit_modal(modal, {"demo:number-input": "2024"})

    answer = await discord_fake.answer_to(submit)
    assert (answer.content, answer.ephemeral) == ("got 2024", True)
    assert submit["message"]["id"] == str(sent.id), "a modal opened from a component carries its message"
    callback = f"/interactions/{submit['id']}/{submit['token']}/callback"
    status, _, body = await rest(discord_fake, "POST", callback, {"type": 9, "data": {}})
    assert (status, body["code"]) == (400, 40060)


def rows_of_buttons(rows: int, per_row: int, *, same_id: bool = False) -> list[dict]:
    return [
        {
            "type": 1,
            "components": [
                {"type": 2, "style": 1, "label": "b", "custom_id": "same" if same_id else f"b{row}-{n}"}
                for n in range(per_row)
            ],
        }
        for row in range(rows)
    ]


@pytest.mark.parametrize(
    "components",
    [
        rows_of_buttons(6, 1),
        rows_of_buttons(1, 6),
        rows_of_buttons(2, 1, same_id=True),
        [{"type": 1, "components": [{"type": 2, "style": 1, "custom_id": "x" * 101}]}],
        [{"type": 1, "components": [{"type": 3, "custom_id": "s", "options": []}]}],
    ],
    ids=["six rows", "six in a row", "a custom_id twice", "custom_id too long", "a select without options"],
)
async def test_components_discord_would_refuse_are_invalid_form_body(discord_fake, components):
    path = f"/channels/{discord_fake.general_channel_id}/messages"

    status, _, body = await rest(discord_fake, "POST", path, {"content": "x", "components": components})

    assert (status, body["code"]) == (400, 50035)
    assert (await rest(discord_fake, "POST", path, {"components": rows_of_buttons(5, 5)}))[0] == 200


async def test_editing_a_message_changes_what_the_patch_names_and_only_the_bots_own(discord_fake):
    path = f"/channels/{discord_fake.general_channel_id}/messages"
    _, _, message = await rest(
        discord_fake, "POST", path, {"content": "a", "embeds": [{"title": "t"}], "components": rows_of_buttons(1, 2)}
    )
    users = await discord_fake.post_message("mine")

    status, _, edited = await rest(discord_fake, "PATCH", f"{path}/{message['id']}", {"embeds": [{"title": "u"}]})
    not_ours = await rest(discord_fake, "PATCH", f"{path}/{users['id']}", {"content": "changed"})

    assert status == 200
    assert (edited["content"], edited["embeds"], edited["components"]) == ("a", [{"title": "u"}], message["components"])
    assert discord_fake.sent[-1].via == "edit"
    assert (not_ours[0], not_ours[2]["code"]) == (403, 50005)


async def test_channel_history_is_newest_first_and_as_long_as_asked(discord_fake, component_client):
    channel = component_client.get_channel(discord_fake.general_channel_id)
    for n in range(3):
        await channel.send(f"message {n}")

    history = [message.content async for message in channel.history(limit=2)]

    assert history == ["message 2", "message 1"]
