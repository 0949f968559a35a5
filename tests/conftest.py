"""Hypothesis profiles: a short run in every `make test`, a long one in `make fuzz`.

`pytest --hypothesis-profile=fuzz -m fuzz` (what `make fuzz` runs) tries many more inputs; the
default profile keeps the property tests to a few seconds.
"""

from __future__ import annotations

from hypothesis import HealthCheck, settings

settings.register_profile(
    "default", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.register_profile(
    "fuzz", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile("default")
