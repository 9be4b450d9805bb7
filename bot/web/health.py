"""What `/healthz` says about the process beside the database: its gateway shards, and whether it is stopping."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from bot.db.base import utcnow

# A shard may be down this long (a resume, a reconnect after Discord's own restart) and still be healthy.
DISCONNECTED_GRACE = timedelta(minutes=1)
# Logging in counts as healthy this long: identifying is rate-limited by Discord (one shard every five
# seconds per bucket), so a process with many shards takes minutes to connect them all.
LOGIN_GRACE = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class GatewayHealth:
    """The gateway's state: `healthy` decides 200 or 503, `status` and `detail` say why."""

    healthy: bool
    status: str  # "connected", "logging in" or "disconnected"
    detail: str


@dataclass
class GatewayWatch:
    """Follows the gateway's connect and disconnect events, per shard (None for an unsharded client)."""

    clock: Callable[[], datetime] = utcnow
    started_at: datetime = field(init=False)
    up: set[int | None] = field(default_factory=set)
    down_since: dict[int | None, datetime] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.started_at = self.clock()

    def connected(self, shard_id: int | None = None) -> None:
        """Record that a shard is connected (READY or RESUMED)."""
        self.up.add(shard_id)
        self.down_since.pop(shard_id, None)

    def disconnected(self, shard_id: int | None = None) -> None:
        """Record that a shard lost its connection (discord.py reconnects it by itself)."""
        if shard_id in self.up:
            self.up.discard(shard_id)
            self.down_since[shard_id] = self.clock()

    def health(self) -> GatewayHealth:
        """Return the gateway's state now."""
        now = self.clock()
        if self.down_since:
            shard, since = min(self.down_since.items(), key=lambda item: item[1])
            seconds = (now - since).total_seconds()
            name = "the gateway" if shard is None else f"shard {shard}"
            detail = f"{name} disconnected {seconds:.0f} s ago"
            return GatewayHealth(now - since <= DISCONNECTED_GRACE, "disconnected", detail)
        if not self.up:
            waited = now - self.started_at
            if waited > LOGIN_GRACE:
                return GatewayHealth(False, "logging in", f"not connected {waited.total_seconds():.0f} s after start")
            return GatewayHealth(True, "logging in", "connecting to Discord")
        return GatewayHealth(True, "connected", f"{len(self.up)} shard{'s' if len(self.up) != 1 else ''} connected")
