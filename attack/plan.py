"""How big each attack is: the full form (``make attack``) and the short one (CI)."""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class Plan:
    idle: float = 5.0  # seconds of the bystander alone, before each attack
    seconds: float = 30.0  # seconds of each attack, once its set-up is done
    setup_timeout: float = 60.0  # an attack that is not armed by then runs unarmed
    period: float = 0.02  # the bystander chats this often
    probe_every: float = 0.5  # a newcomer tries to register this often
    stuck_subs: int = 2
    flood_sessions: int = 6  # the busy rooms' chatters (16 KiB events), 190/s each
    idle_connections: int = 1100
    rooms: int = 20_000
    sessions_per_address: int = 40
    # About 30 s at 90% of the default address_rate_limit from each address.
    fuzz_frames: int = 108_000
    fuzz_addresses: int = 4
    fuzz_pub_messages: int = 5_000
    fuzz_seed: int | None = None  # the fuzz frames' random choices, to replay a run
    nofile: int = 1024  # the broker's open-file limit, soft and hard
    # The attacker's niceness (os.nice): on this 2-core machine it shares the CPU with
    # the broker and the bystander, where a LAN attacker has a host of its own.
    attacker_nice: int = 10


FULL = Plan()
QUICK = Plan(
    idle=1.5,
    seconds=4.0,
    setup_timeout=20.0,
    stuck_subs=1,
    flood_sessions=2,
    rooms=2_000,
    sessions_per_address=40,
    fuzz_frames=5_000,
    fuzz_addresses=2,
    fuzz_pub_messages=300,
)
