"""The pure protocol core: state machines that take messages and clock ticks and return messages and events.

Nothing here opens a socket, reads the clock or calls the global random module (tests/test_layers.py checks)."""
