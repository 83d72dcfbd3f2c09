"""Difference-of-means directions: the simplest concept direction, often as good as an SAE latent (AxBench)."""

from __future__ import annotations

import torch


def mean_activation(acts: list[torch.Tensor]) -> torch.Tensor:
    """Mean over texts of each text's mean token activation (long texts do not dominate). ``[d]``"""
    return torch.stack([a.mean(0) for a in acts]).mean(0)


def diff_of_means(pos: list[torch.Tensor], neg: list[torch.Tensor]) -> torch.Tensor:
    """``mean(pos) - mean(neg)``, ``[d]``. Stored unnormalised: adding ``1.0 ×`` it moves an average negative
    text's stream to an average positive one's, which makes strengths interpretable."""
    return mean_activation(pos) - mean_activation(neg)


def projection(acts: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Per-token coefficient along ``w`` in units of ``w`` (the runtime's direction "activation"). ``[T]``"""
    return acts @ w / w.dot(w)
