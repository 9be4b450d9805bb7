"""Long-running work: the outbox senders, the webhook processor, the radar and the scheduler.

Built at the one wiring point (bot/cli.py), handed to the bot, started in its setup_hook and drained
on stop through one protocol (bot/workers/base.py). Workers write the outbox (claims, leases, sent
and failed marks), webhook_deliveries, job_runs, review_nudges, app_state (the radar's state) and
prune old delivery bodies and sent messages (retention); what they post goes through the outbox.
"""
