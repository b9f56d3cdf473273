"""`python -m bench.peer [--seconds 1.5] [--rounds 6]`: see bench/peer/__init__.py."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from bench.peer.peers import PEER_NAME, PeerRefused, Skip, find_peer


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.5, help="length of one turn")
    parser.add_argument("--rounds", type=int, default=6, help="turns of each server")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds, not counted")
    parser.add_argument("--no-save", action="store_true", help="leave bench/results.json")
    parser.add_argument("--server-log", help="where `cloudnexus serve` writes its log")
    args = parser.parse_args(argv)
    try:
        peer = find_peer(os.environ)
    except Skip as why:
        print(f"side by side with {PEER_NAME} skipped: {why}")
        return 0
    except PeerRefused as why:
        print(f"side by side with {PEER_NAME} not run: {why}", file=sys.stderr)
        return 1

    from bench.peer.measure import memory_rows, save, side_by_side
    from bench.peer.targets import Supabase, cloudnexus_server
    from bench.report import show

    started, load = datetime.now(UTC), os.getloadavg()
    print(f"{PEER_NAME} {peer.version} ({peer.commit}) at {peer.url}; "
          f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    theirs = Supabase(peer)
    theirs.create_bucket()
    try:
        with cloudnexus_server(args.server_log) as ours:
            rows = asyncio.run(side_by_side(ours, theirs, seconds=args.seconds,
                                            rounds=args.rounds, warmup=args.warmup))
            rows += memory_rows(ours.pid, peer.pid)
    finally:
        theirs.delete_bucket()
    if peer.pid is None:
        print(f"memory not compared: {peer.memory_note}")
    show(rows)
    end_load = os.getloadavg()
    targeted = [row for row in rows if row.target != "(reported)"]
    print(f"{sum(row.met for row in targeted)} of {len(targeted)} targets met; load average at the "
          f"end {end_load[0]:.2f} {end_load[1]:.2f} {end_load[2]:.2f}")
    if not args.no_save:
        save(rows, peer, started=started, load=(*load, *end_load))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
