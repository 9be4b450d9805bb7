"""Build the bot's workers from the settings: what `shiplog run` hands to the bot."""

from __future__ import annotations

from dataclasses import dataclass

from bot.config import Settings
from bot.workers.base import Worker
from bot.workers.github import GitHubProcessor
from bot.workers.outbox import OutboxSender
from bot.workers.radar import RadarRunner
from bot.workers.scheduler import SchedulerWorker


@dataclass(frozen=True, slots=True)
class Workers:
    """The bot's workers, each reachable by name (tests and the playground drive them)."""

    outbox: OutboxSender
    github: GitHubProcessor
    radar: RadarRunner
    scheduler: SchedulerWorker

    def all(self) -> list[Worker]:
        """Return every worker, in the order they start: the sender first, so that what the
        others queue at their start (a caught-up run, a celebration) is posted at once."""
        return [self.outbox, self.github, self.radar, self.scheduler]


def build_workers(settings: Settings) -> Workers:
    """Build every worker; the bot starts them in setup_hook."""
    scheduler = SchedulerWorker(retention_days=settings.delivery_retention_days)
    return Workers(
        outbox=OutboxSender(),
        github=GitHubProcessor(),
        radar=RadarRunner(poll_seconds=settings.github_poll_seconds, on_pass=scheduler.nudge_soon),
        scheduler=scheduler,
    )
