"""Request resolution, the pure step: the policy in force + a request's parsed steering items → one resolved config.

Precedence, lowest first: the policy's default items, the profile, the body's items, the header's items. Later
layers win per feature; ``off`` removes a feature an earlier layer turned on. Every item is expanded once
(:func:`steering.spec.expand_all`), both value bounds (global ``max_x``, per-pack ``pack_max_x``) are checked in the
one :func:`steering.spec.merge`, mandatory monitors are forced on (a request that tried to turn one off raises
:class:`MandatoryMonitorOff`), and every monitor carries its threshold (the policy's override, else the pack's) in
the resolved config, which is what every engine writes into its tables.

No HTTP here: the server maps headers, body and API key to :func:`resolve_steering` and its exceptions to 4xx.

>>> policy = CompiledPolicy.compile(runtime, mandatory=["safety/unsafe-code"])            # doctest: +SKIP
>>> rs = resolve_steering(runtime, policy, header=parse_spec("golden-gate/bridge:add=2x"))  # doctest: +SKIP
>>> rs.config                                                                              # doctest: +SKIP
{('golden-gate', 'bridge'): ('add', 31.2), ('safety', 'unsafe-code'): ('monitor', 0.5)}
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from steering.config import FeatureRef, ResolvedConfig, watched
from steering.errors import InvalidSteeringSpec, NotPermitted
from steering.runtime import SteeringRuntime
from steering.spec import DEFAULT_MAX_X, SpecItem, expand_all, merge, parse_spec, resolve


class MandatoryMonitorOff(NotPermitted):
    """A request tried to switch off (or override) a mandatory monitor. Counted and alerted by the caller."""

    def __init__(self, message: str, feature: str) -> None:
        super().__init__(message, param="steering")
        self.feature = feature


class MonitorRule(Protocol):
    """What the policy says about one monitor (the server's policy file section ``monitors.<pack/feature>``)."""

    action: str | None  # log | flag | block | steer | annotate; None: the pack's
    threshold: float | None  # overrides the pack's
    steer: str | None  # counter-steering items (header grammar), action steer
    note: str | None  # the text action annotate appends


@dataclass
class CompiledPolicy:
    """The policy in force, compiled against the loaded packs (rebuilt on pack reload)."""

    defaults: list[SpecItem] = field(default_factory=list)
    profiles: dict[str, list[SpecItem]] = field(default_factory=dict)
    mandatory: set[FeatureRef] = field(default_factory=set)
    max_x: float = DEFAULT_MAX_X
    pack_max_x: dict[str, float] = field(default_factory=dict)
    actions: dict[FeatureRef, str] = field(default_factory=dict)
    counter_steer: dict[FeatureRef, list[SpecItem]] = field(default_factory=dict)
    thresholds: dict[FeatureRef, float] = field(default_factory=dict)  # operator overrides of monitor thresholds
    notes: dict[FeatureRef, str] = field(default_factory=dict)  # action annotate: the operator's text
    disabled: set[FeatureRef] = field(default_factory=set)  # monitors an admin switched off at run time

    @classmethod
    def compile(cls, runtime: SteeringRuntime, *, defaults: str = "", profiles: Mapping[str, str] | None = None,
                mandatory: Iterable[str] = (), max_x: float = DEFAULT_MAX_X,
                pack_max_x: Mapping[str, float] | None = None,
                monitors: Mapping[str, MonitorRule] | None = None) -> CompiledPolicy:
        """Parse the policy's items and check every feature it names against ``runtime``'s packs (a bad policy
        fails here, at start-up or reload, not per request). Error params name the policy file's sections."""
        p = cls(
            defaults=parse_spec(defaults, param="steering.defaults"),
            profiles={name: parse_spec(text, param=f"profiles.{name}") for name, text in (profiles or {}).items()},
            mandatory={FeatureRef.parse(r) for r in mandatory},
            max_x=max_x,
            pack_max_x=dict(pack_max_x or {}),
        )
        for ref_text, m in (monitors or {}).items():
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
    """A request's resolved steering: the config every engine applies, and what the monitors do when they fire."""

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


def resolve_steering(
    runtime: SteeringRuntime,
    policy: CompiledPolicy,
    *,
    body: Sequence[SpecItem] = (),
    header: Sequence[SpecItem] = (),
    profile: str | None = None,
    packs: Collection[str] | None = None,
    admin: bool = False,
    report: str | None = None,
) -> RequestSteering:
    """One request's steering: ``body`` and ``header`` items (already parsed, each once), the ``profile`` name,
    ``packs`` the packs the caller may use (None: all), ``admin`` (may turn mandatory monitors off). Raises
    :class:`~steering.errors.SteeringError` subclasses, each naming the offending item."""
    if packs is not None and not admin:
        for it in (*body, *header):
            if it.pack not in packs:
                raise NotPermitted(f"this API key may not use feature pack '{it.pack}'", param="steering")
    layers = [policy.defaults]
    if profile:
        if profile not in policy.profiles:
            raise InvalidSteeringSpec(f"unknown steering profile '{profile[:64]}'",
                                      param="X-Steering-Profile", code="unknown_steering_profile")
        layers.append(policy.profiles[profile])
    requested = expand_all(body, runtime) + expand_all(header, runtime)  # each item expanded once
    config = dict(merge([*(expand_all(layer, runtime) for layer in layers), requested], runtime,
                        max_x=policy.max_x, pack_max_x=policy.pack_max_x))
    on = policy.mandatory - policy.disabled
    if not admin:
        for ref, op, _, _ in requested:
            if ref in on and op != "monitor":
                raise MandatoryMonitorOff(f"'{ref}' is a mandatory monitor and cannot be turned off or overridden",
                                          str(ref))
    for ref in on:
        config[ref] = ("monitor", 0.0)  # operator layers may not drop it either (threshold set below)
    for ref in policy.disabled & watched(config).keys():
        del config[ref]
    for ref in watched(config):  # every monitor carries its threshold into the engines' tables
        config[ref] = ("monitor", policy.thresholds.get(ref, runtime.column(ref).threshold))
    actions = {ref: policy.action(runtime, ref) for ref in watched(config)}
    steer_on = {ref: resolve([policy.counter_steer[ref]], runtime, max_x=policy.max_x)
                for ref, a in actions.items() if a == "steer" and ref in policy.counter_steer}
    block_on = frozenset(r for r, a in actions.items() if a == "block")
    notes = {r: policy.note(runtime, r) for r, a in actions.items() if a == "annotate"}
    return RequestSteering(config, block_on, actions, steer_on, notes, report)
