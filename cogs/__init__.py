"""The Discord surface: one extension per feature (`/goal` in `goals.py`, `/settings` in `settings.py`, ...),
loaded by the bot; `_`-prefixed modules (`_format`, `_share`) are helpers the extensions share.

Cogs parse interactions, call `bot.services` and draw the answers and the outbox's messages. They write no
table themselves: every write goes through a service.
"""
