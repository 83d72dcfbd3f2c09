"""``steer keys hash``: the digest of an API key, as the policy file stores it.

``server.policy`` is imported inside the command, not at the top, so ``steer --help`` starts without torch."""

from __future__ import annotations

import argparse
import sys

from server.cli.common import Group


def register(sub) -> None:
    g = Group(sub, "keys", "API key helpers", dest="kcmd")
    kh = g.command("hash", "print the sha256 digest to put in the policy file (key from stdin if omitted)",
                   ["steer keys hash sk-my-secret-key",
                    "read -rs KEY && echo \"$KEY\" | steer keys hash   # keeps the key out of shell history"],
                   cmd_keys_hash)
    kh.add_argument("key", nargs="?")


def cmd_keys_hash(a: argparse.Namespace) -> int:
    from server.policy import hash_key

    key = a.key if a.key is not None else sys.stdin.readline().strip()
    print(hash_key(key))
    return 0
