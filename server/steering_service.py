"""The steering extension of a request: header / body / profile → one resolved config, and the response field.

Precedence, lowest first: server default items, the profile (header ``X-Steering-Profile`` or body
``steering.profile``), the body ``steering.features``, the ``X-Steering`` header. Later layers win per feature;
``off`` removes a feature an earlier layer turned on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from server.protocol import SteeringBody
from steering.errors import InvalidSteeringSpec
from steering.monitor import MonitorEvent
from steering.runtime import FeatureRef, ResolvedConfig, SteeringRuntime
from steering.spec import SpecItem, parse_item, parse_spec, parse_value, resolve


@dataclass
class Policy:
    """What the operator fixes (filled from the config file; see server/settings.py)."""

    defaults: list[SpecItem] = field(default_factory=list)
    profiles: dict[str, list[SpecItem]] = field(default_factory=dict)
    max_x: float = 100.0


@dataclass
class RequestSteering:
    config: ResolvedConfig
    block_on: frozenset[FeatureRef]
    actions: dict[FeatureRef, str]

    def applied(self) -> list[dict]:
        return [{"feature": f"{p}/{f}", "op": op, "value": v} for (p, f), (op, v) in self.config.items()]

    def applied_header(self) -> str:
        return ", ".join(
            f"{p}/{f}:{op}" + ("" if op == "monitor" else f"={v:.6g}") for (p, f), (op, v) in self.config.items()
        )


def body_items(body: SteeringBody | str | None) -> tuple[list[SpecItem], str | None]:
    if body is None:
        return [], None
    if isinstance(body, str):
        return parse_spec(body, param="steering"), None
    items = []
    for n, f in enumerate(body.features, 1):
        text = f"{f.feature}:{f.op}"
        if f.value is not None:
            if isinstance(f.value, float | int):
                text += f"={f.value!r}" if isinstance(f.value, float) else f"={f.value}"
            else:
                try:
                    parse_value(f.value)
                except ValueError as e:
                    raise InvalidSteeringSpec(f"steering.features[{n - 1}].value: {e}",
                                              param=f"steering.features[{n - 1}].value") from None
                text += f"={f.value}"
        items.append(parse_item(text, n, param=f"steering.features[{n - 1}]"))
    refs = [i.ref for i in items]
    dup = next((r for r in refs if refs.count(r) > 1), None)
    if dup:
        raise InvalidSteeringSpec(f"steering.features names '{dup}' more than once", param="steering.features")
    return items, body.profile


def resolve_request(
    runtime: SteeringRuntime,
    policy: Policy,
    header: str | None,
    profile_header: str | None,
    body: SteeringBody | str | None,
) -> RequestSteering:
    b_items, b_profile = body_items(body)
    h_items = parse_spec(header) if header is not None else []
    profile_name = profile_header.strip() if profile_header else b_profile
    layers = [policy.defaults]
    if profile_name:
        if profile_name not in policy.profiles:
            raise InvalidSteeringSpec(f"unknown steering profile '{profile_name[:64]}'",
                                      param="X-Steering-Profile", code="unknown_steering_profile")
        layers.append(policy.profiles[profile_name])
    layers += [b_items, h_items]
    config = resolve(layers, runtime, max_x=policy.max_x)
    actions = {}
    for ref, (op, _) in config.items():
        if op == "monitor":
            f = runtime.packs[ref[0]].manifest.feature(ref[1])
            actions[ref] = f.action
    block_on = frozenset(r for r, a in actions.items() if a == "block")
    return RequestSteering(config, block_on, actions)


def alerts_of(events: list[MonitorEvent], steering: RequestSteering) -> list[dict]:
    return [{"feature": e.name, "action": steering.actions.get(e.feature, "log"), "token_index": e.token_index,
             "value": round(e.value, 6)} for e in events]


def steering_field(steering: RequestSteering, monitors: dict | None, alerts: list[dict]) -> dict:
    return {"applied": steering.applied(), "monitors": monitors or {}, "alerts": alerts}
