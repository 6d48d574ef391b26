"""Hypothesis settings for the property tests, chosen by ``HYPOTHESIS_PROFILE``.

* ``ci`` (default): 200 examples per property, no deadline (shared CI
  machines stall), no example database written into the work tree;
* ``dev``: 2,000 examples per property, for a longer local run::

      HYPOTHESIS_PROFILE=dev uv run pytest tests/unit/test_properties.py

The profile is applied with the ``PROFILE`` decorator rather than loaded
globally, so importing this module changes no other test's settings.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "dev",
    max_examples=2000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)

PROFILE_NAME = os.environ.get("HYPOTHESIS_PROFILE", "ci")
# Any registered profile name works (Hypothesis' own "default" too).
PROFILE: settings = settings.get_profile(PROFILE_NAME)
