"""A map of loaded features by their geometry: decoder-direction neighbours and a 2-D layout.

Every feature of every loaded pack is a direction in the residual stream (its ``W_dec`` row at the pack's read site,
``sites[0]``). Two features whose directions point the same way write (and, for probes and SAEs, tend to read) the
same thing, so cosine similarity between unit decoder rows is the seed article's "feature neighbourhood". Directions
at different layers share the residual basis but drift across layers; results carry each feature's layer so a
client can keep to one. The 2-D layout is PCA of the unit directions (sign kept, no fitting beyond the SVD).

>>> fm = FeatureMap.of(packs)  # doctest: +SKIP
>>> fm.neighbors(("golden-gate", "bridge"), k=5)  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch

from steering.config import FeatureRef
from steering.pack import FeaturePack


@dataclass(frozen=True)
class FeatureMap:
    refs: list[FeatureRef]
    labels: list[str]
    layers: list[int]
    units: torch.Tensor  # [n, d] unit decoder directions (float32)

    @classmethod
    def of(cls, packs: Iterable[FeaturePack]) -> FeatureMap:
        refs, labels, layers, rows = [], [], [], []
        for p in packs:
            for f in p.manifest.features:
                refs.append((p.id, f.name))
                labels.append(f.label)
                layers.append(p.layer)
                rows.append(p.W_dec[f.index].float())
        m = torch.stack(rows) if rows else torch.zeros(0, 1)
        return cls(refs, labels, layers, torch.nn.functional.normalize(m, dim=-1))

    def neighbors(self, ref: FeatureRef, k: int = 10, same_layer: bool = False) -> list[dict]:
        """The ``k`` features nearest to ``ref`` by cosine of decoder directions (itself left out), nearest first.
        Zero rows (a feature that only reads) have cosine 0 with everything."""
        i = self.refs.index(ref)
        cos = self.units @ self.units[i]
        order = [j for j in torch.argsort(cos, descending=True).tolist()
                 if j != i and (not same_layer or self.layers[j] == self.layers[i])]
        return [{"feature": f"{self.refs[j][0]}/{self.refs[j][1]}", "label": self.labels[j], "layer": self.layers[j],
                 "cosine": round(float(cos[j]), 6)} for j in order[:k]]

    def layout_2d(self) -> list[dict]:
        """Each feature at (x, y): its unit direction projected on the top two principal components."""
        n = len(self.refs)
        if n == 0:
            return []
        centred = self.units - self.units.mean(0, keepdim=True)
        if n >= 3:
            _, _, v = torch.linalg.svd(centred, full_matrices=False)
            xy = centred @ v[:2].T
        else:
            xy = torch.zeros(n, 2)
        return [{"feature": f"{p}/{f}", "label": lab, "layer": layer, "x": round(float(a), 6), "y": round(float(b), 6)}
                for (p, f), lab, layer, (a, b) in zip(self.refs, self.labels, self.layers, xy.tolist(), strict=True)]
