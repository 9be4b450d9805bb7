"""The fake's REST API (``/api/v10``): routing and one module of handlers per resource.

Each module holds a mixin of :class:`~bot.playground.fake_discord.server.FakeDiscord`; it writes no table.
"""
