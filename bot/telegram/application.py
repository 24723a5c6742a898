"""The Telegram bot over the shared DigitService: its Application, start and stop, and the one place errors end."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging

from telegram import Update
from telegram.error import Conflict, InvalidToken, TelegramError
from telegram.ext import AIORateLimiter, Application, ApplicationBuilder, ContextTypes

from bot.errors import DigitBotError
from bot.lifecycle import StartupFailed
from bot.replies import error_reply, unexpected_error_reply
from bot.service import DigitService
from bot.telegram.digits import MENU, Digits
from bot.telegram.files import TelegramDownloads
from bot.telegram.rendering import send_replies
from bot.telegram.settings import TelegramSettings
from bot.telegram.verdicts import Verdicts

log = logging.getLogger(__name__)

LONG_POLL_SECONDS = 30  # how long one getUpdates waits for news: fewer requests, answers as prompt
POLLING_TASK_NAME = "Updater:start_polling:polling_task"  # python-telegram-bot 22's name for its getUpdates loop
RETRIES_AFTER_FLOOD_WAIT = 3  # a 429 "retry after N" is waited out and the call made again, this many times


def quiet_library_logs() -> None:
    """What python-telegram-bot and httpx would log that is either secret or said better by us, whatever LOG_LEVEL."""
    # The token is part of every Bot API URL: httpx logs each request's URL at INFO, the library its URLs at DEBUG.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    for bot_logger in ("telegram.Bot", "telegram.ext.ExtBot"):
        logging.getLogger(bot_logger).setLevel(logging.INFO)
    # A body that isn't JSON (a proxy's "502 Bad Gateway" page) is logged with a traceback, then raised as the
    # error that our handlers log in one line.
    logging.getLogger("telegram.request.BaseRequest").setLevel(logging.CRITICAL)
    logging.getLogger("telegram.ext").addFilter(_not_the_revoked_token_traceback)  # once, however often called


def _not_the_revoked_token_traceback(record: logging.LogRecord) -> bool:
    """A token revoked while polling: the library logs a traceback; the front end then says what to do, in one line."""
    return "Invalid token" not in str(record.msg)


def build_application(settings: TelegramSettings) -> Application:
    quiet_library_logs()
    return (
        ApplicationBuilder()
        .token(settings.token or "")
        .base_url(f"{settings.api_base}/bot")
        .base_file_url(f"{settings.api_base}/file/bot")
        .rate_limiter(AIORateLimiter(max_retries=RETRIES_AFTER_FLOOD_WAIT))
        .concurrent_updates(True)  # one user's slow download must not hold up everyone else's pictures
        .build()
    )


async def answer_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Every failure of a handler ends here and becomes one log line, and an answer where one can still be sent."""
    error = context.error
    if isinstance(error, TelegramError):
        # Sending the answer itself failed (the user blocked the bot, the chat is gone, Telegram is down).
        log.warning("Could not answer on Telegram: %s (%s)", short_description(error), type(error).__name__)
        return
    if isinstance(error, DigitBotError):
        reply = error_reply(error)
    else:
        log.error("Unexpected error while answering on Telegram", exc_info=error)
        reply = unexpected_error_reply()
    message = update.effective_message if isinstance(update, Update) else None
    if message is not None:
        with contextlib.suppress(TelegramError):
            await send_replies([message], [reply])


def log_polling_error(error: TelegramError) -> None:
    """python-telegram-bot retries a failed getUpdates by itself; each failure is one line, not a traceback."""
    if isinstance(error, Conflict):
        log.warning("Another process is getting this bot's updates (the same token twice?): %s", error.message)
    else:
        log.warning("Getting updates from Telegram failed (%s); trying again", short_description(error))


def short_description(error: TelegramError) -> str:
    """The error without the body python-telegram-bot appends when it isn't JSON (a whole HTML page)."""
    return error.message.partition(". Parsing the server response")[0]


class TelegramFrontEnd:
    """The Telegram bot as one front end of the process (see bot.lifecycle.serve), polling for updates."""

    name = "Telegram"

    def __init__(self, settings: TelegramSettings, service: DigitService) -> None:
        self.settings = settings
        self.application = build_application(settings)
        self.downloads = TelegramDownloads(self.application.bot, service.recognizer.limits)
        Verdicts(service).add_to(self.application)  # first: /correct must not pass for an unknown command
        Digits(settings, service, self.downloads).add_to(self.application)
        self.application.add_error_handler(answer_error)
        self._close_requested = asyncio.Event()

    async def run(self) -> None:
        await self.downloads.open()
        try:
            await self._start()
            await self._serve_until_closed()
        finally:
            await self._stop()
            await self.downloads.close()

    async def close(self) -> None:
        self._close_requested.set()

    async def _serve_until_closed(self) -> None:
        """Until `close`; a getUpdates loop that gives up (a token revoked in @BotFather) ends the front end too.

        The library stops polling on a refused token and says nothing to its caller, so the process would stay
        up deaf; it names its polling task, which is how we watch it.
        """
        polling = next((task for task in asyncio.all_tasks() if task.get_name() == POLLING_TASK_NAME), None)
        closing = asyncio.create_task(self._close_requested.wait())
        try:
            await asyncio.wait({closing, *([polling] if polling else [])}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            closing.cancel()
        if not self._close_requested.is_set():
            raise StartupFailed(
                "Telegram stopped taking this bot's token while running (reset or revoked in @BotFather?): "
                "put the new one in TELEGRAM_TOKEN and start again"
            )

    async def _start(self) -> None:
        application = self.application
        try:
            await application.initialize()  # getMe: where a refused token or an unreachable API shows
            await application.bot.set_my_commands(MENU)
            await application.start()
            assert application.updater is not None, "ApplicationBuilder makes an Updater unless told not to"
            await application.updater.start_polling(
                timeout=LONG_POLL_SECONDS,
                allowed_updates=[Update.MESSAGE, Update.CALLBACK_QUERY],
                error_callback=log_polling_error,
            )
        except InvalidToken:
            raise StartupFailed(
                "Telegram refused the token: check TELEGRAM_TOKEN (in Telegram, @BotFather → /mybots → API Token)"
            ) from None
        except TelegramError as error:
            raise StartupFailed(
                f"Could not reach Telegram at {self.settings.api_base} ({short_description(error)}): "
                "check the network or TELEGRAM_API_BASE"
            ) from None
        bot = application.bot
        log.info("Connected to Telegram as @%s", bot.username)
        if self.settings.auto_predict_chats and not bot.can_read_all_group_messages:
            log.warning(
                "TELEGRAM_AUTO_PREDICT_CHATS is set, but in privacy mode the bot sees only commands in groups where "
                "it is not an admin: turn privacy off with @BotFather → /setprivacy → Disable"
            )
        # What exists now (modules, the model, the library's state) lives as long as the process; frozen, it stays
        # out of every later full garbage collection, so none stalls the event loop for long.
        gc.freeze()

    async def _stop(self) -> None:
        """Stops polling (its last getUpdates confirms what was fetched), handles what was fetched, lets go."""
        application = self.application
        if application.updater is not None and application.updater.running:
            with contextlib.suppress(InvalidToken):  # its polling gave up on a revoked token: nothing to confirm
                await application.updater.stop()
        if application.running:
            await application.stop()
        await application.shutdown()
