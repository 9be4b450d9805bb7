"""The bot's web server (aiohttp): the app and its server, /healthz, the GitHub webhook intake, members'
pages and the servers' community pages.

Writes one table, `webhook_deliveries`: the intake stores each signed delivery there (through
`bot.services.github.webhooks.DeliveryWriter`) for the processor to read. The pages and /healthz
only read. What the routes draw comes from `bot.images`; what a page shows, from
`bot.services.sharing.pages` and `bot.services.sharing.community`.
"""

from bot.web.app import PortInUse, WebServer, build_app

__all__ = ["PortInUse", "WebServer", "build_app"]
