"""The scheduler's jobs: each a function `(database, settings, now) -> JobResult` that
derives its work from the database and the clock, and enqueues through the outbox
with idempotency keys, so a run repeated sends nothing twice."""
