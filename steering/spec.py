"""Steering specs: the ``X-Steering`` grammar, and resolution against the loaded packs.

Grammar (ARCHITECTURE §4)::

    spec  := item ("," item)*           item := ref [":" op ["=" value]]
    ref   := pack-id ["/" feature]      op   := add | clamp | suppress | monitor | off
    value := number ["x"]               (x = multiple of the feature's max_activation)

Whitespace is ignored. A bare pack id means each of its features; a bare ref with no op means each feature's
default op and default value, so ``X-Steering: golden-gate`` is a whole toggle.

>>> [i.canonical() for i in parse_spec("golden-gate/bridge:clamp=10x, bias/gender:suppress, golden-gate")]
['golden-gate/bridge:clamp=10x', 'bias/gender:suppress', 'golden-gate']
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass

from steering.config import FeatureRef, ResolvedConfig
from steering.errors import InvalidSteeringSpec, ValueOutOfRange
from steering.pack.manifest import ID_RE, VALUE_RE
from steering.runtime import SteeringRuntime

OPS = ("add", "clamp", "suppress", "monitor", "off")
VALUE_OPS = ("add", "clamp")
MAX_SPEC_CHARS = 4096
MAX_ITEMS = 32
DEFAULT_MAX_X = 100.0  # |value| bound in multiples of max_activation, unless policy says otherwise
_WS = re.compile(r"[ \t]+")


@dataclass(frozen=True)
class SpecItem:
    pack: str
    feature: str | None
    op: str | None  # None: each feature's default op (and default value)
    value: float | None = None
    x_units: bool = False

    @property
    def ref(self) -> str:
        return f"{self.pack}/{self.feature}" if self.feature else self.pack

    def canonical(self) -> str:
        if self.op is None:
            return self.ref
        if self.value is None:
            return f"{self.ref}:{self.op}"
        return f"{self.ref}:{self.op}={self.value:g}{'x' if self.x_units else ''}"


def _bad(n: int, item: str, why: str, param: str) -> InvalidSteeringSpec:
    shown = item if len(item) <= 60 else item[:57] + "..."
    return InvalidSteeringSpec(f"steering item {n} ({shown!r}): {why}", param=param)


def parse_value(text: str) -> tuple[float, bool]:
    """``'10x'`` → ``(10.0, True)``; ``'-2.5'`` → ``(-2.5, False)``. Raises ValueError on anything else."""
    if not VALUE_RE.match(text):
        raise ValueError("value must be a number, optionally followed by 'x'")
    x = text.endswith("x")
    v = float(text[:-1] if x else text)
    if not math.isfinite(v):
        raise ValueError("value must be finite")
    return v, x


def check_item(ref: str, op: str | None, has_value: bool, *, shown: str, n: int, param: str) -> tuple[str, str | None]:
    """The grammar's checks on a ref and an op, shared by the header (text) and the body (structured) forms:
    returns ``(pack, feature or None)``; errors name the item (``shown``) and its position ``n``."""
    pack, slash, feature = ref.partition("/")
    if not ID_RE.match(pack):
        raise _bad(n, shown, "pack id must match [a-z0-9][a-z0-9._-]{0,63}", param)
    if slash and not ID_RE.match(feature):
        raise _bad(n, shown, "feature name must match [a-z0-9][a-z0-9._-]{0,63}", param)
    if op is not None and op not in OPS:
        raise _bad(n, shown, f"unknown op {op[:20]!r} (expected one of {', '.join(OPS)})", param)
    if has_value and op not in VALUE_OPS:
        raise _bad(n, shown, f"op '{op}' takes no value", param)
    return pack, feature or None


def parse_item(raw: str, n: int = 1, param: str = "X-Steering") -> SpecItem:
    item = _WS.sub("", raw)
    if not item:
        raise _bad(n, raw, "empty item", param)
    ref, sep, rest = item.partition(":")
    if not sep and "=" in ref:
        raise _bad(n, item, "a value needs an op, e.g. 'golden-gate/bridge:add=2x'", param)
    op, eq, value = rest.partition("=")
    pack, feature = check_item(ref, op if sep else None, bool(eq), shown=item, n=n, param=param)
    if not sep:
        return SpecItem(pack, feature, None)  # the features' default ops and values
    if not eq:
        return SpecItem(pack, feature, op)
    try:
        v, x = parse_value(value)
    except ValueError as e:
        raise _bad(n, item, str(e) if value else "missing value after '='", param) from None
    return SpecItem(pack, feature, op, v, x)


def parse_spec(text: str, *, max_items: int = MAX_ITEMS, param: str = "X-Steering") -> list[SpecItem]:
    """Parse the header grammar; errors name the offending item and its position (1-based)."""
    if len(text) > MAX_SPEC_CHARS:
        raise InvalidSteeringSpec(f"steering spec is {len(text)} characters (limit {MAX_SPEC_CHARS})", param=param)
    if any(not (c.isascii() and (c.isprintable() or c == "\t")) for c in text):
        raise InvalidSteeringSpec("steering spec may contain only printable ASCII characters", param=param)
    if not _WS.sub("", text):
        return []
    parts = text.split(",")
    if len(parts) > max_items:
        raise InvalidSteeringSpec(f"steering spec has {len(parts)} items (limit {max_items})", param=param)
    items = [parse_item(p, n, param) for n, p in enumerate(parts, 1)]
    seen: set[str] = set()
    for n, it in enumerate(items, 1):
        if it.ref in seen:
            raise _bad(n, it.canonical(), f"'{it.ref}' appears more than once", param)
        seen.add(it.ref)
    return items


def expand(item: SpecItem, runtime: SteeringRuntime) -> list[tuple[FeatureRef, str, float | None, bool]]:
    """One item → per-feature ``(ref, op, value, x_units)``. A bare pack id applies the op to each of its
    features; no op means the feature's default op; an add/clamp without a value takes the feature's default
    value."""
    if item.feature:
        runtime.column((item.pack, item.feature))  # raises unknown pack / unknown feature
        features = [runtime.packs[item.pack].manifest.feature(item.feature)]
    else:
        if item.pack not in runtime.packs:
            runtime.column((item.pack, ""))  # raises unknown pack
        features = runtime.packs[item.pack].manifest.features
    out = []
    for f in features:
        ref, op = FeatureRef(item.pack, f.name), item.op or f.default_op
        if op in VALUE_OPS and item.value is None:
            out.append((ref, op, *_default_value(f, op)))
        else:
            out.append((ref, op, item.value, item.x_units))
    return out


def _default_value(f, op: str | None = None) -> tuple[float, bool]:
    if f.default_value is None or (op is not None and op != f.default_op):
        raise InvalidSteeringSpec(
            f"feature '{f.name}' has no default value for '{op or f.default_op}'; give one, e.g. ':clamp=2x'",
            param="steering",
        )
    if isinstance(f.default_value, str):
        return parse_value(f.default_value)
    return float(f.default_value), False


Expanded = list[tuple[FeatureRef, str, float | None, bool]]


def expand_all(items: Iterable[SpecItem], runtime: SteeringRuntime) -> Expanded:
    return [e for item in items for e in expand(item, runtime)]


def resolve(
    layers: Iterable[Iterable[SpecItem]], runtime: SteeringRuntime, *, max_x: float = DEFAULT_MAX_X
) -> ResolvedConfig:
    """Merge spec layers (later wins per feature; ``off`` removes) into a config of absolute values.

    Typical order: server defaults, profile, body, header.
    """
    return merge([expand_all(layer, runtime) for layer in layers], runtime, max_x=max_x)


def merge(layers: Iterable[Expanded], runtime: SteeringRuntime, *, max_x: float = DEFAULT_MAX_X,
          pack_max_x: dict[str, float] | None = None) -> ResolvedConfig:
    """:func:`resolve` on layers already expanded (each item expanded once per request). ``max_x`` bounds every
    value as it is merged; ``pack_max_x`` (policy, per pack) bounds what the merged config finally applies."""
    merged: dict[FeatureRef, tuple[str, float]] = {}
    for layer in layers:
        for ref, op, value, x in layer:
            col = runtime.column(ref)
            if op == "off":
                merged.pop(ref, None)
                continue
            if col.summed and op != "monitor":
                raise InvalidSteeringSpec(f"'{ref[0]}/{ref[1]}' is read as a sum over several layers (its pack's "
                                          f"readout is 'sum'): it can only be monitored, not '{op}'", param="steering")
            if op == "suppress":
                merged[ref] = ("clamp", 0.0)
                continue
            if op == "monitor":
                merged[ref] = ("monitor", col.threshold)  # the pack's calibrated threshold
                continue
            v = value * col.max_activation if x else value
            if not math.isfinite(v) or abs(v) > max_x * col.max_activation:
                raise ValueOutOfRange(
                    f"value for '{ref[0]}/{ref[1]}' is outside ±{max_x:g}x "
                    f"(±{max_x * col.max_activation:.4g}) of its max_activation",
                    param="steering",
                )
            merged[ref] = (op, float(v))
    for ref, (op, v) in merged.items():
        bound = (pack_max_x or {}).get(ref[0])
        if bound is not None and op != "monitor" and abs(v) > bound * runtime.column(ref).max_activation:
            raise ValueOutOfRange(f"value for '{ref[0]}/{ref[1]}' is outside the policy bound ±{bound:g}x",
                                  param="steering")
    return merged
