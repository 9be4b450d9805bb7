"""GitHub: the API client, webhook intake, events, linking, subscriptions and the radar.

The tables it writes: `webhook_deliveries` (intake), `github_accounts`, `github_link_requests`, `github_profiles`,
`github_merges` and `github_open_prs` (links, history, the radar), `merged_prs` and linked `goals` (events),
`review_nudges` (nudges), `subscriptions` and `milestone_roles`, `app_state` (the radar's cursor), and
`outbox` rows through `bot.services.outbox`.
"""
