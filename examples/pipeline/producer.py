"""Post COUNT jobs into the `jobs` room, then wait for the collector's private
message saying all results are in: ``python producer.py COUNT``."""

from __future__ import annotations

import sys

from common import JOBS, endpoint

from zmqchat import Client, PmEvent


def main(count: int) -> int:
    with Client("producer", endpoint(), rooms=[JOBS]) as me:
        for job in range(count):
            # send() returns once the broker has stored the job: from here on it
            # survives any crash of a worker (or of the broker).
            me.send(JOBS, f"job {job}", data={"job": job, "n": job})
        print(f"posted {count} jobs", flush=True)
        for event in me.events():
            if isinstance(event, PmEvent) and event.sender == "collector":
                print(f"collector says: {event.text}", flush=True)
                return 0
    return 1


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1])))
