"""TopK sparse autoencoders (OpenAI's recipe, Gao et al. 2024), trained on residual activations of one layer.

    z    = TopK(ReLU(W_enc^T (x·s − b_dec) + b_enc))     # k active latents per token
    x̂·s = z @ W_dec + b_dec                              # decoder rows kept at unit norm
    loss = ‖x·s − x̂·s‖² / Var + aux · ‖e − ê_dead‖² / Var   # AuxK: dead latents model the residual e

``s`` rescales activations so E‖x·s‖² = d (SAELens ``normalize_activations="expected_average_only_in"``) during
training. The model is saved in SAELens format (cfg.json + sae_weights.safetensors) with ``s`` folded into the
weights, as SAELens's own trainer does (``fold_activation_norm_scaling_factor``: ``W_enc·s``, ``W_dec/s``,
``b_dec/s``) and ``normalize_activations: "none"``, so ``sae_lens.SAE.load_from_disk`` reproduces it on raw
activations and ``steer pack import saelens`` turns chosen latents into a pack.

>>> sae = TopKSAE(d=576, width=4096, k=32)                        # doctest: +SKIP
>>> stats = train_sae(sae, acts, steps=2000, batch=4096)          # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm


class TopKSAE(nn.Module):
    def __init__(self, d: int, width: int, k: int, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        W_dec = torch.nn.functional.normalize(torch.randn(width, d, generator=g), dim=1)  # [F, d]
        self.W_dec = nn.Parameter(W_dec)
        self.W_enc = nn.Parameter(W_dec.T.clone())  # [d, F]; tied init (OpenAI)
        self.b_enc = nn.Parameter(torch.zeros(width))
        self.b_dec = nn.Parameter(torch.zeros(d))
        self.d, self.width, self.k = d, width, k

    def pre(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.b_dec) @ self.W_enc + self.b_enc  # [N, F]

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        pre = self.pre(x)
        top = pre.topk(self.k, dim=-1)
        return torch.zeros_like(pre).scatter(-1, top.indices, top.values.relu())  # [N, F]

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return z @ self.W_dec + self.b_dec  # [N, d]

    @torch.no_grad()
    def normalize_decoder(self) -> None:
        self.W_dec.data = torch.nn.functional.normalize(self.W_dec.data, dim=1)

    @torch.no_grad()
    def project_decoder_grad(self) -> None:
        """Remove the gradient component parallel to each decoder row (keeps rows on the unit sphere)."""
        if self.W_dec.grad is not None:
            g, w = self.W_dec.grad, self.W_dec.data
            g -= (g * w).sum(1, keepdim=True) * w


@dataclass
class TrainStats:
    steps: list[int] = field(default_factory=list)
    fvu: list[float] = field(default_factory=list)
    l0: list[float] = field(default_factory=list)
    dead: list[int] = field(default_factory=list)
    tokens: int = 0


def scaling_factor(acts: torch.Tensor) -> float:
    """s such that E‖x·s‖² = d."""
    return math.sqrt(acts.shape[1] / acts.pow(2).sum(1).mean().item())


def train_sae(sae: TopKSAE, acts: torch.Tensor, *, steps: int, batch: int = 4096, lr: float = 2e-4,
              aux_coef: float = 1 / 32, dead_after_tokens: int = 1_000_000, seed: int = 0, log_every: int = 50,
              stats: TrainStats | None = None, start_step: int = 0, opt_state: dict | None = None,
              checkpoint=None, progress: bool = True, scale: float = 1.0) -> tuple[TrainStats, dict]:
    """Train on ``acts [N, d]`` times ``scale`` (any float dtype: each batch is cast to float32 and scaled, so a
    float16 store of millions of tokens is never copied whole). Resumable: pass back ``stats``, ``start_step`` and
    the returned optimizer state; ``checkpoint(step, stats, opt_state)`` is called every ``log_every * 10`` steps."""
    stats = stats or TrainStats()
    g = torch.Generator().manual_seed(seed + start_step)
    if start_step == 0:
        with torch.no_grad():
            sae.b_dec.data = (acts[: min(len(acts), 65536)].float() * scale).median(0).values  # geometric-median proxy
    opt = torch.optim.Adam(sae.parameters(), lr=lr, betas=(0.9, 0.999), eps=6.25e-10)
    if opt_state:
        opt.load_state_dict(opt_state)
    var = (acts[: min(len(acts), 65536)].float() * scale).var(0).sum().item()
    last_fired = torch.zeros(sae.width, dtype=torch.long)  # tokens since each latent last fired
    k_aux = min(sae.d // 2, sae.width)
    bar = tqdm(range(start_step, steps), desc="SAE", unit="step", disable=not progress, initial=start_step,
               total=steps)
    for step in bar:
        x = acts[torch.randint(len(acts), (batch,), generator=g)].float() * scale  # [B, d]
        pre = sae.pre(x)
        top = pre.topk(sae.k, dim=-1)
        z = torch.zeros_like(pre).scatter(-1, top.indices, top.values.relu())
        x_hat = sae.decode(z)
        err = x - x_hat
        loss = err.pow(2).sum(1).mean() / var
        fired = torch.zeros(sae.width, dtype=torch.bool).index_fill_(0, top.indices.flatten(), True)
        last_fired = torch.where(fired, 0, last_fired + batch)
        dead = last_fired >= dead_after_tokens
        if dead.any() and aux_coef > 0:  # AuxK: let dead latents reconstruct what the live ones missed
            pre_dead = pre.masked_fill(~dead, float("-inf"))
            kk = min(k_aux, int(dead.sum()))
            t = pre_dead.topk(kk, dim=-1)
            z_aux = torch.zeros_like(pre).scatter(-1, t.indices, t.values.relu())
            aux = (err.detach() - z_aux @ sae.W_dec).pow(2).sum(1).mean() / var
            loss = loss + aux_coef * torch.nan_to_num(aux)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        sae.project_decoder_grad()
        torch.nn.utils.clip_grad_norm_(sae.parameters(), 1.0)
        opt.step()
        sae.normalize_decoder()
        stats.tokens += batch
        if step % log_every == 0 or step == steps - 1:
            with torch.no_grad():
                fvu = err.pow(2).sum().item() / (x - x.mean(0)).pow(2).sum().item()
            stats.steps.append(step)
            stats.fvu.append(fvu)
            stats.l0.append(float((z > 0).sum(1).float().mean()))
            stats.dead.append(int(dead.sum()))
            bar.set_postfix(fvu=f"{fvu:.3f}", dead=int(dead.sum()))
        if checkpoint is not None and (step == steps - 1 or (step and step % (log_every * 10) == 0)):
            checkpoint(step, stats, opt.state_dict())
    return stats, opt.state_dict()


def fold_scaling(sae: TopKSAE, s: float) -> TopKSAE:
    """The same SAE for raw inputs ``x`` instead of ``x·s``: ``W_enc·s``, ``W_dec/s``, ``b_dec/s`` (``b_enc`` and
    every latent's activation unchanged; the reconstruction comes out in the raw scale). SAELens's
    ``fold_activation_norm_scaling_factor``; folded in float64."""
    out = TopKSAE(sae.d, sae.width, sae.k)
    w = {n: getattr(sae, n).detach().double() for n in ("W_enc", "W_dec", "b_enc", "b_dec")}
    folded = {"W_enc": w["W_enc"] * s, "W_dec": w["W_dec"] / s, "b_enc": w["b_enc"], "b_dec": w["b_dec"] / s}
    with torch.no_grad():
        for name, t in folded.items():
            getattr(out, name).data = t.to(sae.W_enc.dtype).contiguous()
    return out


def save_saelens(sae: TopKSAE, out: Path, *, s: float, layer: int, model_name: str, extra: dict | None = None) -> None:
    """SAELens directory layout for ``sae`` trained on inputs scaled by ``s``: ``s`` is folded into the weights
    (:func:`fold_scaling`) and cfg.json says ``normalize_activations: "none"`` -- SAELens 6 ignores a
    ``scaling_factor`` key at inference, so an unfolded SAE would load there and be silently wrong."""
    out.mkdir(parents=True, exist_ok=True)
    folded = fold_scaling(sae, s)
    save_file({n: getattr(folded, n).detach().contiguous() for n in ("W_enc", "W_dec", "b_enc", "b_dec")},
              out / "sae_weights.safetensors")
    cfg = {"architecture": "topk", "d_in": sae.d, "d_sae": sae.width, "k": sae.k, "activation_fn_kwargs": {"k": sae.k},
           "rescale_acts_by_decoder_norm": False, "apply_b_dec_to_input": True, "normalize_activations": "none",
           "hook_name": f"blocks.{layer}.hook_resid_post", "hook_layer": layer, "model_name": model_name,
           "dtype": "float32", "device": "cpu", **(extra or {})}
    (out / "cfg.json").write_text(json.dumps(cfg, indent=2) + "\n")


def load_saelens_topk(path: Path) -> tuple[TopKSAE, dict]:
    """A TopK SAE written by :func:`save_saelens`, for raw (unscaled) activations. Directories written before the
    scaling was folded (``normalize_activations: "expected_average_only_in"`` + ``scaling_factor``) are folded
    here, so both forms give the same SAE."""
    cfg = json.loads((path / "cfg.json").read_text())
    w = load_file(path / "sae_weights.safetensors")
    sae = TopKSAE(cfg["d_in"], cfg["d_sae"], cfg["k"])
    with torch.no_grad():
        for name, t in w.items():
            getattr(sae, name).data = t
    norm = cfg.get("normalize_activations") or "none"
    if norm == "expected_average_only_in":
        sae = fold_scaling(sae, float(cfg["scaling_factor"]))
    elif norm != "none":
        raise ValueError(f"{path.name}: normalize_activations {norm!r} is not a steerserve TopK SAE")
    return sae, cfg


def fvu_of(sae: TopKSAE, acts: torch.Tensor) -> tuple[float, float, int]:
    """(fraction of variance unexplained, mean L0, latents that never fire) on ``acts`` (scaled)."""
    with torch.no_grad():
        z = torch.cat([sae.encode(b) for b in acts.split(8192)])
        x_hat = torch.cat([sae.decode(b) for b in z.split(8192)])
        fvu = (acts - x_hat).pow(2).sum().item() / (acts - acts.mean(0)).pow(2).sum().item()
        return fvu, float((z > 0).sum(1).float().mean()), int(((z > 0).sum(0) == 0).sum())


def fvu_typical(sae: TopKSAE, acts: torch.Tensor, factor: float = 10.0) -> tuple[float, int]:
    """FVU over tokens whose norm is at most ``factor`` × the median norm, and how many were left out. A few
    "massive activation" tokens (norm ≈150× the median at layer 15 of SmolLM2: 2 in 20,000 held-out tokens) carry
    most of the variance, so plain FVU mostly measures them; this is the number for ordinary tokens."""
    with torch.no_grad():
        norm = acts.norm(dim=1)
        keep = norm <= factor * norm.median()
        x = acts[keep]
        x_hat = torch.cat([sae.decode(sae.encode(b)) for b in x.split(8192)])
        return (x - x_hat).pow(2).sum().item() / (x - x.mean(0)).pow(2).sum().item(), int((~keep).sum())
