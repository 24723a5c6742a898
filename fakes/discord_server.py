"""A fake Discord on 127.0.0.1 (REST API, attachment CDN and gateway) that the real discord.py client talks to;
a LoopbackServer, so it runs in a thread of its own, as the real service runs elsewhere."""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import mimetypes
import threading
import time
from collections.abc import Callable, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum, IntFlag
from http import HTTPStatus
from itertools import pairwise
from socket import SO_SNDBUF, SOL_SOCKET
from typing import Any, Self

import discord
import yarl
from aiohttp import WSMsgType, web

from fakes.loopback import LoopbackServer, what_the_bot_did

log = logging.getLogger(__name__)

DISCORD_EPOCH_MS = 1_420_070_400_000
API_VERSION = 10
DEFAULT_TOKEN = "fake.bot-token.never-log-me"
ATTACHMENT_SIZE_LIMIT = 10 * 1024 * 1024
ALL_PERMISSIONS = str((1 << 50) - 1)
APPLICATION_FLAG_MESSAGE_CONTENT_LIMITED = 1 << 19  # the "Message Content Intent" switch of an unverified bot
MESSAGE_FLAG_EPHEMERAL = 1 << 6
MESSAGE_FLAG_LOADING = 1 << 7
INTERACTION_RESPONSE_SECONDS = 3.0  # an interaction not answered within this is gone (followups last 15 min)
# Discord's limits on message components (buttons and selects in action rows) and modals.
MAX_ACTION_ROWS, MAX_ROW_WIDTH, MAX_CUSTOM_ID, MAX_BUTTON_LABEL, MAX_SELECT_OPTIONS = 5, 5, 100, 80, 25
MAX_MODAL_TITLE, MAX_MODAL_COMPONENTS = 45, 5
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
CDN_CHUNK_BYTES = 64 * 1024
ZEROS = bytes(CDN_CHUNK_BYTES)  # one chunk reused, so a 200 MB stream costs the fake 64 KiB
# Why Discord closes a gateway, as it says in the close frame.
GATEWAY_CLOSE_REASONS = {
    4000: "Unknown error.",
    4004: "Authentication failed.",
    4010: "Invalid shard.",
    4011: "Sharding required.",
    4013: "Invalid intent(s).",
    4014: "Disallowed intent(s).",
}


class Op(IntEnum):
    DISPATCH = 0
    HEARTBEAT = 1
    IDENTIFY = 2
    PRESENCE_UPDATE = 3
    RESUME = 6
    REQUEST_GUILD_MEMBERS = 8
    HELLO = 10
    HEARTBEAT_ACK = 11


class Intent(IntFlag):
    GUILDS = 1 << 0
    GUILD_MESSAGES = 1 << 9
    DM_MESSAGES = 1 << 12
    MESSAGE_CONTENT = 1 << 15


class CommandType(IntEnum):
    CHAT_INPUT = 1
    MESSAGE = 3


class OptionType(IntEnum):
    STRING = 3
    INTEGER = 4
    BOOLEAN = 5
    ATTACHMENT = 11


class InteractionType(IntEnum):
    APPLICATION_COMMAND = 2
    MESSAGE_COMPONENT = 3
    MODAL_SUBMIT = 5


class ComponentType(IntEnum):
    ACTION_ROW = 1
    BUTTON = 2
    STRING_SELECT = 3
    TEXT_INPUT = 4
    LABEL = 18


class ButtonStyle(IntEnum):
    LINK = 5


class Callback(IntEnum):
    MESSAGE = 4
    DEFERRED_MESSAGE = 5
    DEFERRED_UPDATE = 6  # components only: acknowledged, the message the component is on edited later (or never)
    UPDATE_MESSAGE = 7  # components only: edits the message the component is on
    MODAL = 9


class MessageType(IntEnum):
    DEFAULT = 0
    REPLY = 19


class ChannelType(IntEnum):
    TEXT = 0
    DM = 1


@dataclass(frozen=True)
class Upload:
    """A file a fake user attaches, and how the CDN serves it.

    `declared_size` lets a test claim a size the bytes don't have; `cdn_status` other than 200 serves that error
    instead of the file; `served_size` makes the CDN stream that many bytes (the PNG signature, then zeros) in
    place of `data`, with a Content-Length header unless `chunked`.
    """

    filename: str
    data: bytes
    content_type: str | None = None
    download_delay_seconds: float = 0.0
    declared_size: int | None = None
    cdn_status: int = 200
    served_size: int | None = None
    chunked: bool = False

    @classmethod
    def picture(cls, stem: str, data: bytes) -> Upload:
        """A PNG or JPEG named by what its bytes are, as a phone or browser would name it."""
        return cls(f"{stem}.{'png' if data.startswith(PNG_SIGNATURE) else 'jpg'}", data)

    @property
    def media_type(self) -> str | None:
        return self.content_type or mimetypes.guess_type(self.filename)[0]


@dataclass(frozen=True)
class SentFile:
    filename: str
    content_type: str | None
    data: bytes


@dataclass(frozen=True)
class SentMessage:
    """A message the bot created or edited: in a channel, as an interaction response or as a follow-up."""

    id: int
    channel_id: int
    content: str
    embeds: list[dict[str, Any]]
    files: list[SentFile]
    message_reference: dict[str, Any] | None
    via: str  # "channel", "interaction", "followup", "edit" (a PATCH) or "update" (an interaction's type 7)
    interaction_id: int | None = None
    ephemeral: bool = False
    components: list[dict[str, Any]] = field(default_factory=list)  # the message's action rows, after this send

    @property
    def custom_ids(self) -> list[str]:
        """The custom_id of every button and select on the message, in reading order."""
        return [component["custom_id"] for component in walk_components(self.components) if "custom_id" in component]

    @property
    def buttons(self) -> list[dict[str, Any]]:
        return [c for c in walk_components(self.components) if c.get("type") == ComponentType.BUTTON]

    @property
    def reply_to(self) -> int | None:
        return int(self.message_reference["message_id"]) if self.message_reference else None

    @property
    def text(self) -> str:
        """Everything a reader sees, in reading order: content, then each embed top to bottom."""
        parts = [self.content]
        for embed in self.embeds:
            parts += [embed.get("author", {}).get("name", ""), embed.get("title", ""), embed.get("description", "")]
            for embed_field in embed.get("fields", []):
                parts += [embed_field.get("name", ""), embed_field.get("value", "")]
            parts.append(embed.get("footer", {}).get("text", ""))
        return "\n".join(part for part in parts if part)

    def file(self, filename: str) -> SentFile:
        matches = [sent for sent in self.files if sent.filename == filename]
        assert matches, f"no file {filename!r} on the bot's message; it has {[f.filename for f in self.files]}"
        return matches[0]


@dataclass(frozen=True)
class ShownModal:
    """A modal the bot opened in answer to `interaction_id`: what the user sees, to fill in and submit."""

    interaction_id: int
    custom_id: str
    title: str
    components: list[dict[str, Any]]
    user: dict[str, Any]

    @property
    def text_input_ids(self) -> list[str]:
        return [c["custom_id"] for c in walk_components(self.components) if c.get("type") == ComponentType.TEXT_INPUT]


@dataclass(frozen=True)
class InteractionCallback:
    """How the bot first answered an interaction (Callback.MESSAGE, DEFERRED_UPDATE, MODAL…)."""

    interaction_id: int
    type: int


@dataclass(frozen=True)
class Heartbeat:
    received_at: float  # time.perf_counter() on the fake's loop
    acked_at: float
    sequence: int | None


@dataclass(frozen=True)
class CommandSync:
    guild_id: int | None  # None: a global sync
    names: tuple[str, ...]


@dataclass(frozen=True)
class RateLimitHit:
    """A message create answered 429 because the channel's send limit was reached."""

    channel_id: int
    retry_after: float


@dataclass(frozen=True)
class RefusedSend:
    """A message the bot tried to create that the fake refused (a fault the test set up, or a bad request)."""

    channel_id: int
    status: int
    code: int


@dataclass(frozen=True)
class GatewayClose:
    """How a gateway session ended: `code` is the close code, `by_bot` False when the fake closed it."""

    code: int | None
    by_bot: bool


@dataclass
class _GatewaySession:
    socket: web.WebSocketResponse
    query: dict[str, str]
    send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    intents: Intent | None = None  # None until IDENTIFY
    shard: tuple[int, int] | None = None  # (shard id, shard count) from IDENTIFY, None when not sharded
    sequence: int = 0
    fake_close_code: int | None = None  # set when the fake closed the session, with the code it sent


@dataclass
class _SendWindow:
    """One channel's count of message creates in the current rate-limit window."""

    resets_at: float  # time.time(), as Discord's X-RateLimit-Reset
    count: int = 0


class _Snowflakes:
    """Ids carrying the current time, as discord.py reads an interaction's age from its id."""

    def __init__(self) -> None:
        self._counter = itertools.count()
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            increment = next(self._counter) & 0xFFF
        return ((int(time.time() * 1000) - DISCORD_EPOCH_MS) << 22) | increment


def walk_components(components: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every component, action rows and labels opened up, in reading order."""
    found = []
    for component in components:
        found.append(component)
        found += walk_components(component.get("components", []))
        if "component" in component:
            found += walk_components([component["component"]])
    return found


def _message_id(message: SentMessage | dict[str, Any]) -> int:
    """The id of a message given as the fake recorded it, as its payload, or as discord.py's Message."""
    return int(message["id"]) if isinstance(message, dict) else int(message.id)


def _filled_in(components: list[dict[str, Any]], values: dict[str, str]) -> list[dict[str, Any]]:
    """A modal's components as its submit carries them: the same rows and labels, each text input with its value."""
    filled = []
    for component in components:
        if component.get("type") == ComponentType.TEXT_INPUT:
            filled.append(
                {
                    "type": ComponentType.TEXT_INPUT,
                    "custom_id": component["custom_id"],
                    "value": values.get(component["custom_id"], component.get("value") or ""),
                }
            )
        elif "component" in component:
            filled.append({"type": component["type"], "component": _filled_in([component["component"]], values)[0]})
        elif "components" in component:
            filled.append({"type": component["type"], "components": _filled_in(component["components"], values)})
    return filled


def _is_ephemeral(message: dict[str, Any]) -> bool:
    return bool(int(message.get("flags") or 0) & MESSAGE_FLAG_EPHEMERAL)


def _invalid_form_body(where: str, why: str) -> web.Response:
    errors = {where: {"_errors": [{"code": "BASE_TYPE_INVALID", "message": why}]}}
    return _json({"message": "Invalid Form Body", "code": 50035, "errors": errors}, status=400)


def _components_refusal(body: dict[str, Any]) -> web.Response | None:
    """Discord's 400 for components it does not take: too many rows or buttons, a select sharing its row,
    custom_ids missing, too long or repeated, labels too long, too many options."""
    rows = body.get("components") or []
    if len(rows) > MAX_ACTION_ROWS:
        return _invalid_form_body("components", f"{len(rows)} action rows, at most {MAX_ACTION_ROWS}")
    custom_ids: list[str] = []
    for row in rows:
        children = row.get("components") or []
        if row.get("type") != ComponentType.ACTION_ROW or not 1 <= len(children) <= MAX_ROW_WIDTH:
            return _invalid_form_body("components", f"an action row holds 1 to {MAX_ROW_WIDTH} components")
        for child in children:
            if child.get("type") == ComponentType.STRING_SELECT and len(children) > 1:
                return _invalid_form_body("components", "a select menu needs an action row to itself")
            if (
                child.get("type") == ComponentType.STRING_SELECT
                and not 1 <= len(child.get("options") or []) <= MAX_SELECT_OPTIONS
            ):
                return _invalid_form_body("components", f"a select has 1 to {MAX_SELECT_OPTIONS} options")
            if len(child.get("label") or "") > MAX_BUTTON_LABEL:
                return _invalid_form_body("components", f"a button label has at most {MAX_BUTTON_LABEL} characters")
            if child.get("style") == ButtonStyle.LINK:
                continue
            custom_id = child.get("custom_id")
            if not custom_id or len(custom_id) > MAX_CUSTOM_ID:
                return _invalid_form_body("components", f"custom_id must be 1 to {MAX_CUSTOM_ID} characters")
            custom_ids.append(custom_id)
    if len(custom_ids) != len(set(custom_ids)):
        return _invalid_form_body("components", "custom_ids must be unique within a message")
    return None


def _modal_refusal(data: dict[str, Any]) -> web.Response | None:
    if not data.get("custom_id") or len(data["custom_id"]) > MAX_CUSTOM_ID:
        return _invalid_form_body("data.custom_id", f"custom_id must be 1 to {MAX_CUSTOM_ID} characters")
    if not 1 <= len(data.get("title") or "") <= MAX_MODAL_TITLE:
        return _invalid_form_body("data.title", f"a modal's title has 1 to {MAX_MODAL_TITLE} characters")
    if not 1 <= len(data.get("components") or []) <= MAX_MODAL_COMPONENTS:
        return _invalid_form_body("data.components", f"a modal has 1 to {MAX_MODAL_COMPONENTS} components")
    return None


def _timestamp() -> str:
    return datetime.now(UTC).isoformat()


def _json(payload: Any, status: int = 200) -> web.Response:
    # discord.py parses a body as JSON only when the content type is exactly "application/json"
    return web.Response(status=status, body=json.dumps(payload).encode(), content_type="application/json")


def _error(status: int, code: int, message: str) -> web.Response:
    return _json({"message": message, "code": code}, status=status)


def _status_error(status: int) -> web.Response:
    """Discord's body for an error with no code of its own, such as a 500."""
    return _error(status, 0, f"{status}: {HTTPStatus(status).phrase}")


class FakeDiscord(LoopbackServer):
    """One guild with two text channels (#general, #digits), a bot user, and an application owned by `owner`.

    `async with FakeDiscord() as discord_fake:` serves it and points discord.py at it. The test side posts
    messages and interactions as users, and reads what the bot did from `sent`, `heartbeats`, `command_syncs`….

    Faults, as Discord shows them: `login_status` answers GET /users/@me with that status; `gateway_close_code`
    closes each gateway session with that code right after IDENTIFY; `command_sync_status` answers a guild's
    command sync with it (403 is Discord's "Missing Access"); `send_status` answers every message create (channel
    message or follow-up) with it; creating a message in one of `forbidden_channels` is "Missing Permissions";
    `channel_send_limit` (messages, seconds) answers 429 past that many creates per channel per window;
    `gateway_url_override` is the gateway GET /gateway/bot hands out. All but the first three may change while
    the fake runs. An interaction not answered within `interaction_response_seconds` is "Unknown interaction".
    """

    name = "fake Discord"

    def __init__(
        self,
        *,
        token: str = DEFAULT_TOKEN,
        heartbeat_interval_ms: int = 41_250,
        message_content_enabled: bool = True,
        login_status: int = 200,
        gateway_close_code: int | None = None,
        command_sync_status: int = 200,
        send_status: int = 200,
        forbidden_channels: set[int] | None = None,
        channel_send_limit: tuple[int, float] | None = None,
        gateway_url_override: str | None = None,
        interaction_response_seconds: float = INTERACTION_RESPONSE_SECONDS,
    ) -> None:
        super().__init__()
        self.token = token
        self.heartbeat_interval_ms = heartbeat_interval_ms
        self.login_status = login_status
        self.gateway_close_code = gateway_close_code
        self.command_sync_status = command_sync_status
        self.send_status = send_status
        self.forbidden_channels: set[int] = set(forbidden_channels or ())
        self.channel_send_limit = channel_send_limit
        self.gateway_url_override = gateway_url_override
        self.interaction_response_seconds = interaction_response_seconds
        # The application's "Message Content Intent" switch in the Developer Portal.
        self.application_flags = APPLICATION_FLAG_MESSAGE_CONTENT_LIMITED if message_content_enabled else 0
        self._snowflake = _Snowflakes()
        self.application_id = self._snowflake()
        self.bot_user = self._user_payload(self.application_id, "digit-bot", bot=True)  # a bot's user id is its app id
        self.owner = self.make_user("owner")
        self.guild_id = self._snowflake()
        self.general_channel_id = self._snowflake()
        self.digits_channel_id = self._snowflake()

        self.sent: list[SentMessage] = []
        self.interaction_callbacks: list[InteractionCallback] = []
        self.modals: list[ShownModal] = []
        self.heartbeats: list[Heartbeat] = []
        self.command_syncs: list[CommandSync] = []
        self.typing_channels: list[int] = []
        self.downloads: list[str] = []  # the path of every attachment the CDN was asked for
        self.bytes_served: dict[str, int] = {}  # attachment path → bytes written to the client so far
        self.rate_limited: list[RateLimitHit] = []
        self.refused_sends: list[RefusedSend] = []
        self.gateway_closes: list[GatewayClose] = []
        self.unknown_requests: list[str] = []
        self.identifies: list[dict[str, Any]] = []  # every IDENTIFY, token left out: one per shard
        self.ready_sent_at: float | None = None

        self._commands: dict[int | None, list[dict[str, Any]]] = {}
        self._files: dict[str, Upload | SentFile] = {}
        self._messages: dict[int, dict[str, Any]] = {}
        self._dm_channels: dict[int, dict[str, Any]] = {}
        self._interactions: dict[str, dict[str, Any]] = {}
        self._sessions: list[_GatewaySession] = []
        self._send_windows: dict[int, _SendWindow] = {}
        self._endpoints_before: tuple[str, yarl.URL] | None = None

    # ---- lifecycle -------------------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        """Starts serving and points discord.py here until exit (it keeps its endpoints in class attributes)."""
        await super().__aenter__()
        self._endpoints_before = (discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY)
        discord.http.Route.BASE = self.api_base
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(self.gateway_url)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        discord.http.Route.BASE, discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = self._endpoints_before
        await super().__aexit__(*exc_info)

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        api = f"/api/v{API_VERSION}"
        routes = [
            ("GET", f"{api}/users/@me", self._get_current_user),
            ("GET", f"{api}/oauth2/applications/@me", self._get_application),
            ("GET", f"{api}/applications/@me", self._get_application),
            ("GET", f"{api}/gateway", self._get_gateway),
            ("GET", f"{api}/gateway/bot", self._get_gateway),
            ("POST", f"{api}/channels/{{channel_id}}/messages", self._create_channel_message),
            ("GET", f"{api}/channels/{{channel_id}}/messages", self._get_channel_history),
            ("GET", f"{api}/channels/{{channel_id}}/messages/{{message_id}}", self._get_message),
            ("PATCH", f"{api}/channels/{{channel_id}}/messages/{{message_id}}", self._edit_channel_message),
            ("POST", f"{api}/channels/{{channel_id}}/typing", self._trigger_typing),
            ("GET", f"{api}/applications/{{app_id}}/commands", self._get_commands),
            ("PUT", f"{api}/applications/{{app_id}}/commands", self._put_commands),
            ("GET", f"{api}/applications/{{app_id}}/guilds/{{guild_id}}/commands", self._get_commands),
            ("PUT", f"{api}/applications/{{app_id}}/guilds/{{guild_id}}/commands", self._put_commands),
            ("POST", f"{api}/interactions/{{interaction_id}}/{{token}}/callback", self._interaction_callback),
            ("POST", f"{api}/webhooks/{{app_id}}/{{token}}", self._create_followup),
            ("PATCH", f"{api}/webhooks/{{app_id}}/{{token}}/messages/{{message_id}}", self._edit_webhook_message),
            ("GET", "/attachments/{path:.+}", self._serve_attachment),
            ("GET", "/gateway", self._gateway),
            ("*", "/{path:.*}", self._unknown_route),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, path, handler)
        return app

    async def before_stop(self) -> None:
        for session in list(self._sessions):
            session.fake_close_code = 1001
            await session.socket.close(code=1001, message=b"fake Discord is shutting down")

    def what_happened(self) -> str:
        return what_the_bot_did((f"{m.via} → {m.channel_id}: {m.text!r}" for m in self.sent), self.unknown_requests)

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v{API_VERSION}"

    @property
    def gateway_url(self) -> str:
        """Where the fake's own gateway listens (GET /gateway/bot may hand out `gateway_url_override` instead)."""
        return f"ws://127.0.0.1:{self.port}/gateway"

    def bot_environment(self) -> dict[str, str]:
        """The environment variables that point `python -m bot discord` at this fake (commands synced to its guild)."""
        return {
            "DISCORD_TOKEN": self.token,
            "DISCORD_API_BASE": self.api_base,
            "DISCORD_GATEWAY_URL": self.gateway_url,
            "DEV_GUILD_ID": str(self.guild_id),
        }

    @property
    def cdn_base(self) -> str:
        return f"http://127.0.0.1:{self.port}/attachments"

    # ---- test side: act as users -----------------------------------------------------------------------------

    def make_user(self, name: str) -> dict[str, Any]:
        return self._user_payload(self._snowflake(), name)

    async def post_message(
        self,
        content: str = "",
        *,
        author: dict[str, Any] | None = None,
        channel_id: int | None = None,
        uploads: Sequence[Upload] = (),
        reply_to: dict[str, Any] | None = None,
        dm: bool = False,
    ) -> dict[str, Any]:
        """A user's message, dispatched as MESSAGE_CREATE; returns its payload (to reply to, or to find answers)."""
        author = author or self.owner
        return await self._on_server_loop(self._post_message(content, author, channel_id, uploads, reply_to, dm))

    async def slash_command(
        self,
        name: str,
        *,
        user: dict[str, Any] | None = None,
        channel_id: int | None = None,
        options: dict[str, str | int | bool | Upload] | None = None,
    ) -> dict[str, Any]:
        """`/name option:value …` as INTERACTION_CREATE; an Upload value becomes an attachment option."""
        return await self._on_server_loop(self._slash_command(name, user or self.owner, channel_id, options or {}))

    async def message_command(
        self, name: str, target: dict[str, Any], *, user: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The message context-menu command `name` used on the message `target`, as INTERACTION_CREATE."""
        return await self._on_server_loop(self._message_command(name, target, user or self.owner))

    async def click(
        self, message: SentMessage | dict[str, Any], custom_id: str, *, user: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """A user presses the button `custom_id` on the bot's `message`, as INTERACTION_CREATE (type 3)."""
        return await self._on_server_loop(
            self._use_component(_message_id(message), custom_id, ComponentType.BUTTON, None, user or self.owner)
        )

    async def choose(
        self,
        message: SentMessage | dict[str, Any],
        custom_id: str,
        values: Sequence[str],
        *,
        user: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """A user picks `values` in the string select `custom_id` on the bot's `message` (type 3)."""
        return await self._on_server_loop(
            self._use_component(
                _message_id(message), custom_id, ComponentType.STRING_SELECT, list(values), user or self.owner
            )
        )

    async def submit_modal(self, modal: ShownModal, values: dict[str, str]) -> dict[str, Any]:
        """The user the modal was shown to fills in its text inputs (by custom_id) and submits it (type 5)."""
        return await self._on_server_loop(self._submit_modal(modal, values))

    async def message_now(self, message: SentMessage | dict[str, Any]) -> dict[str, Any]:
        """The message as Discord holds it now, after any edits: what a user sees."""
        return await self._on_server_loop(self._message_now(_message_id(message)))

    async def delete_message(self, message: dict[str, Any]) -> None:
        """The author deletes `message`: replies to it can no longer link to it (MESSAGE_DELETE is dispatched)."""
        await self._on_server_loop(self._delete_message(message))

    # ---- test side: observe the bot ------------------------------------------------------------------------

    async def wait_for_sent(
        self,
        count: int = 1,
        *,
        timeout: float = 10.0,
        where: Callable[[SentMessage], bool] = lambda _: True,
    ) -> list[SentMessage]:
        """The bot's messages matching `where`, once there are at least `count` of them."""

        def matching() -> list[SentMessage]:
            return [message for message in self.sent if where(message)]

        await self._wait_until(lambda: len(matching()) >= count, timeout, f"{count} message(s) from the bot")
        return matching()

    async def answer_to(self, request: dict[str, Any], *, timeout: float = 10.0) -> SentMessage:
        """The bot's answer to a user's message (a reply to it) or to an interaction (its response)."""
        request_id = int(request["id"])
        if "token" in request:
            answers = await self.wait_for_sent(timeout=timeout, where=lambda m: m.interaction_id == request_id)
        else:
            answers = await self.wait_for_sent(timeout=timeout, where=lambda m: m.reply_to == request_id)
        return answers[-1]

    async def wait_for_modal(self, interaction: dict[str, Any], *, timeout: float = 10.0) -> ShownModal:
        """The modal the bot opened in answer to `interaction`."""
        interaction_id = int(interaction["id"])

        def shown() -> list[ShownModal]:
            return [modal for modal in self.modals if modal.interaction_id == interaction_id]

        await self._wait_until(lambda: bool(shown()), timeout, "a modal")
        return shown()[0]

    async def wait_for_callback(self, interaction: dict[str, Any], *, timeout: float = 10.0) -> InteractionCallback:
        """How the bot acknowledged `interaction`, once it did."""
        interaction_id = int(interaction["id"])

        def callbacks() -> list[InteractionCallback]:
            return [callback for callback in self.interaction_callbacks if callback.interaction_id == interaction_id]

        await self._wait_until(lambda: bool(callbacks()), timeout, "the interaction's callback")
        return callbacks()[0]

    async def wait_until_ready_sent(self, timeout: float = 10.0) -> None:
        await self._wait_until(lambda: self.ready_sent_at is not None, timeout, "the bot to IDENTIFY")

    async def wait_for_downloads(self, count: int, timeout: float = 10.0) -> None:
        """Until the CDN was asked for `count` attachments (a delayed one counts from when it was asked)."""
        await self._wait_until(lambda: len(self.downloads) >= count, timeout, f"{count} CDN download(s)")

    async def wait_for_refused_sends(self, count: int = 1, timeout: float = 10.0) -> list[RefusedSend]:
        await self._wait_until(lambda: len(self.refused_sends) >= count, timeout, f"{count} refused send(s)")
        return self.refused_sends

    async def wait_for_gateway_closes(self, count: int = 1, timeout: float = 10.0) -> list[GatewayClose]:
        await self._wait_until(lambda: len(self.gateway_closes) >= count, timeout, f"{count} gateway close(s)")
        return self.gateway_closes

    async def wait_for_identifies(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        await self._wait_until(lambda: len(self.identifies) >= count, timeout, f"{count} IDENTIFY(s)")
        return self.identifies

    @property
    def identify(self) -> dict[str, Any] | None:
        """The latest IDENTIFY, token left out."""
        return self.identifies[-1] if self.identifies else None

    def bytes_served_of(self, filename: str) -> int:
        """Bytes the CDN wrote for attachments named `filename`: where a capped download made it stop."""
        return sum(sent for path, sent in self.bytes_served.items() if path.rsplit("/", 1)[-1] == filename)

    async def wait_for_heartbeats(self, count: int, timeout: float = 10.0) -> None:
        await self._wait_until(lambda: len(self.heartbeats) >= count, timeout, f"{count} heartbeats")

    def heartbeat_lags_ms(self, since: float = 0.0) -> list[float]:
        """How late each heartbeat arrived past the interval the bot was told: the bot loop's stalls, in ms.

        discord.py's heartbeat thread waits the interval after each send completes, and the send runs on the
        bot's event loop, so a gap longer than the interval is time the loop spent unable to run it.
        """
        arrivals = [beat.received_at for beat in self.heartbeats if beat.received_at >= since]
        interval = self.heartbeat_interval_ms / 1000
        return [max(0.0, (later - earlier - interval) * 1000) for earlier, later in pairwise(arrivals)]

    # ---- payloads --------------------------------------------------------------------------------------------

    def _user_payload(self, user_id: int, name: str, *, bot: bool = False) -> dict[str, Any]:
        return {
            "id": str(user_id),
            "username": name,
            "global_name": name,
            "discriminator": "0",
            "avatar": None,
            "bot": bot,
            "public_flags": 0,
            "flags": 0,
        }

    def _member_payload(self, user: dict[str, Any] | None = None) -> dict[str, Any]:
        member = {"roles": [], "joined_at": _timestamp(), "deaf": False, "mute": False, "flags": 0, "nick": None}
        if user is not None:
            member["user"] = user
        return member

    def _channel_payload(self, channel_id: int, name: str, position: int) -> dict[str, Any]:
        return {
            "id": str(channel_id),
            "type": ChannelType.TEXT,
            "guild_id": str(self.guild_id),
            "name": name,
            "position": position,
            "permission_overwrites": [],
            "topic": None,
            "nsfw": False,
            "last_message_id": None,
            "rate_limit_per_user": 0,
            "parent_id": None,
        }

    def _guild_payload(self) -> dict[str, Any]:
        return {
            "id": str(self.guild_id),
            "name": "Digit readers",
            "icon": None,
            "owner_id": self.owner["id"],
            "afk_channel_id": None,
            "afk_timeout": 300,
            "verification_level": 0,
            "default_message_notifications": 0,
            "explicit_content_filter": 0,
            "mfa_level": 0,
            "system_channel_id": str(self.general_channel_id),
            "system_channel_flags": 0,
            "premium_tier": 0,
            "preferred_locale": "en-US",
            "nsfw_level": 0,
            "features": [],
            "emojis": [],
            "stickers": [],
            "roles": [
                {
                    "id": str(self.guild_id),  # @everyone shares the guild's id
                    "name": "@everyone",
                    "color": 0,
                    "hoist": False,
                    "position": 0,
                    "permissions": ALL_PERMISSIONS,
                    "managed": False,
                    "mentionable": False,
                    "flags": 0,
                }
            ],
            "channels": [
                self._channel_payload(self.general_channel_id, "general", 0),
                self._channel_payload(self.digits_channel_id, "digits", 1),
            ],
            "members": [self._member_payload(self.bot_user)],
            "member_count": 2,
            "large": False,
            "unavailable": False,
            "joined_at": _timestamp(),
            "threads": [],
            "voice_states": [],
            "presences": [],
            "stage_instances": [],
            "guild_scheduled_events": [],
            "soundboard_sounds": [],
        }

    def _attachment_payload(self, channel_id: int, file: Upload | SentFile) -> dict[str, Any]:
        attachment_id = self._snowflake()
        path = f"{channel_id}/{attachment_id}/{file.filename}"
        self._files[path] = file
        size = len(file.data)
        if isinstance(file, Upload):
            size = file.declared_size if file.declared_size is not None else size
            content_type = file.media_type
        else:
            content_type = file.content_type
        payload = {
            "id": str(attachment_id),
            "filename": file.filename,
            "size": size,
            "url": f"{self.cdn_base}/{path}",
            "proxy_url": f"{self.cdn_base}/{path}?proxy=1",
        }
        if content_type:
            payload["content_type"] = content_type
        return payload

    def _message_payload(
        self,
        channel_id: int,
        author: dict[str, Any],
        content: str,
        *,
        attachments: list[dict[str, Any]] | None = None,
        embeds: list[dict[str, Any]] | None = None,
        reference: dict[str, Any] | None = None,
        flags: int = 0,
        components: list[dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        message_id = self._snowflake()
        in_guild = channel_id not in self._dm_channels
        payload: dict[str, Any] = {
            "id": str(message_id),
            "channel_id": str(channel_id),
            "author": author,
            "content": content,
            "timestamp": _timestamp(),
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "attachments": attachments or [],
            "embeds": embeds or [],
            "pinned": False,
            "type": MessageType.REPLY if reference else MessageType.DEFAULT,
            "flags": flags,
            "components": components or [],
        }
        if in_guild:
            payload["guild_id"] = str(self.guild_id)
            payload["member"] = self._member_payload()
        if reference:
            referenced = self._messages.get(int(reference["message_id"]))
            payload["message_reference"] = {"type": 0, "channel_id": str(channel_id), **reference}
            if in_guild:
                payload["message_reference"]["guild_id"] = str(self.guild_id)
            payload["referenced_message"] = referenced
        self._messages[message_id] = payload
        return payload

    # ---- user actions, on the fake's loop ----------------------------------------------------------------------

    async def _post_message(
        self,
        content: str,
        author: dict[str, Any],
        channel_id: int | None,
        uploads: Sequence[Upload],
        reply_to: dict[str, Any] | None,
        dm: bool,
    ) -> dict[str, Any]:
        if dm:
            channel_id = self._dm_channel_for(author)
        channel_id = channel_id or self.general_channel_id
        attachments = [self._attachment_payload(channel_id, upload) for upload in uploads]
        reference = {"message_id": reply_to["id"]} if reply_to else None
        message = self._message_payload(channel_id, author, content, attachments=attachments, reference=reference)
        await self._dispatch("MESSAGE_CREATE", message)
        return message

    async def _delete_message(self, message: dict[str, Any]) -> None:
        self._messages.pop(int(message["id"]), None)
        deleted = {"id": message["id"], "channel_id": message["channel_id"]}
        if "guild_id" in message:
            deleted["guild_id"] = message["guild_id"]
        await self._dispatch("MESSAGE_DELETE", deleted)

    def _dm_channel_for(self, user: dict[str, Any]) -> int:
        for channel_id, recipient in self._dm_channels.items():
            if recipient["id"] == user["id"]:
                return channel_id
        channel_id = self._snowflake()
        self._dm_channels[channel_id] = user
        return channel_id

    async def _slash_command(
        self, name: str, user: dict[str, Any], channel_id: int | None, options: dict[str, str | int | bool | Upload]
    ) -> dict[str, Any]:
        channel_id = channel_id or self.general_channel_id
        data: dict[str, Any] = {
            "id": self._command_id(name, CommandType.CHAT_INPUT),
            "name": name,
            "type": CommandType.CHAT_INPUT,
            "guild_id": str(self.guild_id),
            "options": [],
        }
        for option_name, value in options.items():
            if isinstance(value, Upload):
                attachment = self._attachment_payload(channel_id, value)
                data.setdefault("resolved", {}).setdefault("attachments", {})[attachment["id"]] = attachment
                data["options"].append({"name": option_name, "type": OptionType.ATTACHMENT, "value": attachment["id"]})
            else:
                option_type = {bool: OptionType.BOOLEAN, int: OptionType.INTEGER, str: OptionType.STRING}[type(value)]
                data["options"].append({"name": option_name, "type": option_type, "value": value})
        return await self._interact(InteractionType.APPLICATION_COMMAND, data, user, channel_id)

    async def _message_command(self, name: str, target: dict[str, Any], user: dict[str, Any]) -> dict[str, Any]:
        data = {
            "id": self._command_id(name, CommandType.MESSAGE),
            "name": name,
            "type": CommandType.MESSAGE,
            "guild_id": str(self.guild_id),
            "target_id": target["id"],
            "resolved": {"messages": {target["id"]: target}},
        }
        return await self._interact(InteractionType.APPLICATION_COMMAND, data, user, int(target["channel_id"]))

    async def _use_component(
        self,
        message_id: int,
        custom_id: str,
        component_type: ComponentType,
        values: list[str] | None,
        user: dict[str, Any],
    ) -> dict[str, Any]:
        # Discord only delivers what a user can use: a component that is on the message now and enabled.
        message = self._messages.get(message_id)
        assert message is not None, f"no message {message_id} to use a component on"
        components = walk_components(message["components"])
        found = [c for c in components if c.get("custom_id") == custom_id and c.get("type") == component_type]
        on_message = [(c.get("type"), c.get("custom_id")) for c in components if "custom_id" in c]
        assert found, f"message {message_id} has no {component_type.name} {custom_id!r}; it has {on_message}"
        assert not found[0].get("disabled"), f"{custom_id!r} is disabled: no user can use it"
        data: dict[str, Any] = {"custom_id": custom_id, "component_type": component_type}
        if values is not None:
            options = [option["value"] for option in found[0].get("options", [])]
            assert set(values) <= set(options), f"{values} are not all among the select's options {options}"
            low, high = found[0].get("min_values", 1), found[0].get("max_values", 1)
            assert low <= len(values) <= high, f"the select takes {low} to {high} values, not {len(values)}"
            data["values"] = values
        channel_id = int(message["channel_id"])
        return await self._interact(InteractionType.MESSAGE_COMPONENT, data, user, channel_id, message=message)

    async def _submit_modal(self, modal: ShownModal, values: dict[str, str]) -> dict[str, Any]:
        unknown = set(values) - set(modal.text_input_ids)
        assert not unknown, f"the modal has no text inputs {unknown}; it has {modal.text_input_ids}"
        source = next(entry for entry in self._interactions.values() if entry["id"] == modal.interaction_id)
        data = {"custom_id": modal.custom_id, "components": _filled_in(modal.components, values)}
        channel_id = int(source["payload"]["channel_id"])
        message = source["payload"].get("message")  # a modal opened from a component carries its message on
        current = self._messages.get(int(message["id"])) if message else None
        return await self._interact(InteractionType.MODAL_SUBMIT, data, modal.user, channel_id, message=current)

    async def _message_now(self, message_id: int) -> dict[str, Any]:
        message = self._messages.get(message_id)
        assert message is not None, f"no message {message_id}"
        return deepcopy(message)

    def _command_id(self, name: str, command_type: CommandType) -> str:
        # Discord only delivers commands that were synced, so an unsynced one is a bug in the bot.
        for guild_id in (self.guild_id, None):
            for command in self._commands.get(guild_id, []):
                if command["name"] == name and command.get("type", CommandType.CHAT_INPUT) == command_type:
                    return command["id"]
        synced = {guild: [c["name"] for c in commands] for guild, commands in self._commands.items()}
        raise AssertionError(f"the bot never synced a {command_type.name} command {name!r}; synced: {synced}")

    async def _interact(
        self,
        interaction_type: InteractionType,
        data: dict[str, Any],
        user: dict[str, Any],
        channel_id: int,
        *,
        message: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        interaction_id = self._snowflake()
        token = f"interaction-token-{interaction_id}"
        interaction: dict[str, Any] = {
            "id": str(interaction_id),
            "application_id": str(self.application_id),
            "type": interaction_type,
            "data": data,
            "channel_id": str(channel_id),
            "token": token,
            "version": 1,
            "app_permissions": ALL_PERMISSIONS,
            "locale": "en-US",
            "entitlements": [],
            "attachment_size_limit": ATTACHMENT_SIZE_LIMIT,
        }
        recipient = self._dm_channels.get(channel_id)
        if recipient is None:
            interaction |= {
                "guild_id": str(self.guild_id),
                "guild": {"id": str(self.guild_id), "locale": "en-US", "features": []},
                "channel": self._channel_payload(channel_id, "general", 0),
                "member": {**self._member_payload(user), "permissions": ALL_PERMISSIONS},
                "guild_locale": "en-US",
                "authorizing_integration_owners": {"0": str(self.guild_id)},
                "context": 0,  # GUILD
            }
        else:
            interaction |= {
                "channel": {"id": str(channel_id), "type": ChannelType.DM, "recipients": [recipient]},
                "user": user,
                "authorizing_integration_owners": {"0": "0"},
                "context": 1,  # BOT_DM
            }
        if message is not None:
            interaction["message"] = deepcopy(message)
        self._interactions[token] = {
            "id": interaction_id,
            "payload": interaction,
            "created_at": self.clock(),
            "callback": None,  # the callback type, once the bot answered
            "original_id": None,  # the message @original names, once there is one
        }
        await self._dispatch("INTERACTION_CREATE", interaction)
        return interaction

    # ---- gateway ----------------------------------------------------------------------------------------------

    async def _gateway(self, request: web.Request) -> web.StreamResponse:
        socket = web.WebSocketResponse()
        await socket.prepare(request)
        session = _GatewaySession(socket, dict(request.query))
        if session.query.get("v") != str(API_VERSION) or session.query.get("encoding") != "json":
            log.error(
                "fake Discord: gateway asked for %s; only v=%s&encoding=json is served",
                request.query_string,
                API_VERSION,
            )
        self._sessions.append(session)
        try:
            await self._send(session, {"op": Op.HELLO, "d": {"heartbeat_interval": self.heartbeat_interval_ms}})
            async for frame in socket:
                if frame.type is WSMsgType.TEXT:
                    await self._on_gateway_frame(session, json.loads(frame.data))
                else:
                    log.error("fake Discord: unexpected gateway frame %s", frame.type)
        finally:
            self._sessions.remove(session)
            if session.fake_close_code is None:
                self.gateway_closes.append(GatewayClose(socket.close_code, by_bot=True))
            else:
                self.gateway_closes.append(GatewayClose(session.fake_close_code, by_bot=False))
            await self._changed_now()
        return socket

    async def _on_gateway_frame(self, session: _GatewaySession, frame: dict[str, Any]) -> None:
        op, data = frame.get("op"), frame.get("d")
        if op == Op.HEARTBEAT:
            received_at = self.clock()
            await self._send(session, {"op": Op.HEARTBEAT_ACK})
            self.heartbeats.append(Heartbeat(received_at, self.clock(), data))
            await self._changed_now()
        elif op == Op.IDENTIFY:
            await self._identify(session, data)
        elif op == Op.RESUME:
            await self._send_dispatch(session, "RESUMED", {})
        elif op in (Op.PRESENCE_UPDATE, Op.REQUEST_GUILD_MEMBERS):
            pass
        else:
            log.error("fake Discord: unknown gateway op %s: %s", op, frame)
            self.unknown_requests.append(f"gateway op {op}")

    async def _identify(self, session: _GatewaySession, data: dict[str, Any]) -> None:
        if data.get("token") != self.token:
            await self._close_gateway(session, 4004)
            return
        self.identifies.append({key: value for key, value in data.items() if key != "token"})
        await self._changed_now()
        if self.gateway_close_code is not None:
            await self._close_gateway(session, self.gateway_close_code)
            return
        session.intents = Intent(data.get("intents", 0) & sum(Intent))
        if Intent.MESSAGE_CONTENT in session.intents and not self.application_flags:
            await self._close_gateway(session, 4014)
            return
        if data.get("shard"):
            shard_id, shard_count = data["shard"]
            session.shard = (int(shard_id), int(shard_count))
        ready = {
            "v": API_VERSION,
            "user": {**self.bot_user, "verified": True, "mfa_enabled": False},
            "session_id": f"session-{self._snowflake()}",
            "resume_gateway_url": self.gateway_url,
            "application": {"id": str(self.application_id), "flags": self.application_flags},
            "private_channels": [],
            "relationships": [],
            "presences": [],
            **({"shard": list(session.shard)} if session.shard else {}),
        }
        if self._shard_serves(session, self.guild_id):
            ready["guilds"] = [{"id": str(self.guild_id), "unavailable": True}]
        else:
            ready["guilds"] = []
        await self._send_dispatch(session, "READY", ready)
        self.ready_sent_at = self.clock()
        if Intent.GUILDS in session.intents and ready["guilds"]:
            await self._send_dispatch(session, "GUILD_CREATE", self._guild_payload())
        await self._changed_now()

    async def _close_gateway(self, session: _GatewaySession, code: int) -> None:
        session.fake_close_code = code
        await session.socket.close(code=code, message=GATEWAY_CLOSE_REASONS.get(code, "").encode())

    @staticmethod
    def _shard_serves(session: _GatewaySession, guild_id: int | None) -> bool:
        """Discord's rule: a guild's events go to shard (guild_id >> 22) % shard_count, DMs to shard 0."""
        if session.shard is None:
            return True
        shard_id, shard_count = session.shard
        return shard_id == ((guild_id >> 22) % shard_count if guild_id is not None else 0)

    async def _dispatch(self, event: str, data: dict[str, Any]) -> None:
        guild_id = int(data["guild_id"]) if "guild_id" in data else None
        for session in list(self._sessions):
            if session.intents is None or not self._shard_serves(session, guild_id):
                continue
            delivered = self._as_intents_allow(session.intents, event, data)
            if delivered is not None:
                await self._send_dispatch(session, event, delivered)

    def _as_intents_allow(self, intents: Intent, event: str, data: dict[str, Any]) -> dict[str, Any] | None:
        """The event as Discord delivers it under `intents`: withheld, stripped of content, or whole."""
        if event == "MESSAGE_DELETE":
            return data if Intent.GUILD_MESSAGES in intents or Intent.DM_MESSAGES in intents else None
        if event != "MESSAGE_CREATE":
            return data
        in_dm = int(data["channel_id"]) in self._dm_channels
        needed = Intent.DM_MESSAGES if in_dm else Intent.GUILD_MESSAGES
        if needed not in intents:
            return None
        mentions_bot = any(user["id"] == self.bot_user["id"] for user in data.get("mentions", []))
        if Intent.MESSAGE_CONTENT in intents or in_dm or mentions_bot or data["author"]["id"] == self.bot_user["id"]:
            return data
        return {**data, "content": "", "embeds": [], "attachments": [], "components": []}

    async def _send_dispatch(self, session: _GatewaySession, event: str, data: dict[str, Any]) -> None:
        session.sequence += 1
        await self._send(session, {"op": Op.DISPATCH, "t": event, "s": session.sequence, "d": data})

    async def _send(self, session: _GatewaySession, frame: dict[str, Any]) -> None:
        async with session.send_lock:
            if not session.socket.closed:
                await session.socket.send_str(json.dumps(frame))  # text frames: discord.py then skips decompression

    # ---- REST -------------------------------------------------------------------------------------------------

    def _authorized(self, request: web.Request) -> bool:
        return request.headers.get("Authorization") == f"Bot {self.token}"

    async def _get_current_user(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 0, "401: Unauthorized")
        if self.login_status != 200:
            return _status_error(self.login_status)
        return _json({**self.bot_user, "verified": True, "mfa_enabled": False})

    async def _get_application(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 0, "401: Unauthorized")
        return _json(
            {
                "id": str(self.application_id),
                "name": "digit-bot",
                "description": "Reads handwritten digits.",
                "icon": None,
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": self.owner,
                "team": None,
                "verify_key": "0" * 64,
                "flags": self.application_flags,
                "bot": self.bot_user,
                "interactions_endpoint_url": None,
            }
        )

    async def _get_gateway(self, request: web.Request) -> web.Response:
        limit = {"total": 1000, "remaining": 999, "reset_after": 0, "max_concurrency": 1}
        gateway_url = self.gateway_url_override or self.gateway_url
        return _json({"url": gateway_url, "shards": 1, "session_start_limit": limit})

    async def _create_channel_message(self, request: web.Request) -> web.StreamResponse:
        if not self._authorized(request):
            return _error(401, 0, "401: Unauthorized")
        channel_id = int(request.match_info["channel_id"])
        if channel_id not in (self.general_channel_id, self.digits_channel_id, *self._dm_channels):
            return _error(404, 10003, "Unknown Channel")
        body, files = await self._read_message_body(request)
        refusal = _components_refusal(body)
        if refusal is not None:
            return refusal
        rate_limit_headers, retry_after = self._count_send(channel_id)
        if retry_after is not None:
            self.rate_limited.append(RateLimitHit(channel_id, retry_after))
            await self._changed_now()
            return self._too_many_requests(retry_after, rate_limit_headers)
        refusal = self._send_fault(channel_id)
        if refusal is None:
            body, refusal = self._without_missing_reference(body)
        if refusal is not None:
            return await self._refuse_send(channel_id, refusal)
        message = await self._record_bot_message(channel_id, body, files, via="channel")
        response = _json(message)
        response.headers.update(rate_limit_headers)
        return response

    def _send_fault(self, channel_id: int) -> web.Response | None:
        if self.send_status != 200:
            return _status_error(self.send_status)
        if channel_id in self.forbidden_channels:
            return _error(403, 50013, "Missing Permissions")
        return None

    def _without_missing_reference(self, body: dict[str, Any]) -> tuple[dict[str, Any], web.Response | None]:
        """A reply to a message that is gone: sent as a plain message if the reply said so, else refused."""
        reference = body.get("message_reference")
        if not reference or int(reference["message_id"]) in self._messages:
            return body, None
        if reference.get("fail_if_not_exists") is False:
            return {key: value for key, value in body.items() if key != "message_reference"}, None
        unknown = {"_errors": [{"code": "REPLIES_UNKNOWN_MESSAGE", "message": "Unknown message"}]}
        payload = {"message": "Invalid Form Body", "code": 50035, "errors": {"message_reference": unknown}}
        return body, _json(payload, status=400)

    async def _refuse_send(self, channel_id: int, refusal: web.Response) -> web.Response:
        assert isinstance(refusal.body, bytes)
        self.refused_sends.append(RefusedSend(channel_id, refusal.status, json.loads(refusal.body)["code"]))
        await self._changed_now()
        return refusal

    def _count_send(self, channel_id: int) -> tuple[dict[str, str], float | None]:
        """This create's rate-limit headers, and how long to wait when it is over the channel's limit."""
        if self.channel_send_limit is None:
            return {}, None
        limit, per_seconds = self.channel_send_limit
        now = time.time()
        window = self._send_windows.get(channel_id)
        if window is None or now >= window.resets_at:
            window = self._send_windows[channel_id] = _SendWindow(resets_at=now + per_seconds)
        over = window.count >= limit
        if not over:
            window.count += 1
        reset_after = max(window.resets_at - now, 0.001)
        headers = {
            "X-RateLimit-Limit": str(limit),
            "X-RateLimit-Remaining": str(limit - window.count),
            "X-RateLimit-Reset": f"{window.resets_at:.3f}",
            "X-RateLimit-Reset-After": f"{reset_after:.3f}",
            "X-RateLimit-Bucket": "channel-messages",  # one name for the route, as Discord: the channel keys it
        }
        return headers, reset_after if over else None

    @staticmethod
    def _too_many_requests(retry_after: float, headers: dict[str, str]) -> web.Response:
        response = _json({"message": "You are being rate limited.", "retry_after": retry_after, "global": False}, 429)
        response.headers.update(headers)
        response.headers["Retry-After"] = str(max(1, round(retry_after)))
        response.headers["X-RateLimit-Scope"] = "user"
        response.headers["Via"] = "1.1 google"  # discord.py takes a 429 without it for a Cloudflare ban
        return response

    async def _get_message(self, request: web.Request) -> web.Response:
        message = self._messages.get(int(request.match_info["message_id"]))
        if message is None or message["channel_id"] != request.match_info["channel_id"] or _is_ephemeral(message):
            return _error(404, 10008, "Unknown Message")
        return _json(message)

    async def _get_channel_history(self, request: web.Request) -> web.Response:
        """The channel's messages, newest first: `limit` (1-100) of them, before or after a message id."""
        if not self._authorized(request):
            return _error(401, 0, "401: Unauthorized")
        channel_id = request.match_info["channel_id"]
        if int(channel_id) not in (self.general_channel_id, self.digits_channel_id, *self._dm_channels):
            return _error(404, 10003, "Unknown Channel")
        limit = int(request.query.get("limit", 50))
        if not 1 <= limit <= 100:
            return _invalid_form_body("limit", "must be 1 to 100")
        before, after = int(request.query.get("before", 1 << 63)), int(request.query.get("after", 0))
        found = sorted(
            (
                message_id
                for message_id, message in self._messages.items()
                if message["channel_id"] == channel_id and not _is_ephemeral(message) and after < message_id < before
            ),
            reverse=True,
        )
        return _json([self._messages[message_id] for message_id in found[:limit]])

    async def _trigger_typing(self, request: web.Request) -> web.Response:
        self.typing_channels.append(int(request.match_info["channel_id"]))
        return web.Response(status=204)

    async def _get_commands(self, request: web.Request) -> web.Response:
        guild_id = request.match_info.get("guild_id")
        return _json(self._commands.get(int(guild_id) if guild_id else None, []))

    async def _put_commands(self, request: web.Request) -> web.Response:
        if not self._authorized(request) or request.match_info["app_id"] != str(self.application_id):
            return _error(401, 0, "401: Unauthorized")
        guild_id = int(request.match_info["guild_id"]) if "guild_id" in request.match_info else None
        if guild_id is not None and self.command_sync_status != 200:
            if self.command_sync_status == 403:  # the bot is not in the guild, or lacks applications.commands
                return _error(403, 50001, "Missing Access")
            return _status_error(self.command_sync_status)
        commands = [
            {
                "id": str(self._snowflake()),
                "application_id": str(self.application_id),
                "version": str(self._snowflake()),
                "type": CommandType.CHAT_INPUT,
                "description": "",
                **command,
                **({"guild_id": str(guild_id)} if guild_id else {}),
            }
            for command in await request.json()
        ]
        self._commands[guild_id] = commands
        self.command_syncs.append(CommandSync(guild_id, tuple(command["name"] for command in commands)))
        await self._changed_now()
        return _json(commands)

    async def _interaction_callback(self, request: web.Request) -> web.Response:
        interaction = self._interactions.get(request.match_info["token"])
        if interaction is None or interaction["payload"]["id"] != request.match_info["interaction_id"]:
            return _error(404, 10062, "Unknown interaction")
        if interaction["callback"] is not None:
            return _error(400, 40060, "Interaction has already been acknowledged.")
        if self.clock() - interaction["created_at"] > self.interaction_response_seconds:
            return _error(404, 10062, "Unknown interaction")  # its token lapsed: the user saw "interaction failed"
        body, files = await self._read_message_body(request)
        callback_type, data = body.get("type"), body.get("data") or {}
        payload = interaction["payload"]
        channel_id, interaction_id = int(payload["channel_id"]), int(interaction["id"])
        source = payload.get("message")  # the message a component is on
        if callback_type in (Callback.DEFERRED_UPDATE, Callback.UPDATE_MESSAGE) and source is None:
            return _invalid_form_body("type", f"callback type {callback_type} is for component interactions only")
        if callback_type == Callback.MODAL and payload["type"] == InteractionType.MODAL_SUBMIT:
            return _invalid_form_body("type", "a modal cannot be answered with another modal")
        refusal = _modal_refusal(data) if callback_type == Callback.MODAL else _components_refusal(data)
        if refusal is not None:
            return refusal
        message: dict[str, Any] | None
        if callback_type == Callback.MESSAGE:
            message = await self._record_bot_message(
                channel_id, data, files, via="interaction", interaction_id=interaction_id
            )
        elif callback_type == Callback.DEFERRED_MESSAGE:
            flags = int(data.get("flags", 0)) | MESSAGE_FLAG_LOADING
            message = self._message_payload(channel_id, self.bot_user, "", flags=flags)
            message["interaction_metadata"] = self._interaction_metadata(interaction_id)
        elif callback_type == Callback.DEFERRED_UPDATE:
            message = self._messages.get(int(source["id"]))
        elif callback_type == Callback.UPDATE_MESSAGE:
            if int(source["id"]) not in self._messages:
                return _error(404, 10008, "Unknown Message")
            message = await self._edit_bot_message(
                int(source["id"]), data, files, via="update", interaction_id=interaction_id
            )
        elif callback_type == Callback.MODAL:
            user = payload["member"]["user"] if "member" in payload else payload["user"]
            self.modals.append(ShownModal(interaction_id, data["custom_id"], data["title"], data["components"], user))
            message = None
        else:
            return _invalid_form_body("type", f"callback type {callback_type} is not served by the fake")
        interaction["callback"] = callback_type
        interaction["original_id"] = int(message["id"]) if message is not None else None
        self.interaction_callbacks.append(InteractionCallback(interaction_id, callback_type))
        await self._changed_now()
        if "with_response" not in request.query:
            return web.Response(status=204)
        answer: dict[str, Any] = {"id": str(interaction_id), "type": payload["type"]}
        response: dict[str, Any] = {"interaction": answer}
        if message is not None:
            answer |= {
                "response_message_id": message["id"],
                "response_message_loading": callback_type == Callback.DEFERRED_MESSAGE,
                "response_message_ephemeral": bool(message["flags"] & MESSAGE_FLAG_EPHEMERAL),
            }
            if callback_type != Callback.DEFERRED_UPDATE:
                response["resource"] = {"type": callback_type, "message": message}
        return _json(response)

    async def _create_followup(self, request: web.Request) -> web.Response:
        interaction = self._interactions.get(request.match_info["token"])
        if interaction is None:
            return _error(404, 10015, "Unknown Webhook")
        body, files = await self._read_message_body(request)
        if self.send_status != 200:
            return await self._refuse_send(int(interaction["payload"]["channel_id"]), _status_error(self.send_status))
        refusal = _components_refusal(body)
        if refusal is not None:
            return refusal
        message = await self._record_bot_message(
            int(interaction["payload"]["channel_id"]),
            body,
            files,
            via="followup",
            interaction_id=interaction["id"],
        )
        return _json(message) if request.query.get("wait") in ("1", "true", "True") else web.Response(status=204)

    async def _edit_webhook_message(self, request: web.Request) -> web.Response:
        interaction = self._interactions.get(request.match_info["token"])
        if interaction is None:
            return _error(404, 10015, "Unknown Webhook")
        message_id = request.match_info["message_id"]
        original_id = interaction["original_id"] if message_id == "@original" else int(message_id)
        if original_id not in self._messages:
            return _error(404, 10008, "Unknown Message")
        body, files = await self._read_message_body(request)
        refusal = _components_refusal(body)
        if refusal is not None:
            return refusal
        message = await self._edit_bot_message(original_id, body, files, via="edit", interaction_id=interaction["id"])
        return _json(message)

    async def _edit_channel_message(self, request: web.Request) -> web.Response:
        if not self._authorized(request):
            return _error(401, 0, "401: Unauthorized")
        message = self._messages.get(int(request.match_info["message_id"]))
        if message is None or message["channel_id"] != request.match_info["channel_id"] or _is_ephemeral(message):
            return _error(404, 10008, "Unknown Message")
        if message["author"]["id"] != self.bot_user["id"]:
            return _error(403, 50005, "Cannot edit a message authored by another user")
        body, files = await self._read_message_body(request)
        refusal = _components_refusal(body)
        if refusal is not None:
            return refusal
        return _json(await self._edit_bot_message(int(message["id"]), body, files, via="edit"))

    async def _serve_attachment(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        file = self._files.get(path)
        if file is None:
            return web.Response(status=404, text="Not Found")
        self.downloads.append(path)
        await self._changed_now()
        if not isinstance(file, Upload):
            return web.Response(body=file.data, content_type=file.content_type or "application/octet-stream")
        content_type = file.media_type or "application/octet-stream"
        if file.download_delay_seconds:
            await asyncio.sleep(file.download_delay_seconds)
        if file.cdn_status != 200:
            return web.Response(status=file.cdn_status, text=HTTPStatus(file.cdn_status).phrase)
        if file.served_size is None:
            return web.Response(body=file.data, content_type=content_type)
        return await self._stream_attachment(request, path, file.served_size, content_type, chunked=file.chunked)

    async def _stream_attachment(
        self, request: web.Request, path: str, size: int, content_type: str, *, chunked: bool
    ) -> web.StreamResponse:
        """`size` bytes made up chunk by chunk, counted as they go out, until the client hangs up."""
        # Small send buffers, so that what the fake counts as written is close to what the client read.
        assert request.transport is not None
        request.transport.set_write_buffer_limits(high=CDN_CHUNK_BYTES)
        request.transport.get_extra_info("socket").setsockopt(SOL_SOCKET, SO_SNDBUF, CDN_CHUNK_BYTES)
        response = web.StreamResponse(headers={"Content-Type": content_type})
        if chunked:
            response.enable_chunked_encoding()
        else:
            response.content_length = size
        await response.prepare(request)
        self.bytes_served[path] = 0
        try:
            while self.bytes_served[path] < size:
                chunk = ZEROS if self.bytes_served[path] else PNG_SIGNATURE + ZEROS[len(PNG_SIGNATURE) :]
                chunk = chunk[: size - self.bytes_served[path]]
                await response.write(chunk)
                self.bytes_served[path] += len(chunk)
            await response.write_eof()
        except ConnectionError:
            pass  # the client stopped reading and hung up, as a capped download does
        finally:
            await self._changed_now()
        return response

    async def _unknown_route(self, request: web.Request) -> web.Response:
        route = f"{request.method} {request.path}"
        log.error("fake Discord: no route for %s; the bot called something the fake does not serve", route)
        self.unknown_requests.append(route)
        await self._changed_now()
        return _error(404, 0, f"404: Not Found (the fake Discord does not serve {route})")

    async def _read_message_body(self, request: web.Request) -> tuple[dict[str, Any], list[SentFile]]:
        """The JSON payload and files of a message request, sent as JSON or as multipart with payload_json."""
        if not request.content_type.startswith("multipart/"):
            return (await request.json() if request.can_read_body else {}), []
        payload: dict[str, Any] = {}
        files: list[SentFile] = []
        reader = await request.multipart()
        async for part in reader:
            if part.name == "payload_json":
                payload = json.loads(await part.text())
            elif part.name and part.name.startswith("files["):
                files.append(SentFile(part.filename or part.name, part.headers.get("Content-Type"), await part.read()))
        return payload, files

    async def _record_bot_message(
        self,
        channel_id: int,
        body: dict[str, Any],
        files: list[SentFile],
        *,
        via: str,
        interaction_id: int | None = None,
    ) -> dict[str, Any]:
        attachments = [self._attachment_payload(channel_id, file) for file in files]
        message = self._message_payload(
            channel_id,
            self.bot_user,
            body.get("content") or "",
            attachments=attachments,
            embeds=body.get("embeds") or [],
            reference=body.get("message_reference"),
            flags=int(body.get("flags") or 0),
            components=body.get("components") or [],
        )
        if interaction_id is not None:
            message["interaction_metadata"] = self._interaction_metadata(interaction_id)
        self._note_sent(message, files, via=via, interaction_id=interaction_id)
        await self._changed_now()
        if not _is_ephemeral(message):  # an ephemeral message is only for its user, never in the channel's events
            await self._dispatch("MESSAGE_CREATE", message)
        return message

    async def _edit_bot_message(
        self,
        message_id: int,
        body: dict[str, Any],
        files: list[SentFile],
        *,
        via: str,
        interaction_id: int | None = None,
    ) -> dict[str, Any]:
        """A PATCH as Discord applies it: what the body names changes, the rest stays (attachments too, unless
        `attachments` lists those to keep); a deferred answer stops "thinking"."""
        message = self._messages[message_id]
        for key, empty in (("content", ""), ("embeds", []), ("components", [])):
            if key in body:
                message[key] = body[key] or empty
        if "attachments" in body:
            kept = {str(attachment.get("id")) for attachment in body["attachments"]}
            message["attachments"] = [a for a in message["attachments"] if a["id"] in kept]
        channel_id = int(message["channel_id"])
        message["attachments"] += [self._attachment_payload(channel_id, file) for file in files]
        message["flags"] &= ~MESSAGE_FLAG_LOADING
        message["edited_timestamp"] = _timestamp()
        self._note_sent(message, files, via=via, interaction_id=interaction_id)
        await self._changed_now()
        if not _is_ephemeral(message):
            await self._dispatch("MESSAGE_UPDATE", message)
        return message

    def _interaction_metadata(self, interaction_id: int) -> dict[str, Any]:
        """What a message answering an interaction says of it: above all, whose it was."""
        payload = next(entry["payload"] for entry in self._interactions.values() if entry["id"] == interaction_id)
        return {
            "id": str(interaction_id),
            "type": payload["type"],
            "user": payload["member"]["user"] if "member" in payload else payload["user"],
            "authorizing_integration_owners": payload["authorizing_integration_owners"],
        }

    def _note_sent(
        self, message: dict[str, Any], files: list[SentFile], *, via: str, interaction_id: int | None
    ) -> None:
        reference = message.get("message_reference")
        self.sent.append(
            SentMessage(
                id=int(message["id"]),
                channel_id=int(message["channel_id"]),
                content=message["content"],
                embeds=deepcopy(message["embeds"]),
                files=files,
                message_reference={"message_id": reference["message_id"]} if reference else None,
                via=via,
                interaction_id=interaction_id,
                ephemeral=_is_ephemeral(message),
                components=deepcopy(message["components"]),
            )
        )
