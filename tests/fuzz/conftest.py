"""Property-based fuzzing (hypothesis). CI runs a bounded budget; a hand run raises it:

    SMSQ_FUZZ_EXAMPLES=2000 .venv/bin/pytest tests/fuzz -q       # about a few minutes

``SMSQ_FUZZ_EXAMPLES`` sets max_examples for every property (default 40); failures found are kept
in hypothesis' example database (.hypothesis/, not committed) and replayed first next time."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("SMSQ_FUZZ_EXAMPLES", "40"))

settings.register_profile(
    "smsq",
    max_examples=EXAMPLES,
    deadline=None,  # a 2-core machine shared with other work: time per example is not the property
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
    ],
    print_blob=True,
)
settings.load_profile("smsq")
