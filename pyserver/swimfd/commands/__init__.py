"""The command-line entry points: `python -m swimfd COMMAND`, one module per command, named for it."""
