"""A request's resolved steering config and the names in it: :class:`FeatureRef` (``pack/feature``) and
:data:`ResolvedConfig` (feature → op and absolute value), with the views engines take of it — what it monitors
(:func:`watched`), what it edits (:func:`edited`) and which edits stop once the prompt is computed
(:func:`prompt_only`, :func:`after_prompt`). Plain data: the tables that apply a config live in
:mod:`steering.runtime`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from steering.site_table import Column


class FeatureRef(NamedTuple):
    """``(pack id, feature name)``, a plain tuple to the tables; ``str()`` and :meth:`parse` are its text form,
    ``"pack/feature"`` (responses, metrics labels, policy files)."""

    pack: str
    feature: str

    def __str__(self) -> str:
        return f"{self.pack}/{self.feature}"

    @classmethod
    def parse(cls, text: str) -> FeatureRef:
        pack, _, feature = text.partition("/")
        return cls(pack, feature)


# A resolved request config: feature → (op, absolute value). Ops: add | clamp | monitor (suppress = clamp to 0).
# A monitor's value is its threshold (the pack's calibrated one unless policy overrides it): thresholds travel with
# the config into every engine's tables, so the API process and vLLM workers can never disagree on them.
ResolvedConfig = Mapping[FeatureRef, tuple[str, float]]


def watched(config: ResolvedConfig) -> dict[FeatureRef, float]:
    """The features ``config`` monitors, each with the threshold it reports against."""
    return {ref: v for ref, (op, v) in config.items() if op == "monitor"}


def edited(config: ResolvedConfig) -> dict[FeatureRef, tuple[str, float]]:
    """The features ``config`` edits (add / clamp), each with its op and absolute value."""
    return {ref: ov for ref, ov in config.items() if ov[0] != "monitor"}


def prompt_only(config: ResolvedConfig, columns: Mapping[FeatureRef, Column]) -> frozenset[FeatureRef]:
    """The features ``config`` edits on the prompt only (pack feature ``apply_to: "prompt"``). An engine runs the
    prompt with ``config`` and, once the prompt is in the KV cache, switches the request to
    :func:`after_prompt`'s config, so every generated token is written without them."""
    return frozenset(ref for ref in edited(config) if columns[ref].apply_to == "prompt")


def after_prompt(config: ResolvedConfig, drop: frozenset[FeatureRef]) -> dict[FeatureRef, tuple[str, float]]:
    """``config`` without the prompt-only features ``drop`` (see :func:`prompt_only`)."""
    return {ref: v for ref, v in config.items() if ref not in drop}
