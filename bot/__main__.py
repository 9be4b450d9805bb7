"""`python -m bot ARGS`: exactly `shiplog ARGS` (the Docker image runs `python -m bot`, that is `shiplog run`)."""

from bot.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
