"""Owner-only upkeep of the Discord bot: publishing its slash commands everywhere."""

from __future__ import annotations

from discord.ext import commands

from bot.discord.client import DigitBot
from bot.discord.rendering import send_replies
from bot.replies import Reply


class Admin(commands.Cog):
    def __init__(self, bot: DigitBot) -> None:
        self.bot = bot

    @commands.command(hidden=True)
    @commands.is_owner()
    async def sync(self, ctx: commands.Context[DigitBot]) -> None:
        """Sync slash commands globally: rarely, as Discord rate-limits it and takes up to an hour to show them."""
        synced = await self.bot.tree.sync()
        headline = f"Synced {len(synced)} commands to every server."
        await send_replies(ctx, [Reply(headline=headline, details=("Discord can take up to an hour to show them.",))])


async def setup(bot: DigitBot) -> None:
    await bot.add_cog(Admin(bot))
