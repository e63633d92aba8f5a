"""Hypothesis profiles for the unit tests' property-based fuzzing (DESIGN.md §3).

`ci` (the default) is bounded so the whole fuzz set stays around a minute on a 2-core
machine; `long` is for a by-hand hunt: `HYPOTHESIS_PROFILE=long pytest tests/unit/...`.
Runs stay random (not derandomized); a failure prints the seed and the blob to replay it.
"""

import os
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", max_examples=200, deadline=None, print_blob=True)
settings.register_profile("long", max_examples=20_000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(items: list) -> None:
    """The long profile runs for minutes: lift pytest-timeout's 120 s limit for it."""
    if settings.get_current_profile_name() != "long":
        return
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.path).parents:
            item.add_marker(pytest.mark.timeout(0))
