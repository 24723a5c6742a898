"""The Discord front end: discord.py over the platform-free core. Importing this package does not import discord.py."""
