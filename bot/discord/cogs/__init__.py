"""The Discord bot's cogs, one per concern; each module ends with the `setup` discord.py loads it by."""
