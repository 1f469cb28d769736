"""Activity timeouts and retry policies shared by the dispute workflow's modules."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

# Database writes and connector reads retry until they succeed: an outage delays a dispute,
# it never fails it. Validation refusals are non-retryable ApplicationErrors.
RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), backoff_coefficient=2.0,
                    maximum_interval=timedelta(seconds=30))
ACTIVITY_TIMEOUT = timedelta(seconds=30)
# Interactive steps (an analyst waiting on a submission) give up sooner and say so.
INTERACTIVE_RETRY = RetryPolicy(initial_interval=timedelta(milliseconds=200),
                                maximum_interval=timedelta(seconds=2), maximum_attempts=5)
