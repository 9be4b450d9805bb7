"""Real `shiplog` processes for the tests, with discord.py pointed at a fake Discord on loopback.

`python -m tests.shiplog_process run` is the `shiplog` command itself (bot.cli.main), except that
discord.py's REST base and gateway address come from SHIPLOG_TEST_DISCORD_URL, the address of a
`bot.playground.fake_discord.FakeDiscord` served by the test process (or of a closed port: Discord
unreachable). Nothing else differs: signals, migrations, the web server and the exit code are the
real ones.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
URL_VARIABLE = "SHIPLOG_TEST_DISCORD_URL"


def free_port() -> int:
    """Return a loopback port nobody listens on (closed again at once)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def environment(**env: str) -> dict[str, str]:
    """Return the environment of a child process: this one's without Shiplog's settings, plus `env`."""
    keep = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DISCORD_TOKEN", "DATABASE_URL", "DEV_GUILD_ID", "HTTP_PORT", "HTTP_HOST", URL_VARIABLE}
    }
    return keep | {"PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"} | env


# Runs the command as PID 1 of a new PID namespace, as in a container: the kernel then drops every
# signal the process has no handler for, SIGTERM included (pid_namespaces(7)). Needs root.
AS_PID_ONE = ["unshare", "--pid", "--fork", "--kill-child"]


class ShiplogProcess:
    """One `shiplog` command running in the background; its output goes to a file the test can read."""

    def __init__(self, args: list[str], cwd: Path, *, pid_one: bool = False, **env: str) -> None:
        self.log_path = cwd / f"shiplog-{args[0]}-{time.monotonic_ns()}.log"
        self._log = self.log_path.open("w")
        self.pid_one = pid_one
        self.proc = subprocess.Popen(  # noqa: S603
            [*(AS_PID_ONE if pid_one else []), sys.executable, "-m", "tests.shiplog_process", *args],
            cwd=cwd,
            env=environment(**env),
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def _shiplog_pid(self) -> int:
        """Return the host pid of the shiplog process (under unshare, its only child)."""
        if not self.pid_one:
            return self.proc.pid
        deadline = time.monotonic() + 10
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        while not (children := path.read_text().split()):
            if time.monotonic() > deadline:
                raise AssertionError("unshare started no child")
            time.sleep(0.01)
        return int(children[0])

    @property
    def output(self) -> str:
        return self.log_path.read_text()

    async def wait_for_line(self, text: str, timeout: float = 30.0) -> None:
        """Wait until the process has logged `text`; fail with its output if it ends or is slow."""
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if self.proc.poll() is not None:
                raise AssertionError(f"shiplog exited with {self.proc.returncode} before {text!r}:\n{self.output}")
            if time.monotonic() > deadline:
                raise AssertionError(f"shiplog did not log {text!r} within {timeout} s:\n{self.output}")
            await asyncio.sleep(0.05)

    async def wait_healthy(self, port: int, timeout: float = 30.0) -> dict:
        """Wait until GET /healthz answers 200 on `port`; return its body."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while True:
                if self.proc.poll() is not None:
                    raise AssertionError(f"shiplog exited with {self.proc.returncode}:\n{self.output}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                        if response.status == 200:
                            return await response.json()
                if time.monotonic() > deadline:
                    raise AssertionError(f"/healthz never answered 200 within {timeout} s:\n{self.output}")
                await asyncio.sleep(0.05)

    def signal(self, sig: signal.Signals = signal.SIGTERM) -> None:
        os.kill(self._shiplog_pid(), sig)

    async def wait(self, timeout: float = 30.0) -> int:
        """Wait for the process to end without blocking the event loop (the fake Discord runs in it)."""
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"shiplog still running after {timeout} s:\n{self.output}")
            await asyncio.sleep(0.05)
        self._log.close()
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


@contextlib.contextmanager
def shiplog_process(args: list[str], cwd: Path, *, pid_one: bool = False, **env: str) -> Iterator[ShiplogProcess]:
    """Start `shiplog ARGS` (as PID 1 of its own PID namespace with `pid_one`); it is gone when the block ends."""
    process = ShiplogProcess(args, cwd, pid_one=pid_one, **env)
    try:
        yield process
    finally:
        process.kill()


def _point_discord_py_at(base_url: str) -> None:
    import discord.gateway
    import discord.http
    import yarl

    discord.http.Route.BASE = f"{base_url}/api/v10"
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(base_url.replace("http://", "ws://") + "/gateway")


if __name__ == "__main__":
    if URL_VARIABLE in os.environ:
        _point_discord_py_at(os.environ[URL_VARIABLE])
    from bot.cli import main

    raise SystemExit(main(sys.argv[1:]))
