"""A fake Telegram Bot API on 127.0.0.1 (methods, getUpdates long polling and the file route) for python-telegram-bot;
a LoopbackServer, so it runs in a thread of its own, as the real service runs elsewhere."""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import json
import logging
import re
import time
from collections.abc import Callable, Sequence
from copy import deepcopy
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from aiohttp import web
from PIL import Image

from fakes.loopback import LoopbackServer, what_the_bot_did

log = logging.getLogger(__name__)

DEFAULT_TOKEN = "123456789:fake-telegram-token-never-log-me"
BOT_USERNAME = "digit_test_bot"
CAPTION_LIMIT, TEXT_LIMIT = 1024, 4096  # characters, as Telegram counts them (UTF-16 code units)
DOWNLOAD_LIMIT = 20 * 1024 * 1024  # the Bot API's getFile refuses bigger files
THUMBNAIL_SIDES = (90, 320)  # the smaller copies Telegram keeps next to a photo
PICTURE_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF", b"GIF8")
# Sent JSON-encoded inside a form field; every other parameter is plain text.
STRUCTURED_PARAMETERS = {
    "reply_parameters",
    "entities",
    "caption_entities",
    "allowed_updates",
    "commands",
    "scope",
    "reply_markup",
}
CALLBACK_DATA_BYTES = 64  # an inline button's callback_data: 1 to 64 bytes
CALLBACK_ANSWER_LIMIT = 200  # the text answerCallbackQuery shows
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same as a current "
    "content and reply markup of the message"
)
COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]+)?")
NGINX_PAGE = "<html>\r\n<head><title>{status}</title></head>\r\n<body>\r\n<center><h1>{status}</h1></center>\r\n<hr>"


def utf16_length(text: str) -> int:
    """Telegram measures text and entity offsets in UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


@dataclass(frozen=True)
class Photo:
    """A photo as Telegram keeps it: the picture sent (at most 1280 px there) and smaller JPEG copies.

    `declared_size` lets a test claim a size for the largest copy that its bytes don't have.
    """

    data: bytes
    thumbnails: tuple[bytes, ...] = ()
    declared_size: int | None = None

    @classmethod
    def of(cls, data: bytes, *, declared_size: int | None = None) -> Photo:
        """The photo and its thumbnails, made now (not while a test is timing the bot)."""
        thumbnails = []
        with Image.open(io.BytesIO(data)) as picture:
            for side in THUMBNAIL_SIDES:
                if side < max(picture.size):
                    thumbnail = picture.convert("RGB")
                    thumbnail.thumbnail((side, side))
                    buffer = io.BytesIO()
                    thumbnail.save(buffer, format="JPEG", quality=80)
                    thumbnails.append(buffer.getvalue())
        return cls(data, tuple(thumbnails), declared_size)


@dataclass(frozen=True)
class Document:
    """A file sent as a file: the original bytes, a name and the MIME type the user's app declared."""

    file_name: str | None
    data: bytes
    mime_type: str | None = None
    declared_size: int | None = None


@dataclass(frozen=True)
class Sticker:
    data: bytes = b"\x1f\x8b fake gzipped lottie"
    kind: str = "animated"  # "static" (WEBP), "animated" (TGS) or "video" (WEBM)


@dataclass(frozen=True)
class Voice:
    data: bytes = b"OggS fake opus"
    duration: int = 2


Attachment = Photo | Document | Sticker | Voice


@dataclass(frozen=True)
class SentMessage:
    """A message the bot sent: its text or caption, the bold parts, its photo and what it replies to."""

    message_id: int
    chat_id: int
    method: str  # "sendMessage" or "sendPhoto"
    text: str  # the text, or the photo's caption
    entities: list[dict[str, Any]]
    reply_to: int | None
    photo: bytes | None = None
    photo_name: str | None = None
    sent_at: float = 0.0  # the fake's clock (time.perf_counter()) when the bot's request came
    reply_markup: dict[str, Any] | None = None  # the inline keyboard under the message, after this send or edit

    @property
    def buttons(self) -> list[dict[str, Any]]:
        """The inline keyboard's buttons, row by row, left to right."""
        return [button for row in (self.reply_markup or {}).get("inline_keyboard", []) for button in row]

    @property
    def callback_data(self) -> list[str]:
        return [button["callback_data"] for button in self.buttons if "callback_data" in button]

    @property
    def bold(self) -> list[str]:
        units = self.text.encode("utf-16-le")
        return [
            units[2 * entity["offset"] : 2 * (entity["offset"] + entity["length"])].decode("utf-16-le")
            for entity in self.entities
            if entity.get("type") == "bold"
        ]


@dataclass(frozen=True)
class Refusal:
    """A call the fake answered with an error, on a test's request or because the call was wrong."""

    method: str
    status: int
    description: str
    at: float


@dataclass(frozen=True)
class CallbackAnswer:
    """The bot's answerCallbackQuery: the text the user sees pop up (an alert when `show_alert`)."""

    callback_query_id: str
    text: str
    show_alert: bool
    at: float


@dataclass(frozen=True)
class Poll:
    received_at: float  # time.perf_counter() on the fake's loop
    answered_at: float
    updates: int


@dataclass
class _Fault:
    status: int
    description: str
    retry_after: int | None
    remaining: int


@dataclass
class _StoredFile:
    data: bytes
    file_unique_id: str
    file_path: str
    declared_size: int | None = None

    @property
    def file_size(self) -> int:
        return len(self.data) if self.declared_size is None else self.declared_size


@dataclass
class _PendingUpdates:
    updates: list[dict[str, Any]] = field(default_factory=list)
    confirmed_below: int = 0
    always: set[int] = field(default_factory=set)  # update_ids delivered whatever allowed_updates say


class FakeTelegram(LoopbackServer):
    """The Bot API of one bot, its users' private chats and groups, and the files they send.

    `async with FakeTelegram() as telegram_fake:` serves it on `api_base`. The test side posts messages as users
    (queued for getUpdates, as Telegram queues them) and reads what the bot did from `sent`, `commands`, `polls`….
    """

    name = "fake Telegram"

    def __init__(self, *, token: str = DEFAULT_TOKEN, long_poll_cap_seconds: float | None = None) -> None:
        super().__init__()
        self.token = token
        # Answering long polls early makes a polling bot ask again and again: each gap between an answer and
        # the next request is how long the bot's event loop took to get round to it.
        self.long_poll_cap_seconds = long_poll_cap_seconds
        self._ids = itertools.count(1_000)
        self._message_ids = itertools.count(1)
        self._update_ids = itertools.count(500_000_000)
        self.bot_user = {"id": 7_000_000_001, "is_bot": True, "first_name": "Digit bot", "username": BOT_USERNAME}

        self.sent: list[SentMessage] = []
        self.edits: list[SentMessage] = []  # each editMessage… call, as the message is after it
        self.callback_answers: list[CallbackAnswer] = []
        self.refusals: list[Refusal] = []
        self.polls: list[Poll] = []
        self.poll_requests = 0  # getUpdates calls received, answered or still waiting
        self.commands: list[dict[str, Any]] | None = None  # what setMyCommands registered
        self.allowed_updates: list[str] | None = None
        self.chat_actions: list[tuple[int, str]] = []
        self.file_requests: list[str] = []  # getFile's file_ids
        self.downloads: list[str] = []  # file paths served
        self.unknown_requests: list[str] = []

        self._chats: dict[int, dict[str, Any]] = {}
        self._privacy_mode: dict[int, bool] = {}
        self._messages: dict[tuple[int, int], dict[str, Any]] = {}
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}
        self._faults: dict[str, _Fault] = {}
        self._pending = _PendingUpdates()
        self._open_callback_queries: dict[str, dict[str, Any]] = {}  # id → the query, until answered
        self._closing = False

    def make_app(self) -> web.Application:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._bot_method)
        app.router.add_get("/file/bot{token}/{path:.+}", self._serve_file)
        app.router.add_route("*", "/{path:.*}", self._unknown_route)
        return app

    async def before_stop(self) -> None:
        self._closing = True  # long polls in progress return now, not after their timeout
        await self._changed_now()

    def what_happened(self) -> str:
        return what_the_bot_did((f"{m.method} → {m.chat_id}: {m.text!r}" for m in self.sent), self.unknown_requests)

    @property
    def api_base(self) -> str:
        """What TELEGRAM_API_BASE would be: methods live under /bot<token>/, files under /file/bot<token>/."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def bot_username(self) -> str:
        return self.bot_user["username"]

    # ---- test side: act as users -----------------------------------------------------------------------------

    def make_user(self, name: str) -> dict[str, Any]:
        return {"id": next(self._ids), "is_bot": False, "first_name": name}

    def private_chat(self, user: dict[str, Any]) -> dict[str, Any]:
        """A user's chat with the bot: its id is the user's."""
        chat = {"id": user["id"], "type": "private", "first_name": user["first_name"]}
        self._chats[chat["id"]] = chat
        return chat

    def make_group(self, title: str, *, privacy_mode: bool = True) -> dict[str, Any]:
        """A supergroup with the bot in it. In privacy mode (Telegram's default) the bot gets only commands
        and replies to its own messages; without it (turned off in @BotFather, or the bot an admin), everything.
        """
        chat = {"id": -1_001_000_000_000 - next(self._ids), "type": "supergroup", "title": title}
        self._chats[chat["id"]] = chat
        self._privacy_mode[chat["id"]] = privacy_mode
        return chat

    async def post_message(
        self,
        text: str = "",
        *,
        user: dict[str, Any] | None = None,
        chat: dict[str, Any] | None = None,
        attachment: Attachment | None = None,
        reply_to: dict[str, Any] | None = None,
        media_group_id: str | None = None,
    ) -> dict[str, Any]:
        """A user's message (`text` is the caption when there is an attachment); returns its payload.

        It is queued for getUpdates when Telegram would deliver it to the bot (see `make_group`).
        """
        user = user or self.make_user("someone")
        chat = chat or self.private_chat(user)
        return await self._on_server_loop(self._post_message(text, user, chat, attachment, reply_to, media_group_id))

    async def post_album(
        self, photos: Sequence[Photo], *, user: dict[str, Any] | None = None, caption: str = ""
    ) -> list[dict[str, Any]]:
        """Several photos sent at once: one message each, sharing a media_group_id; the caption is on the first."""
        user = user or self.make_user("someone")
        group_id = str(next(self._ids) + 13_000_000_000_000_000)
        return [
            await self.post_message(caption if index == 0 else "", user=user, attachment=photo, media_group_id=group_id)
            for index, photo in enumerate(photos)
        ]

    async def post_update(self, kind: str, payload: dict[str, Any]) -> None:
        """Any update, e.g. an `edited_message` or a kind the bot has never heard of; delivered whatever the bot's
        allowed_updates say (as a kind newer than its list would be), where user actions are filtered by them."""
        await self._on_server_loop(self._queue_update({kind: payload}, always=True))

    async def press(
        self, message: SentMessage | dict[str, Any], callback_data: str, *, user: dict[str, Any]
    ) -> dict[str, Any]:
        """`user` presses the inline button `callback_data` under the bot's `message`: a callback_query update.

        Only a button on the message now can be pressed; the query carries the message as it is now.
        """
        chat_id, message_id = _message_key(message)
        return await self._on_server_loop(self._press(chat_id, message_id, callback_data, user))

    async def message_now(self, message: SentMessage | dict[str, Any]) -> dict[str, Any]:
        """The message as Telegram holds it now, after any edits: what users see."""
        key = _message_key(message)
        return await self._on_server_loop(self._message_now(key))

    def fail_next(
        self,
        method: str,
        status: int,
        *,
        description: str | None = None,
        retry_after: int | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` calls of `method` get Telegram's error for `status`: JSON with `description` (429 with
        `retry_after`) as the Bot API sends it, a 5xx as the HTML page of the proxy in front of it.
        """
        if description is None:
            description = f"Too Many Requests: retry after {retry_after}" if status == 429 else f"HTTP {status}"
        self._faults[method.lower()] = _Fault(status, description, retry_after, times)

    # ---- test side: observe the bot ------------------------------------------------------------------------

    async def wait_for_sent(
        self, count: int = 1, *, timeout: float = 10.0, where: Callable[[SentMessage], bool] = lambda _: True
    ) -> list[SentMessage]:
        """The bot's messages matching `where`, once there are at least `count` of them."""

        def matching() -> list[SentMessage]:
            return [message for message in self.sent if where(message)]

        await self._wait_until(lambda: len(matching()) >= count, timeout, f"{count} message(s) from the bot")
        return matching()

    async def answer_to(self, message: dict[str, Any], *, timeout: float = 10.0) -> SentMessage:
        """The bot's first message replying to a user's `message`."""
        chat_id, message_id = message["chat"]["id"], message["message_id"]
        answers = await self.wait_for_sent(
            timeout=timeout, where=lambda sent: sent.chat_id == chat_id and sent.reply_to == message_id
        )
        return answers[0]

    async def wait_until_polling(self, timeout: float = 10.0) -> None:
        """Until the bot's first getUpdates: it has started (messages posted before are queued for it anyway)."""
        await self._wait_until(lambda: self.poll_requests > 0, timeout, "the bot to call getUpdates")

    async def wait_for_refusals(self, count: int, timeout: float = 10.0) -> None:
        await self._wait_until(lambda: len(self.refusals) >= count, timeout, f"{count} calls answered with an error")

    def poll_gaps_ms(self, since: float = 0.0) -> list[float]:
        """How long the bot took to ask for updates again after each answer: its event loop's stalls, in ms."""
        polls = [poll for poll in self.polls if poll.received_at >= since]
        return [(later.received_at - earlier.answered_at) * 1000 for earlier, later in pairwise(polls)]

    async def wait_for_callback_answer(self, query: dict[str, Any], *, timeout: float = 10.0) -> CallbackAnswer:
        """The bot's answerCallbackQuery to `query`, once it came."""

        def answers() -> list[CallbackAnswer]:
            return [answer for answer in self.callback_answers if answer.callback_query_id == query["id"]]

        await self._wait_until(lambda: bool(answers()), timeout, f"answerCallbackQuery for {query['data']!r}")
        return answers()[0]

    async def wait_for_edits(
        self, count: int = 1, *, timeout: float = 10.0, where: Callable[[SentMessage], bool] = lambda _: True
    ) -> list[SentMessage]:
        """The bot's edits matching `where`, once there are at least `count` of them."""

        def matching() -> list[SentMessage]:
            return [edit for edit in self.edits if where(edit)]

        await self._wait_until(lambda: len(matching()) >= count, timeout, f"{count} edit(s) from the bot")
        return matching()

    def answers_in(self, chat: dict[str, Any]) -> list[SentMessage]:
        return [message for message in self.sent if message.chat_id == chat["id"]]

    # ---- users' messages -------------------------------------------------------------------------------------

    async def _post_message(
        self,
        text: str,
        user: dict[str, Any],
        chat: dict[str, Any],
        attachment: Attachment | None,
        reply_to: dict[str, Any] | None,
        media_group_id: str | None,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "from": user,
            "chat": chat,
            "date": int(time.time()),
        }
        text_key, entities_key = ("caption", "caption_entities") if attachment else ("text", "entities")
        if text:
            message[text_key] = text
            commands = [
                {"type": "bot_command", "offset": utf16_length(text[: m.start()]), "length": utf16_length(m.group())}
                for m in COMMAND.finditer(text)
            ]
            if commands:
                message[entities_key] = commands
        if attachment is not None:
            message.update(self._attachment_payload(attachment))
        if reply_to is not None:
            # Telegram fills in the message replied to as it is now (its caption and keyboard after any edit).
            message["reply_to_message"] = self._messages.get((chat["id"], reply_to["message_id"]), reply_to)
        if media_group_id is not None:
            message["media_group_id"] = media_group_id
        self._messages[(chat["id"], message["message_id"])] = message
        if self._delivered_to_bot(message):
            await self._queue_update({"message": message})
        return message

    def _delivered_to_bot(self, message: dict[str, Any]) -> bool:
        chat_id = message["chat"]["id"]
        if not self._privacy_mode.get(chat_id, False):
            return True
        replied = message.get("reply_to_message") or {}
        if replied.get("from", {}).get("id") == self.bot_user["id"]:
            return True
        text = message.get("text") or message.get("caption") or ""
        match = COMMAND.match(text)
        return bool(match) and match.group().partition("@")[2] in ("", self.bot_username)

    def _attachment_payload(self, attachment: Attachment) -> dict[str, Any]:
        if isinstance(attachment, Photo):
            sizes = [self._store_photo_size(data) for data in attachment.thumbnails]
            return {"photo": [*sizes, self._store_photo_size(attachment.data, attachment.declared_size)]}
        if isinstance(attachment, Document):
            file_id, stored = self._store(attachment.data, "documents", attachment.file_name, attachment.declared_size)
            document = {"file_id": file_id, "file_unique_id": stored.file_unique_id, "file_size": stored.file_size}
            if attachment.file_name is not None:
                document["file_name"] = attachment.file_name
            if attachment.mime_type is not None:
                document["mime_type"] = attachment.mime_type
            return {"document": document}
        if isinstance(attachment, Sticker):
            extension = {"static": "webp", "animated": "tgs", "video": "webm"}[attachment.kind]
            file_id, stored = self._store(attachment.data, "stickers", f"sticker.{extension}")
            sticker = {
                "file_id": file_id,
                "file_unique_id": stored.file_unique_id,
                "type": "regular",
                "width": 512,
                "height": 512,
                "is_animated": attachment.kind == "animated",
                "is_video": attachment.kind == "video",
                "emoji": "7️⃣",
                "file_size": stored.file_size,
            }
            return {"sticker": sticker}
        file_id, stored = self._store(attachment.data, "voice", "voice.oga")
        voice = {
            "file_id": file_id,
            "file_unique_id": stored.file_unique_id,
            "duration": attachment.duration,
            "mime_type": "audio/ogg",
            "file_size": stored.file_size,
        }
        return {"voice": voice}

    def _store_photo_size(self, data: bytes, declared_size: int | None = None) -> dict[str, Any]:
        file_id, stored = self._store(data, "photos", "photo.jpg", declared_size)
        with Image.open(io.BytesIO(data)) as picture:
            width, height = picture.size
        return {
            "file_id": file_id,
            "file_unique_id": stored.file_unique_id,
            "width": width,
            "height": height,
            "file_size": stored.file_size,
        }

    def _store(
        self, data: bytes, folder: str, name: str | None, declared_size: int | None = None
    ) -> tuple[str, _StoredFile]:
        number = next(self._ids)
        extension = (name or "").rpartition(".")[2] or "bin"
        stored = _StoredFile(data, f"unique{number}", f"{folder}/file_{number}.{extension}", declared_size)
        file_id = f"file-id-{number}"
        self._files[file_id] = stored
        self._files_by_path[stored.file_path] = stored
        return file_id, stored

    async def _queue_update(self, update: dict[str, Any], *, always: bool = False) -> None:
        self._pending.updates.append({"update_id": next(self._update_ids), **update})
        if always:
            self._pending.always.add(self._pending.updates[-1]["update_id"])
        await self._changed_now()

    def _wanted(self, update: dict[str, Any]) -> bool:
        """Whether the bot's allowed_updates (its latest list; all kinds before it sent one) let `update` through."""
        if not self.allowed_updates or update["update_id"] in self._pending.always:
            return True
        return any(kind in update for kind in self.allowed_updates)

    async def _press(self, chat_id: int, message_id: int, callback_data: str, user: dict[str, Any]) -> dict[str, Any]:
        message = self._messages.get((chat_id, message_id))
        assert message is not None, f"no message {message_id} in chat {chat_id}"
        keyboard = message.get("reply_markup", {}).get("inline_keyboard", [])
        on_message = [button.get("callback_data") for row in keyboard for button in row]
        assert callback_data in on_message, f"no button {callback_data!r} under the message; it has {on_message}"
        query = {
            "id": str(next(self._ids) + 4_000_000_000_000_000_000),
            "from": user,
            "message": deepcopy(message),
            "chat_instance": str(-chat_id),
            "data": callback_data,
        }
        self._open_callback_queries[query["id"]] = query
        await self._queue_update({"callback_query": query})
        return query

    async def _message_now(self, key: tuple[int, int]) -> dict[str, Any]:
        message = self._messages.get(key)
        assert message is not None, f"no message {key[1]} in chat {key[0]}"
        return deepcopy(message)

    # ---- the Bot API -----------------------------------------------------------------------------------------

    async def _bot_method(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        if request.match_info["token"] != self.token:
            return self._refuse(method, 401, "Unauthorized")
        handler = {
            "getme": self._get_me,
            "deletewebhook": self._delete_webhook,
            "getupdates": self._get_updates,
            "setmycommands": self._set_my_commands,
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "sendchataction": self._send_chat_action,
            "getfile": self._get_file,
            "answercallbackquery": self._answer_callback_query,
            "editmessagetext": self._edit_message_text,
            "editmessagecaption": self._edit_message_caption,
            "editmessagereplymarkup": self._edit_message_reply_markup,
        }.get(method.lower())  # Telegram's method names are case-insensitive
        if handler is None:
            self.unknown_requests.append(method)
            log.error("fake Telegram: no method %s; the bot called something the fake does not serve", method)
            await self._changed_now()
            return self._refuse(method, 404, "Not Found")
        fault = self._faults.get(method.lower())
        if fault is not None and fault.remaining > 0:
            fault.remaining -= 1
            response = self._refuse(method, fault.status, fault.description, retry_after=fault.retry_after)
            await self._changed_now()
            return response
        try:
            return await handler(await _parameters(request))
        except _BadRequest as error:
            response = self._refuse(method, 400, f"Bad Request: {error}")
            await self._changed_now()
            return response

    def _refuse(self, method: str, status: int, description: str, *, retry_after: int | None = None) -> web.Response:
        self.refusals.append(Refusal(method, status, description, self.clock()))
        if status >= 500:
            page = NGINX_PAGE.format(status=f"{status} {'Bad Gateway' if status == 502 else 'Server Error'}")
            return web.Response(status=status, text=page, content_type="text/html")
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if retry_after is not None:
            body["parameters"] = {"retry_after": retry_after}
        return web.json_response(body, status=status)

    async def _get_me(self, parameters: dict[str, Any]) -> web.Response:
        return _ok(
            {
                **self.bot_user,
                "can_join_groups": True,
                "can_read_all_group_messages": False,  # privacy mode, as @BotFather leaves it
                "supports_inline_queries": False,
            }
        )

    async def _delete_webhook(self, parameters: dict[str, Any]) -> web.Response:
        return _ok(True)

    async def _get_updates(self, parameters: dict[str, Any]) -> web.Response:
        received_at = self.clock()
        self.poll_requests += 1
        await self._changed_now()
        offset = int(parameters.get("offset") or 0)
        timeout = float(parameters.get("timeout") or 0)
        limit = int(parameters.get("limit") or 100)
        if "allowed_updates" in parameters:
            self.allowed_updates = parameters["allowed_updates"]
        if offset:  # asking from `offset` confirms every update before it
            self._pending.confirmed_below = max(self._pending.confirmed_below, offset)
            self._pending.updates = [u for u in self._pending.updates if u["update_id"] >= offset]
        self._pending.updates = [update for update in self._pending.updates if self._wanted(update)]
        if self.long_poll_cap_seconds is not None:
            timeout = min(timeout, self.long_poll_cap_seconds)
        assert self._changed is not None
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._changed.wait_for(lambda: bool(self._pending.updates) or self._closing), timeout
                )
        self._pending.updates = [update for update in self._pending.updates if self._wanted(update)]
        updates = self._pending.updates[:limit]
        self.polls.append(Poll(received_at, self.clock(), len(updates)))
        await self._changed_now()
        return _ok(updates)

    async def _set_my_commands(self, parameters: dict[str, Any]) -> web.Response:
        commands = parameters.get("commands")
        if not isinstance(commands, list) or not commands:
            raise _BadRequest("parameter commands is required")
        for command in commands:
            if not re.fullmatch(r"[a-z0-9_]{1,32}", command.get("command", "")):
                raise _BadRequest("BOT_COMMAND_INVALID")
            if not 1 <= len(command.get("description", "")) <= 256:
                raise _BadRequest("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands = commands
        await self._changed_now()
        return _ok(True)

    async def _send_message(self, parameters: dict[str, Any]) -> web.Response:
        chat = self._chat(parameters)
        text = str(parameters.get("text") or "")
        if not text.strip():
            raise _BadRequest("message text is empty")
        if utf16_length(text) > TEXT_LIMIT:
            raise _BadRequest("message is too long")
        entities = _checked_entities(text, parameters.get("entities"), parameters.get("parse_mode"))
        markup = _checked_markup(parameters.get("reply_markup"))
        reply_to = self._replied_message_id(chat, parameters)
        message = await self._record(chat, "sendMessage", text, entities, reply_to, markup=markup)
        return _ok(message)

    async def _send_photo(self, parameters: dict[str, Any]) -> web.Response:
        chat = self._chat(parameters)
        photo = parameters.get("photo")
        if not isinstance(photo, _Upload):
            raise _BadRequest("there is no photo in the request")
        if not photo.data.startswith(PICTURE_SIGNATURES):
            raise _BadRequest("IMAGE_PROCESS_FAILED")
        caption = str(parameters.get("caption") or "")
        if utf16_length(caption) > CAPTION_LIMIT:
            raise _BadRequest("message caption is too long")
        entities = _checked_entities(caption, parameters.get("caption_entities"), parameters.get("parse_mode"))
        markup = _checked_markup(parameters.get("reply_markup"))
        reply_to = self._replied_message_id(chat, parameters)
        message = await self._record(chat, "sendPhoto", caption, entities, reply_to, photo, markup=markup)
        return _ok(message)

    async def _answer_callback_query(self, parameters: dict[str, Any]) -> web.Response:
        query_id = str(parameters.get("callback_query_id") or "")
        if query_id not in self._open_callback_queries:  # unknown, or answered already: each is answered once
            raise _BadRequest("query is too old and response timeout expired or query ID is invalid")
        text = str(parameters.get("text") or "")
        if utf16_length(text) > CALLBACK_ANSWER_LIMIT:
            raise _BadRequest("MESSAGE_TOO_LONG")
        del self._open_callback_queries[query_id]
        show_alert = str(parameters.get("show_alert")).lower() == "true"
        self.callback_answers.append(CallbackAnswer(query_id, text, show_alert, self.clock()))
        await self._changed_now()
        return _ok(True)

    async def _edit_message_text(self, parameters: dict[str, Any]) -> web.Response:
        text = str(parameters.get("text") or "")
        if not text.strip():
            raise _BadRequest("message text is empty")
        if utf16_length(text) > TEXT_LIMIT:
            raise _BadRequest("MESSAGE_TOO_LONG")
        entities = _checked_entities(text, parameters.get("entities"), parameters.get("parse_mode"))
        return await self._edit(parameters, "editMessageText", text=text, entities=entities)

    async def _edit_message_caption(self, parameters: dict[str, Any]) -> web.Response:
        caption = str(parameters.get("caption") or "")
        if utf16_length(caption) > CAPTION_LIMIT:
            raise _BadRequest("message caption is too long")
        entities = _checked_entities(caption, parameters.get("caption_entities"), parameters.get("parse_mode"))
        return await self._edit(parameters, "editMessageCaption", text=caption, entities=entities)

    async def _edit_message_reply_markup(self, parameters: dict[str, Any]) -> web.Response:
        return await self._edit(parameters, "editMessageReplyMarkup")

    async def _edit(
        self,
        parameters: dict[str, Any],
        method: str,
        *,
        text: str | None = None,
        entities: list[dict[str, Any]] | None = None,
    ) -> web.Response:
        """An edit as Telegram makes it: the bot's own message only, and a keyboard left out of the call is gone."""
        chat = self._chat(parameters)
        message = self._messages.get((chat["id"], int(parameters.get("message_id") or 0)))
        if message is None:
            raise _BadRequest("message to edit not found")
        if message["from"]["id"] != self.bot_user["id"]:
            raise _BadRequest("message can't be edited")
        has_caption = "photo" in message
        if method == "editMessageText" and has_caption:
            raise _BadRequest("there is no text in the message to edit")
        if method == "editMessageCaption" and not has_caption:
            raise _BadRequest("there is no caption in the message to edit")
        markup = _checked_markup(parameters.get("reply_markup"))
        edited = deepcopy(message)
        edited.pop("reply_markup", None)
        if markup:
            edited["reply_markup"] = markup
        text_key, entities_key = ("caption", "caption_entities") if has_caption else ("text", "entities")
        if text is not None:
            edited.pop(text_key, None)
            edited.pop(entities_key, None)
            if text:
                edited[text_key] = text
            if entities:
                edited[entities_key] = entities
        if edited == message:
            raise _BadRequest(NOT_MODIFIED)
        edited["edit_date"] = int(time.time())
        self._messages[(chat["id"], message["message_id"])] = edited
        reply_to = (edited.get("reply_to_message") or {}).get("message_id")
        self.edits.append(
            SentMessage(
                edited["message_id"],
                chat["id"],
                method,
                edited.get(text_key, ""),
                edited.get(entities_key, []),
                reply_to,
                sent_at=self.clock(),
                reply_markup=edited.get("reply_markup"),
            )
        )
        await self._changed_now()
        return _ok(edited)

    async def _send_chat_action(self, parameters: dict[str, Any]) -> web.Response:
        chat = self._chat(parameters)
        self.chat_actions.append((chat["id"], str(parameters.get("action"))))
        return _ok(True)

    async def _get_file(self, parameters: dict[str, Any]) -> web.Response:
        file_id = str(parameters.get("file_id") or "")
        self.file_requests.append(file_id)
        stored = self._files.get(file_id)
        if stored is None:
            raise _BadRequest("invalid file_id")
        if stored.file_size > DOWNLOAD_LIMIT:
            raise _BadRequest("file is too big")
        return _ok(
            {
                "file_id": file_id,
                "file_unique_id": stored.file_unique_id,
                "file_size": stored.file_size,
                "file_path": stored.file_path,
            }
        )

    async def _serve_file(self, request: web.Request) -> web.Response:
        path = request.match_info["path"]
        stored = self._files_by_path.get(path)
        if request.match_info["token"] != self.token or stored is None:
            return web.Response(status=404, text="Not Found")
        self.downloads.append(path)
        await self._changed_now()
        return web.Response(body=stored.data, content_type="application/octet-stream")

    async def _unknown_route(self, request: web.Request) -> web.Response:
        route = f"{request.method} {request.path}"
        self.unknown_requests.append(route)
        log.error("fake Telegram: no route for %s", route)
        return web.json_response({"ok": False, "error_code": 404, "description": "Not Found"}, status=404)

    def _chat(self, parameters: dict[str, Any]) -> dict[str, Any]:
        try:
            return self._chats[int(parameters.get("chat_id", ""))]
        except (KeyError, ValueError):
            raise _BadRequest("chat not found") from None

    def _replied_message_id(self, chat: dict[str, Any], parameters: dict[str, Any]) -> int | None:
        reply = parameters.get("reply_parameters") or {}
        if "reply_to_message_id" in parameters:
            reply = {"message_id": parameters["reply_to_message_id"]}
        message_id = reply.get("message_id")
        if message_id is None:
            return None
        if (chat["id"], int(message_id)) not in self._messages:
            if reply.get("allow_sending_without_reply"):
                return None
            raise _BadRequest("message to be replied not found")
        return int(message_id)

    async def _record(
        self,
        chat: dict[str, Any],
        method: str,
        text: str,
        entities: list[dict[str, Any]],
        reply_to: int | None,
        photo: _Upload | None = None,
        *,
        markup: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "from": self.bot_user,
            "chat": chat,
            "date": int(time.time()),
        }
        text_key, entities_key = ("caption", "caption_entities") if photo else ("text", "entities")
        if text:
            message[text_key] = text
        if entities:
            message[entities_key] = entities
        if photo is not None:
            message["photo"] = [self._store_photo_size(photo.data)]
        if reply_to is not None:
            message["reply_to_message"] = self._messages[(chat["id"], reply_to)]
        if markup:
            message["reply_markup"] = markup
        self._messages[(chat["id"], message["message_id"])] = message
        self.sent.append(
            SentMessage(
                message["message_id"],
                chat["id"],
                method,
                text,
                entities,
                reply_to,
                photo.data if photo else None,
                photo.filename if photo else None,
                self.clock(),
                markup,
            )
        )
        await self._changed_now()
        return message


@dataclass(frozen=True)
class _Upload:
    filename: str | None
    data: bytes


class _BadRequest(Exception):
    """A call Telegram would refuse with 400 and "Bad Request: <message>"."""


def _message_key(message: SentMessage | dict[str, Any]) -> tuple[int, int]:
    """(chat id, message id) of a message given as the fake recorded it or as its payload."""
    if isinstance(message, SentMessage):
        return message.chat_id, message.message_id
    return message["chat"]["id"], message["message_id"]


def _ok(result: Any) -> web.Response:
    return web.json_response({"ok": True, "result": result})


async def _parameters(request: web.Request) -> dict[str, Any]:
    """A method's parameters, as the Bot API takes them: query string, form, multipart (files) or JSON."""
    parameters: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        parameters.update(await request.json())
        return parameters
    if request.content_type.startswith("multipart/"):
        async for part in await request.multipart():
            if part.filename is not None:
                parameters[part.name] = _Upload(part.filename, bytes(await part.read()))
            else:
                parameters[part.name] = await part.text()
    else:
        parameters.update((name, str(value)) for name, value in (await request.post()).items())
    for name in STRUCTURED_PARAMETERS & parameters.keys():
        if isinstance(parameters[name], str):
            try:
                parameters[name] = json.loads(parameters[name])
            except ValueError:
                raise _BadRequest(f"can't parse {name} JSON object") from None
    return parameters


def _checked_markup(markup: Any) -> dict[str, Any] | None:
    """An inline keyboard as Telegram takes it: rows of buttons, each with a text and 1-64 bytes of callback_data
    (or a url); None for none (an empty keyboard is none too)."""
    if not markup:
        return None
    rows = markup.get("inline_keyboard") if isinstance(markup, dict) else None
    if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
        raise _BadRequest("can't parse inline keyboard button: InlineKeyboardMarkup must be an Array of Arrays")
    for row in rows:
        for button in row:
            if not str(button.get("text") or "").strip():
                raise _BadRequest("BUTTON_TEXT_INVALID")
            data = button.get("callback_data")
            if data is None and "url" not in button:
                raise _BadRequest("can't parse inline keyboard button: button must have callback_data or url")
            if data is not None and not 1 <= len(str(data).encode()) <= CALLBACK_DATA_BYTES:
                raise _BadRequest("BUTTON_DATA_INVALID")
    rows = [row for row in rows if row]
    return {"inline_keyboard": rows} if rows else None


def _checked_entities(text: str, entities: Any, parse_mode: Any) -> list[dict[str, Any]]:
    if parse_mode:
        raise _BadRequest("the fake Telegram serves plain text with entities, not parse_mode")
    if not entities:
        return []
    length = utf16_length(text)
    for entity in entities:
        offset, size = int(entity.get("offset", -1)), int(entity.get("length", 0))
        if offset < 0 or size <= 0 or offset + size > length:
            raise _BadRequest(f"can't parse entities: entity {entity} is outside the text")
    return list(entities)
