"""The steering extension of a request: header / body / profile → one resolved config, and the response field.

Precedence, lowest first: server default items, the profile (header ``X-Steering-Profile`` or body
``steering.profile``), the body ``steering.features``, the ``X-Steering`` header. Later layers win per feature;
``off`` removes a feature an earlier layer turned on. Then policy: packs the key may use, value bounds, and
mandatory monitors, which must still be monitored after the merge (else 403).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from server.policy import KeyConfig, PolicyConfig
from server.protocol import SteeringBody
from steering.errors import InvalidSteeringSpec, NotPermitted
from steering.monitor import MonitorEvent
from steering.runtime import FeatureRef, ResolvedConfig, SteeringRuntime
from steering.spec import SpecItem, check_item, expand_all, merge, parse_spec, parse_value, resolve


class MandatoryMonitorOff(NotPermitted):
    """A request tried to switch off (or override) a mandatory monitor. Counted and alerted by the caller."""

    def __init__(self, message: str, feature: str) -> None:
        super().__init__(message, param="steering")
        self.feature = feature


@dataclass
class CompiledPolicy:
    """The policy in force, compiled against the loaded packs (rebuilt on pack reload)."""

    defaults: list[SpecItem] = field(default_factory=list)
    profiles: dict[str, list[SpecItem]] = field(default_factory=dict)
    mandatory: set[FeatureRef] = field(default_factory=set)
    max_x: float = 100.0
    pack_max_x: dict[str, float] = field(default_factory=dict)
    actions: dict[FeatureRef, str] = field(default_factory=dict)
    counter_steer: dict[FeatureRef, list[SpecItem]] = field(default_factory=dict)
    thresholds: dict[FeatureRef, float] = field(default_factory=dict)  # operator overrides of monitor thresholds
    notes: dict[FeatureRef, str] = field(default_factory=dict)  # action annotate: the operator's text
    disabled: set[FeatureRef] = field(default_factory=set)  # monitors an admin switched off at run time

    @classmethod
    def from_config(cls, cfg: PolicyConfig, runtime: SteeringRuntime) -> CompiledPolicy:
        s = cfg.steering
        p = cls(
            defaults=parse_spec(s.defaults, param="steering.defaults"),
            profiles={name: parse_spec(pr.steering, param=f"profiles.{name}") for name, pr in s.profiles.items()},
            mandatory={FeatureRef.parse(r) for r in s.mandatory_monitors},
            max_x=s.max_x,
            pack_max_x=dict(s.pack_max_x),
        )
        for ref_text, m in cfg.monitors.items():
            ref = FeatureRef.parse(ref_text)
            if m.action:
                p.actions[ref] = m.action
            if m.note:
                p.notes[ref] = m.note
            if m.steer:
                p.counter_steer[ref] = parse_spec(m.steer, param=f"monitors.{ref_text}.steer")
            if m.threshold is not None:
                runtime.column(ref)  # must name a loaded feature
                p.thresholds[ref] = m.threshold
        for ref in p.mandatory:
            runtime.column(ref)  # a mandatory monitor must name a loaded feature: fail at start-up, not per request
        resolve([p.defaults, *p.profiles.values(), *p.counter_steer.values()], runtime, max_x=p.max_x)
        return p

    def keep_switches(self, old: CompiledPolicy) -> CompiledPolicy:
        """Carry run-time monitor switches over to a recompiled policy (pack reload)."""
        self.disabled = old.disabled & self.mandatory
        return self

    def action(self, runtime: SteeringRuntime, ref: FeatureRef) -> str:
        return self.actions.get(ref) or runtime.packs[ref[0]].manifest.feature(ref[1]).action

    def note(self, runtime: SteeringRuntime, ref: FeatureRef) -> str:
        """What action ``annotate`` appends: the operator's ``note``, else one naming the feature's label."""
        if ref in self.notes:
            return self.notes[ref]
        label = runtime.packs[ref[0]].manifest.feature(ref[1]).label or str(FeatureRef(*ref))
        return f"Note: an automated monitor flagged this reply ({label})."


@dataclass
class RequestSteering:
    config: ResolvedConfig
    block_on: frozenset[FeatureRef]
    actions: dict[FeatureRef, str]
    steer_on: dict[FeatureRef, ResolvedConfig] = field(default_factory=dict)
    notes: dict[FeatureRef, str] = field(default_factory=dict)  # monitors with action annotate → text to append
    report: str | None = None  # "tokens": per-token readings asked for (body steering.report)

    def annotations(self, alerts: list[dict]) -> list[dict]:
        """``steering.annotations[]``: one per annotate monitor that fired, in firing order."""
        seen: dict[str, str] = {}
        for a in alerts:
            ref = FeatureRef.parse(a["feature"])
            if a["action"] == "annotate" and ref in self.notes:
                seen.setdefault(a["feature"], self.notes[ref])
        return [{"feature": f, "note": n} for f, n in seen.items()]

    def applied(self, positions: dict[str, int] | None = None) -> list[dict]:
        """``steering.applied[]``: each feature's op and absolute value, and ``positions``, the number of token
        positions the op edited for it (the engine's count; 0 for monitors)."""
        pos = positions or {}
        return [{"feature": f"{p}/{f}", "op": op, "value": 0.0 if op == "monitor" else round(v, 6),
                 "positions": pos.get(f"{p}/{f}", 0)} for (p, f), (op, v) in self.config.items()]

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


def _check_packs(items: list[SpecItem], key: KeyConfig | None) -> None:
    if key is None or key.packs is None:
        return
    for it in items:
        if it.pack not in key.packs:
            raise NotPermitted(f"this API key may not use feature pack '{it.pack}'", param="steering")


def resolve_request(
    runtime: SteeringRuntime,
    policy: CompiledPolicy,
    header: str | None,
    profile_header: str | None,
    body: SteeringBody | str | None,
    *,
    key: KeyConfig | None = None,
    admin: bool = False,
) -> RequestSteering:
    b_items, b_profile = body_items(body)
    h_items = parse_spec(header) if header is not None else []
    _check_packs(b_items + h_items, None if admin else key)
    profile_name = profile_header.strip() if profile_header is not None else b_profile
    layers = [policy.defaults]
    if profile_name:
        if profile_name not in policy.profiles:
            raise InvalidSteeringSpec(f"unknown steering profile '{profile_name[:64]}'",
                                      param="X-Steering-Profile", code="unknown_steering_profile")
        layers.append(policy.profiles[profile_name])
    requested = expand_all(b_items, runtime) + expand_all(h_items, runtime)  # each item expanded once
    config = dict(merge([*(expand_all(layer, runtime) for layer in layers), requested], runtime,
                        max_x=policy.max_x, pack_max_x=policy.pack_max_x))
    if not admin:
        for ref, op, _, _ in requested:
            if ref in policy.mandatory - policy.disabled and op != "monitor":
                raise MandatoryMonitorOff(f"'{ref[0]}/{ref[1]}' is a mandatory monitor and cannot be turned "
                                          f"off or overridden", f"{ref[0]}/{ref[1]}")
    for ref in policy.mandatory - policy.disabled:
        config[ref] = ("monitor", 0.0)  # operator layers may not drop it either (threshold set below)
    for ref in policy.disabled:
        if config.get(ref, ("",))[0] == "monitor":
            del config[ref]
    for ref, (op, _) in config.items():  # every monitor carries its threshold into the engine's tables
        if op == "monitor":
            config[ref] = ("monitor", policy.thresholds.get(ref, runtime.column(ref).threshold))
    actions = {ref: policy.action(runtime, ref) for ref, (op, _) in config.items() if op == "monitor"}
    steer_on = {}
    for ref, a in actions.items():
        if a == "steer" and ref in policy.counter_steer:
            steer_on[ref] = resolve([[], policy.counter_steer[ref]], runtime, max_x=policy.max_x)
    block_on = frozenset(r for r, a in actions.items() if a == "block")
    notes = {r: policy.note(runtime, r) for r, a in actions.items() if a == "annotate"}
    report = body.report if isinstance(body, SteeringBody) else None
    return RequestSteering(config, block_on, actions, steer_on, notes, report)


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
