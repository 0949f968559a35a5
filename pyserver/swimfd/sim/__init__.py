"""The deterministic discrete-event simulator: engine, network model, metrics and the README table."""
