"""Init container: the policy ConfigMap + the key Secret -> the policy file the server reads.

    python render_policy.py POLICY_IN KEYS_DIR POLICY_OUT

Every key in POLICY_IN without a ``sha256`` gets the sha256 of the Secret file ``KEYS_DIR/<role>.<name>`` (role
``admin`` or ``inference``; surrounding whitespace stripped, as a client's ``Authorization: Bearer`` value is). The
result is validated with the server's own schema, so a bad policy fails here, with a message, before the server
starts. Key material is never printed.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import yaml


def render(policy_in: Path, keys_dir: Path) -> dict:
    raw = yaml.safe_load(policy_in.read_text(encoding="utf-8")) or {}
    missing = []
    for role in ("admin", "inference"):
        for key in (raw.get("keys") or {}).get(role) or []:
            if key.get("sha256"):
                continue
            secret = keys_dir / f"{role}.{key.get('name')}"
            value = secret.read_text(encoding="utf-8").strip() if secret.is_file() else ""
            if not value:
                missing.append(secret.name)
                continue
            key["sha256"] = hashlib.sha256(value.encode()).hexdigest()
    if missing:
        raise SystemExit(f"render-policy: no key material for {', '.join(missing)}: add these entries to the "
                         f"Secret mounted at {keys_dir} (deploy/README.md), or give the key's sha256 in the policy")
    return raw


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        raise SystemExit(__doc__)
    policy_in, keys_dir, policy_out = map(Path, argv)
    raw = render(policy_in, keys_dir)
    out = yaml.safe_dump(raw, sort_keys=False)
    try:  # the server's schema, when this runs in the steerserve image
        from server.policy import load_policy
    except ImportError:
        load_policy = None
    policy_out.parent.mkdir(parents=True, exist_ok=True)
    policy_out.write_text(out, encoding="utf-8")
    if load_policy is not None:
        try:
            load_policy(policy_out)
        except ValueError as e:
            policy_out.unlink()
            raise SystemExit(f"render-policy: {e}") from None
    roles = (raw.get("keys") or {})
    print(f"render-policy: wrote {policy_out} ({len(roles.get('admin') or [])} admin, "
          f"{len(roles.get('inference') or [])} inference keys)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
