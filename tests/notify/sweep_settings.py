"""Settings for the sweep processes the concurrency tests start: the test
settings with small batches, so that two workers interleave their claims."""

from tests.settings import *  # noqa: F403

TIDSNOK_SWEEP_BATCH = 5
