"""The Telegram front end: python-telegram-bot polling the Bot API, over the same DigitService as every front end."""
