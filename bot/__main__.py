"""`python -m bot`: the same as `shiplog run`."""

from bot.cli import main

if __name__ == "__main__":
    raise SystemExit(main(["run"]))
