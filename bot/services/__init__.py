"""The domain: Shiplog's rules, one module or package per feature. Services take a sessionmaker (or a
session) and plain values, return dataclasses or rows, raise a `UserError`, and never import discord.

They write every table but `app_state`'s command hash: `guilds` and `members` (settings, departures, and
on first use by any feature), `goals`, `checkins`, `kudos`, `rest_periods`, `activity`, `member_streaks`,
`limit_marks` and `job_runs` (goals and the weekly rhythm), `outbox` (every message owed, through
`outbox`), and by deletion any member's rows (`privacy`) and old deliveries and messages (`retention`).
`github/` and `sharing/` name the tables they write.
"""
