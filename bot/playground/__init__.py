"""The playground: Shiplog against a Discord stand-in in the same process, driven from a web page.

`fake_discord.py` is the stand-in (Discord's REST API and gateway on loopback, which the real
discord.py client logs into), `fake_github.py` a loopback GitHub for the radar, and `samples/` real
GitHub webhook payloads. The test suite drives the bot through the same modules.

It writes no table itself: the Shiplog it runs writes its own database (a temporary file) as in production.
"""
