"""The benchmark's no-op job, loaded by the worker with `--include bench_noop`.

A shared task binds to whichever app loads it, so the rendered project stays as shipped; its
name, acks, prefetch and serializer all come from that app's configuration.
"""

from celery import shared_task

NOOP = "bench_noop.noop"


# The benchmark waits for every result, whatever the app's default for results is.
@shared_task(name=NOOP, ignore_result=False)
def noop() -> None:
    """Does nothing: what is measured is the way to the worker and back."""
