"""The weekly rhythm of a server: check-ins, rests and kudos (`checkins`), the activity that counts
for streaks (`activity`), streaks (`streaks`), and the weekly ping, digest and streak DMs: when they
go out (`when`), what admins and members set (`settings`), the ping's text (`ping`), the digest's
facts (`digest`), the exactly-once runs (`runs`) and the streak-at-risk DMs (`streak_dms`).

Tables it writes: `checkins`, `rest_periods`, `kudos`, `activity`, `member_streaks`, `job_runs`,
the rhythm's columns of `guilds` (schedule, cadence, ping settings) and `members` (reminders,
streak DMs), and, through the services that own them, `outbox` rows, `limit_marks` (check-in
cooldowns are pruned) and `review_nudges` (a run's ping marks them). Nothing here imports discord.
"""
