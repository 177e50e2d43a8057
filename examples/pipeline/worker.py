"""Square the jobs of one share: ``python worker.py INDEX WORKERS [SECONDS_PER_JOB]``.

Worker INDEX takes the jobs whose number is INDEX modulo WORKERS. On start it reads
the `jobs` and `results` history, so a worker that was killed and started again
does the jobs it had not finished: nothing the producer got an ack for is lost. A
job may be done twice if the worker died between posting a result and noting it;
the collector counts each job once.
"""

from __future__ import annotations

import contextlib
import sys
import time

from common import JOBS, RESULTS, chats_so_far, endpoint

from zmqchat import BrokerError, ChatEvent, Client


def connect(name: str, patience: float = 60.0) -> Client:
    """Register as ``name``. A killed predecessor holds the name until the broker
    expires its session (its ``timeout``), so keep trying until then."""
    deadline = time.monotonic() + patience
    while True:
        client = Client(name, endpoint(), rooms=[JOBS, RESULTS])
        try:
            client.connect()
            return client
        except BrokerError as exc:
            if exc.code != "name_taken" or time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def main(index: int, workers: int, seconds_per_job: float = 0.0) -> int:
    with contextlib.closing(connect(f"worker-{index}")) as me:
        done = {m.data["job"] for m in chats_so_far(me, RESULTS) if m.data}

        def work(event: ChatEvent) -> None:
            job = (event.data or {}).get("job")
            if isinstance(job, int) and job % workers == index and job not in done:
                time.sleep(seconds_per_job)  # the work itself
                n = event.data["n"]  # type: ignore[index]
                me.send(RESULTS, f"{n}^2 = {n * n}", data={"job": job, "square": n * n})
                done.add(job)

        for message in chats_so_far(me, JOBS):  # posted before we (re)joined
            work(message)
        print(f"worker-{index} caught up", flush=True)
        for event in me.events():  # and from now on
            if isinstance(event, ChatEvent) and event.room == JOBS:
                work(event)
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2]), *map(float, sys.argv[3:4])))
