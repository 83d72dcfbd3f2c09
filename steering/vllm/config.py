"""What travels with a vLLM request: its steering config inside ``SamplingParams.extra_args``.

Two forms are accepted, both under plain JSON-able values (``extra_args`` crosses process boundaries):

* ``{"steering": "golden-gate/bridge:clamp=2x"}`` — the ``X-Steering`` grammar, resolved in the worker against
  the packs it loaded. This is what a plain ``vllm serve`` user sends as ``vllm_xargs``.
* ``{"steerserve": {"id": ..., "config": [[pack, feature, op, value], ...], "steer_on": [...], "monitor": true}}``
  — already resolved to absolute values by the steerserve API process (policy, profiles and bounds applied
  there); ``id`` keys the monitor readings sent back to that process.

:func:`cache_salt` turns a config into the prefix-cache salt: requests with different steering must never share KV
blocks (a cached steered prefix would otherwise leak into an unsteered request, and the other way round).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from steering.runtime import FeatureRef, ResolvedConfig, SteeringRuntime
from steering.spec import parse_spec, resolve

XARGS_SPEC = "steering"
XARGS_RESOLVED = "steerserve"


@dataclass
class RequestSteeringArgs:
    key: str | None  # the API process's request id (monitor readings are sent keyed by it), None for vllm serve
    config: dict[FeatureRef, tuple[str, float]]
    steer_on: dict[FeatureRef, dict[FeatureRef, tuple[str, float]]] = field(default_factory=dict)
    report: bool = False  # send monitor readings back to the API process

    @property
    def empty(self) -> bool:
        return not self.config


def _rows(items) -> dict[FeatureRef, tuple[str, float]]:
    return {(str(p), str(f)): (str(op), float(v)) for p, f, op, v in items}


def encode_resolved(key: str, config: ResolvedConfig, steer_on: Mapping[FeatureRef, ResolvedConfig],
                    report: bool) -> dict:
    """The ``extra_args`` entry the steerserve API process sends (absolute values, nothing left to resolve)."""
    rows = [[p, f, op, v] for (p, f), (op, v) in sorted(config.items())]
    on = [[p, f, [[q, g, op, v] for (q, g), (op, v) in sorted(extra.items())]] for (p, f), extra in steer_on.items()]
    return {XARGS_RESOLVED: {"id": key, "config": rows, "steer_on": on, "monitor": report}}


def decode(extra_args: Mapping | None, runtime: SteeringRuntime) -> RequestSteeringArgs | None:
    """``extra_args`` → the request's steering, or None when it asks for none. Raises SteeringError on bad specs."""
    if not extra_args:
        return None
    if XARGS_RESOLVED in extra_args:
        d = extra_args[XARGS_RESOLVED]
        steer_on = {(str(p), str(f)): _rows(extra) for p, f, extra in d.get("steer_on", ())}
        return RequestSteeringArgs(d.get("id"), _rows(d.get("config", ())), steer_on, bool(d.get("monitor")))
    spec = extra_args.get(XARGS_SPEC)
    if spec is None:
        return None
    items = parse_spec(str(spec), param="vllm_xargs.steering")
    return RequestSteeringArgs(None, dict(resolve([items], runtime)))


def cache_salt(config: Mapping[FeatureRef, tuple[str, float]], tables: str = "") -> str | None:
    """Prefix-cache salt for a config: None (share with everyone) for no steering or monitors only (monitors do
    not change the stream), else a digest of the edits and of ``tables`` (what identifies the loaded pack
    contents, so a reload that changes a vector also changes the salt)."""
    edits = sorted((p, f, op, round(v, 6)) for (p, f), (op, v) in config.items() if op != "monitor")
    if not edits:
        return None
    return "steer-" + hashlib.sha256(json.dumps([tables, edits]).encode()).hexdigest()[:24]
