"""Long-running work: the outbox sender, the webhook processor, the radar runner and the scheduler.

Built at the one wiring point (bot/cli.py, through wiring.build_workers), handed to the bot,
started in its setup_hook and drained on stop through one protocol (base.Worker). Cogs start no
loop or task of their own. Workers write their tables through the services, never Discord directly:
the sender marks `outbox` rows (claims, leases, sent, failed); the processor `webhook_deliveries`;
the radar `github_profiles`, `github_merges`, `merged_prs`, `github_open_prs` and its `app_state`;
the scheduler `job_runs`, `review_nudges` and, for retention, prunes `outbox` and
`webhook_deliveries`. What any of them owes members is queued in `outbox`.
"""
