"""What travels with a vLLM request: its steering config inside ``SamplingParams.extra_args``.

Two forms are accepted, both under plain JSON-able values (``extra_args`` crosses process boundaries):

* ``{"steering": "golden-gate/bridge:clamp=2x"}`` — the ``X-Steering`` grammar, resolved in the worker against
  the packs it loaded. This is what a plain ``vllm serve`` user sends as ``vllm_xargs``.
* ``{"steerserve": {"id": ..., "config": [[pack, feature, op, value], ...], "steer_on": [...], "monitor": true,
  "mac": ...}}`` — already resolved to absolute values by the steerserve API process (policy, profiles and bounds
  applied there); ``id`` keys the monitor readings sent back to that process. This form skips every check the API
  process made, so it is **signed**: ``mac`` is an HMAC-SHA256 of the rest under a secret the API process makes at
  start-up and hands to the processes vLLM spawns (``STEERSERVE_VLLM_SECRET``). A plain ``vllm serve`` has no
  secret: there the form is refused with a 400, so a client can neither crash the engine with a malformed config
  nor steer past validation with a forged one.

Everything here treats ``extra_args`` as hostile input: any shape that is not exactly what it expects raises a
:class:`~steering.errors.SteeringError` (a 400 in the API process), never another exception.

:func:`cache_salt` turns a config into the prefix-cache salt: requests with different steering must never share KV
blocks (a cached steered prefix would otherwise leak into an unsteered request, and the other way round).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from steering.config import FeatureRef, ResolvedConfig, edited
from steering.errors import InvalidSteeringSpec
from steering.runtime import SteeringRuntime
from steering.spec import MAX_ITEMS, parse_spec, resolve

XARGS_SPEC = "steering"
XARGS_RESOLVED = "steerserve"
SECRET_ENV = "STEERSERVE_VLLM_SECRET"
RESOLVED_OPS = ("add", "clamp", "monitor")
MAX_KEY_CHARS = 256
_RESOLVED_PARAM = f"vllm_xargs.{XARGS_RESOLVED}"


@dataclass
class RequestSteeringArgs:
    key: str | None  # the API process's request id (monitor readings are sent keyed by it), None for vllm serve
    config: dict[FeatureRef, tuple[str, float]]
    steer_on: dict[FeatureRef, dict[FeatureRef, tuple[str, float]]] = field(default_factory=dict)
    report: bool = False  # send monitor readings back to the API process

    @property
    def empty(self) -> bool:
        return not self.config


def _bad(why: str, param: str = _RESOLVED_PARAM) -> InvalidSteeringSpec:
    return InvalidSteeringSpec(f"{param}: {why}", param=param)


def process_secret() -> str | None:
    """The signing secret of this process tree (set by the steerserve API process; absent under ``vllm serve``)."""
    return os.environ.get(SECRET_ENV) or None


def _mac(payload: Mapping, secret: str) -> str:
    body = json.dumps({k: v for k, v in payload.items() if k != "mac"}, sort_keys=True, separators=(",", ":"))
    return hmac.new(secret.encode(), body.encode(), hashlib.sha256).hexdigest()


def _rows(items, runtime: SteeringRuntime) -> dict[FeatureRef, tuple[str, float]]:
    """Validate ``[[pack, feature, op, value], ...]`` against the loaded packs."""
    if not isinstance(items, list) or len(items) > MAX_ITEMS * 8:
        raise _bad("'config' must be a list of [pack, feature, op, value]")
    out: dict[FeatureRef, tuple[str, float]] = {}
    for it in items:
        if not (isinstance(it, list | tuple) and len(it) == 4 and all(isinstance(x, str) for x in it[:3])
                and isinstance(it[3], int | float) and not isinstance(it[3], bool)):
            raise _bad("each config entry must be [pack, feature, op, number]")
        p, f, op, v = it
        if op not in RESOLVED_OPS:
            raise _bad(f"op must be one of {', '.join(RESOLVED_OPS)}")
        if not (math.isfinite(v) or (op == "monitor" and v == math.inf)):  # a monitor with no threshold: +inf
            raise _bad("values must be finite")
        runtime.column((p, f))  # raises unknown pack / feature
        out[(p, f)] = (op, float(v))
    return out


def encode_resolved(key: str, config: ResolvedConfig, steer_on: Mapping[FeatureRef, ResolvedConfig],
                    report: bool, secret: str) -> dict:
    """The ``extra_args`` entry the steerserve API process sends (absolute values, nothing left to resolve),
    signed with ``secret``."""
    rows = [[p, f, op, v] for (p, f), (op, v) in sorted(config.items())]
    on = [[p, f, [[q, g, op, v] for (q, g), (op, v) in sorted(extra.items())]] for (p, f), extra in steer_on.items()]
    payload = {"id": key, "config": rows, "steer_on": on, "monitor": report}
    return {XARGS_RESOLVED: {**payload, "mac": _mac(payload, secret)}}


def verify_resolved(d, secret: str | None) -> None:
    """Raise unless ``d`` is a resolved config signed with ``secret`` (the API process's own check: the signer
    resolved it against the packs already; the worker checks the contents against its tables)."""
    if secret is None:
        raise _bad(f"'{XARGS_RESOLVED}' is reserved for the steerserve API server; "
                   f"use vllm_xargs.{XARGS_SPEC} with the X-Steering grammar")
    if not isinstance(d, dict) or not isinstance(d.get("mac"), str):
        raise _bad("not a signed steerserve config")
    try:
        mac = _mac(d, secret)
    except (TypeError, ValueError):  # not JSON-able (cannot have been signed)
        raise _bad("not a signed steerserve config") from None
    if not hmac.compare_digest(mac, d["mac"]):
        raise _bad("signature does not match (this form is only accepted from the steerserve API server)")


def _decode_resolved(d, runtime: SteeringRuntime, secret: str | None) -> RequestSteeringArgs:
    verify_resolved(d, secret)
    key, on = d.get("id"), d.get("steer_on", [])
    if not (isinstance(key, str) and len(key) <= MAX_KEY_CHARS) or not isinstance(on, list):
        raise _bad("malformed signed config")
    steer_on = {}
    for entry in on:
        if not (isinstance(entry, list | tuple) and len(entry) == 3 and isinstance(entry[0], str)
                and isinstance(entry[1], str)):
            raise _bad("'steer_on' entries must be [pack, feature, config]")
        steer_on[(entry[0], entry[1])] = _rows(entry[2], runtime)
    return RequestSteeringArgs(key, _rows(d.get("config", []), runtime), steer_on, d.get("monitor") is True)


def decode(extra_args: Mapping | None, runtime: SteeringRuntime, *,
           secret: str | None = None) -> RequestSteeringArgs | None:
    """``extra_args`` → the request's steering, or None when it asks for none. Raises SteeringError on anything
    malformed, unknown, out of bounds or (for the resolved form) not signed with ``secret``."""
    if extra_args is None:
        return None
    if not isinstance(extra_args, Mapping):
        raise _bad("must be an object", param="vllm_xargs")
    if XARGS_RESOLVED in extra_args:
        return _decode_resolved(extra_args[XARGS_RESOLVED], runtime, secret)
    spec = extra_args.get(XARGS_SPEC)
    if spec is None:
        return None
    param = f"vllm_xargs.{XARGS_SPEC}"
    if not isinstance(spec, str):
        raise _bad("must be a string in the X-Steering grammar, e.g. 'golden-gate/bridge:add=1.5x'", param=param)
    items = parse_spec(spec, param=param)
    return RequestSteeringArgs(None, dict(resolve([items], runtime)))


def cache_salt(config: Mapping[FeatureRef, tuple[str, float]], tables: str = "") -> str | None:
    """Prefix-cache salt for a config: None (share with everyone) for no steering or monitors only (monitors do
    not change the stream), else a digest of the edits and of ``tables`` (what identifies the loaded pack
    contents, so a reload that changes a vector also changes the salt)."""
    edits = sorted((p, f, op, round(v, 6)) for (p, f), (op, v) in edited(config).items())
    if not edits:
        return None
    return "steer-" + hashlib.sha256(json.dumps([tables, edits]).encode()).hexdigest()[:24]
