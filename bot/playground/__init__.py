"""The playground: Shiplog against a Discord stand-in in the same process, driven from a web page.

It owns ``shiplog playground`` (``run.py``, ``world.py``, ``page.py``, ``static/``) and the stand-ins it
shares with the test suite: ``fake_discord/`` (Discord's REST API and gateway on loopback, which the
real discord.py client logs into), ``fake_github.py`` (a loopback GitHub for the radar) and
``samples/`` (real GitHub webhook payloads). It writes no table itself: the real bot it runs writes
its own tables, on the playground's own SQLite file, through its services.
"""
