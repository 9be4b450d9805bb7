"""GitHub: what Shiplog reads from GitHub, and what it means for the servers.

It owns the API client (`api`, with `ratelimits` and `errors`), the webhook intake (`webhooks`)
and its processing (`events`), the radar's searches (`radar`), the one `Merge` value that both
turn into a celebration (`merges`), linked accounts (`links`, and `device`: linking in one step
with GitHub's device flow, which stores nothing of its own), each author's history of merges
(`history`), relays to channels (`subscriptions`) and review nudges (`nudges`).

Tables it writes (bot/db/models.py): webhook_deliveries, github_accounts, github_link_requests,
github_profiles, github_merges, github_open_prs, merged_prs, subscriptions, milestone_roles,
review_nudges and app_state (the radar's state); through other services, goals (finished by a
merge), activity and outbox.
"""
