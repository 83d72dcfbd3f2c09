"""The steering extension of a request over HTTP: header / body / profile / API key → the core's one resolution step
(:func:`steering.policy.resolve_steering`: precedence, bounds, mandatory monitors), and the response field.

Precedence, lowest first: server default items, the profile (header ``X-Steering-Profile`` or body
``steering.profile``), the body ``steering.features``, the ``X-Steering`` header. The core's errors
(:class:`steering.errors.SteeringError`) become 4xx responses in ``server/errors.py``.
"""

from __future__ import annotations

import math

from server.policy import KeyConfig, PolicyConfig
from server.protocol import SteeringBody
from steering import policy as core
from steering.errors import InvalidSteeringSpec
from steering.monitor import MonitorEvent
from steering.policy import MandatoryMonitorOff, RequestSteering, resolve_steering
from steering.runtime import SteeringRuntime
from steering.spec import SpecItem, check_item, parse_spec, parse_value

__all__ = ["CompiledPolicy", "MandatoryMonitorOff", "RequestSteering", "alerts_of", "body_items", "resolve_request",
           "steering_field"]


class CompiledPolicy(core.CompiledPolicy):
    """The core's compiled policy (:class:`steering.policy.CompiledPolicy`), built from the server's policy file."""

    @classmethod
    def from_config(cls, cfg: PolicyConfig, runtime: SteeringRuntime) -> CompiledPolicy:
        s = cfg.steering
        return cls.compile(runtime, defaults=s.defaults, profiles={n: p.steering for n, p in s.profiles.items()},
                           mandatory=s.mandatory_monitors, max_x=s.max_x, pack_max_x=s.pack_max_x,
                           monitors=cfg.monitors)


def body_items(body: SteeringBody | str | None) -> tuple[list[SpecItem], str | None]:
    if body is None:
        return [], None
    if isinstance(body, str):
        return parse_spec(body, param="steering"), None
    items = []
    for n, f in enumerate(body.features):  # built directly from the parsed JSON, with the grammar's checks
        where = f"steering.features[{n}]"
        ref = "".join(f.feature.split())  # whitespace is ignored, as in the header
        shown = ref + (f":{f.op}" if f.op else "") + ("" if f.value is None else f"={f.value}")
        pack, feature = check_item(ref, f.op, f.value is not None, shown=shown, n=n + 1, param=where)
        value, x = None, False
        if f.value is not None:
            try:
                value, x = parse_value(f.value) if isinstance(f.value, str) else (_finite(float(f.value)), False)
            except ValueError as e:
                raise InvalidSteeringSpec(f"{where}.value: {e}", param=f"{where}.value") from None
        items.append(SpecItem(pack, feature, f.op, value, x))
    refs = [i.ref for i in items]
    dup = next((r for r in refs if refs.count(r) > 1), None)
    if dup:
        raise InvalidSteeringSpec(f"steering.features names '{dup}' more than once", param="steering.features")
    return items, body.profile


def _finite(v: float) -> float:
    if not math.isfinite(v):
        raise ValueError("value must be finite")
    return v


def resolve_request(
    runtime: SteeringRuntime,
    policy: core.CompiledPolicy,
    header: str | None,
    profile_header: str | None,
    body: SteeringBody | str | None,
    *,
    key: KeyConfig | None = None,
    admin: bool = False,
) -> RequestSteering:
    """HTTP → :func:`steering.policy.resolve_steering`: the body's items built from its JSON, the ``X-Steering``
    header parsed once, the profile header (wins over the body's ``profile``), the key's pack allow-list."""
    b_items, b_profile = body_items(body)
    h_items = parse_spec(header) if header is not None else []
    return resolve_steering(runtime, policy, body=b_items, header=h_items,
                            profile=profile_header.strip() if profile_header is not None else b_profile,
                            packs=key.packs if key is not None else None, admin=admin,
                            report=body.report if isinstance(body, SteeringBody) else None)


def alerts_of(events: list[MonitorEvent], steering: RequestSteering) -> list[dict]:
    return [{"feature": e.name, "action": steering.actions.get(e.feature, "log"), "token_index": e.token_index,
             "value": round(e.value, 6), "phase": e.phase, "threshold": e.threshold} for e in events]


def steering_field(steering: RequestSteering, monitors: dict | None, alerts: list[dict],
                   positions: dict[str, int] | None = None, tokens: list[dict] | None = None) -> dict:
    out = {"applied": steering.applied(positions), "monitors": monitors or {}, "alerts": alerts}
    if tokens is not None:
        out["tokens"] = tokens
    if any(a["action"] in ("flag", "block") for a in alerts):
        out["flagged"] = True
    notes = steering.annotations(alerts)
    if notes:
        out["annotations"] = notes
    return out
