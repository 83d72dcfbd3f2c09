"""``pack.json``, the manifest of a feature pack (formats v1 and v2, see docs/pack-format.md).

v1 has one ``site``; v2 has a ``sites`` list and per-site tensors (``W_dec.<i>`` for site ``i``): a feature is
applied at all its pack's sites in the same forward, and read (monitored) at ``sites[0]`` — or, in a probe pack with
``readout: "sum"``, read as the sum of its sites' activations (one linear probe over several layers).

Unknown keys are refused everywhere (``extra="forbid"``): a manifest written for a newer format must not be
half-understood by an older loader.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

FORMAT = "steering-pack"
FORMAT_VERSIONS = (1, 2)
MAX_SITES = 256
ID_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
ID_RE = re.compile(ID_PATTERN)

EncoderKind = Literal["sae-relu", "sae-jumprelu", "sae-topk", "probe", "direction"]
Op = Literal["add", "clamp", "suppress", "monitor", "off"]
Action = Literal["log", "flag", "block", "steer", "annotate"]
ApplyTo = Literal["all", "prompt"]
ReadAt = Literal["all", "last_prompt_token"]
Readout = Literal["read_site", "sum"]
VALUE_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?x?$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModelInfo(_Strict):
    name: str = Field(description="model the pack was built for, e.g. 'smollm2-135m-instruct'")
    architecture: str = Field(description="HF architecture class, e.g. 'LlamaForCausalLM'")
    d_model: int = Field(gt=0, le=65536)
    num_layers: int = Field(gt=0, le=1024)

    @classmethod
    def from_hf_config(cls, config, name: str) -> ModelInfo:
        """The model a transformers config describes, under the served/pack model ``name``."""
        return cls(name=name, architecture=(config.architectures or ["?"])[0], d_model=config.hidden_size,
                   num_layers=config.num_hidden_layers)


class Site(_Strict):
    layer: int = Field(ge=0, description="decoder layer index; the hook reads and edits that layer's output")
    point: Literal["resid_post"] = "resid_post"


class Latch(_Strict):
    """v2, optional part of a condition: once ``feature`` (read at ``sites[site]``, at or below the condition's
    site) is above ``threshold`` at some token of a request, the gate is closed at that token and at every later
    token of the same request, in this forward pass and in all later ones (a gender stated once stays stated)."""

    feature: str = Field(pattern=ID_PATTERN)
    threshold: float
    site: int = Field(default=0, ge=0, description="index into sites: where the latch feature is read")


class Condition(_Strict):
    """v2: the pack's edits apply only at tokens where ``feature`` (a feature of the same pack, read at
    ``sites[site]``, by default the read site ``sites[0]``, which must be the pack's lowest layer) is ``below`` /
    ``above`` ``threshold``: a condition vector gating behaviour vectors, token by token, inside the forward
    (CAST-style conditional steering). The pack may edit only at its condition's layer and above. ``latch``
    (optional) also closes the gate for the rest of a request from the first token a second feature fires on."""

    feature: str = Field(pattern=ID_PATTERN)
    apply_when: Literal["below", "above"] = "below"
    threshold: float
    site: int = Field(default=0, ge=0, description="index into sites: where the condition feature is read")
    latch: Latch | None = None


class Encoder(_Strict):
    kind: EncoderKind
    k: int | None = Field(default=None, gt=0, description="TopK k of the source SAE (informational)")


class Feature(_Strict):
    name: str = Field(pattern=ID_PATTERN)
    index: int = Field(ge=0, description="row of W_dec / column of W_enc in pack.safetensors")
    label: str = Field(max_length=200)
    description: str = Field(default="", max_length=4000)
    default_op: Op = "monitor"
    default_value: float | str | None = Field(
        default=None, description="value for the default op, a number or a multiple of max_activation like '4x'"
    )
    max_activation: float = Field(gt=0, description="calibrated typical maximum activation; '1x' in the grammar")
    threshold: float | None = Field(default=None, description="monitor threshold (activation units)")
    tags: list[str] = Field(default_factory=list)
    action: Action = "log"
    apply_to: ApplyTo = Field(
        default="all", description="where an add/clamp edits: 'all' (every position but the sink) or 'prompt' (the "
        "prompt's positions only; the reply is then written unsteered, reading the steered prompt)")
    read_at: ReadAt = Field(
        default="all", description="where a monitor of the feature reads it: 'all' (every position but the sink, "
        "prompt and reply) or 'last_prompt_token' (once per request, at the prompt's last position, where the model "
        "has read the whole request and is about to answer)")

    @field_validator("default_value")
    @classmethod
    def _value_form(cls, v: float | str | None) -> float | str | None:
        if isinstance(v, str) and not VALUE_RE.match(v):
            raise ValueError("default_value must be a number or a multiple like '4x'")
        return v


class Provenance(_Strict):
    source: str = ""
    corpus: str = ""
    command: str = ""
    date: str = ""
    license: str = ""


class Manifest(_Strict):
    format: Literal["steering-pack"]
    format_version: int
    id: str = Field(pattern=ID_PATTERN)
    version: str = Field(min_length=1, max_length=32)
    title: str = Field(max_length=200)
    description: str = Field(default="", max_length=8000)
    model: ModelInfo
    site: Site | None = Field(default=None, description="v1: the one site")
    sites: list[Site] | None = Field(default=None, description="v2: every site; sites[0] is where monitors read")
    encoder: Encoder
    condition: Condition | None = Field(default=None, description="v2: a feature gating the pack's edits")
    readout: Readout = Field(
        default="read_site", description="v2: what a monitor reads. 'read_site': the activation at sites[0]; 'sum' "
        "(probe packs of two or more sites, monitor-only features): the sum over the sites of each site's "
        "h·W_enc.<i> + b_enc.<i> (one linear probe over several layers' residuals), read at the highest site")
    features: list[Feature] = Field(min_length=1, max_length=65536)
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    provenance: Provenance = Field(default_factory=Provenance)

    @field_validator("format_version")
    @classmethod
    def _known_version(cls, v: int) -> int:
        if v not in FORMAT_VERSIONS:
            raise ValueError(f"unsupported format_version {v} (this loader reads {', '.join(map(str, FORMAT_VERSIONS))})")
        return v

    @model_validator(mode="after")
    def _unique(self) -> Manifest:
        names = [f.name for f in self.features]
        if len(set(names)) != len(names):
            raise ValueError("feature names must be unique within a pack")
        if self.format_version == 1 and (self.site is None or self.sites is not None):
            raise ValueError("format_version 1 has one 'site' (and no 'sites')")
        if self.format_version == 2 and (self.sites is None or self.site is not None):
            raise ValueError("format_version 2 has a 'sites' list (and no 'site')")
        if not 1 <= len(self.all_sites) <= MAX_SITES:
            raise ValueError(f"a pack has 1 to {MAX_SITES} sites")
        layers = [s.layer for s in self.all_sites]
        if len(set(layers)) != len(layers):
            raise ValueError("sites must be at distinct layers")
        for s in self.all_sites:
            if s.layer >= self.model.num_layers:
                raise ValueError(f"site layer {s.layer} is outside the model's {self.model.num_layers} layers")
        if self.condition is not None:
            if self.format_version < 2:
                raise ValueError("a condition needs format_version 2")
            if self.condition.feature not in names:
                raise ValueError(f"condition feature '{self.condition.feature}' is not a feature of the pack")
            latch = self.condition.latch
            if latch is not None and (latch.feature not in names or latch.feature == self.condition.feature):
                raise ValueError(f"latch feature '{latch.feature}' must be a feature of the pack other than the "
                                 "condition's")
            if max(self.condition.site, latch.site if latch else 0) >= len(layers):
                raise ValueError(f"a condition or latch site must index the pack's {len(layers)} sites")
            if latch is not None and layers[latch.site] > layers[self.condition.site]:
                raise ValueError("a latch is read at or below its condition's layer")
            if layers[0] != min(layers):
                raise ValueError("a conditional pack's read site (sites[0]) must be its lowest layer: the condition "
                                 "is read there before the edits at later sites")
        if self.readout == "sum":
            self._check_sum_readout(len(layers))
        return self

    def _check_sum_readout(self, n_sites: int) -> None:
        if self.format_version < 2 or n_sites < 2:
            raise ValueError("readout 'sum' needs format_version 2 and two or more sites")
        if self.encoder.kind != "probe":
            raise ValueError("readout 'sum' needs encoder kind 'probe' (a linear activation at every site)")
        if self.condition is not None:
            raise ValueError("a pack with readout 'sum' has no condition")
        edited = [f.name for f in self.features if f.default_op != "monitor"]
        if edited:
            raise ValueError(f"readout 'sum' features can only be monitored (default_op of {', '.join(edited)})")

    @property
    def monitor_layer(self) -> int:
        """Where a monitor of the pack's features reads (a condition's or latch's feature aside): ``sites[0]``, or
        with ``readout: "sum"`` the highest site, where every site's term has been added."""
        layers = [s.layer for s in self.all_sites]
        return max(layers) if self.readout == "sum" else layers[0]

    def read_layers(self) -> dict[str, int]:
        """Features read somewhere other than the read site ``sites[0]``: a condition's and its latch's, by name."""
        c, layers = self.condition, [s.layer for s in self.all_sites]
        if c is None:
            return {}
        return {c.feature: layers[c.site], **({c.latch.feature: layers[c.latch.site]} if c.latch else {})}

    @property
    def all_sites(self) -> list[Site]:
        """The pack's sites in order (v1: its one site)."""
        return [self.site] if self.site is not None else list(self.sites or ())

    def feature(self, name: str) -> Feature | None:
        return next((f for f in self.features if f.name == name), None)
