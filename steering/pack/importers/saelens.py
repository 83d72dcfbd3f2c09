"""SAELens SAE directories: ``cfg.json`` + ``sae_weights.safetensors`` (``SAE.save_model``,
``TrainingSAE.save_inference_model``, or a trainer checkpoint folder).

What SAELens computes (``sae_lens/saes/``), with ``s`` the activation scaling of
``normalize_activations="expected_average_only_in"`` (applied to the input by the caller, before the SAE) and
``n = ‖W_dec[i]‖`` per latent when ``rescale_acts_by_decoder_norm`` (TopK, BatchTopK)::

    sae_in = x * s - b_dec * apply_b_dec_to_input     # x [N, d_in]; scale first, then subtract b_dec
    pre    = sae_in @ W_enc + b_enc                     # W_enc [d_in, d_sae]
    pre    = pre * n                                    # rescale_acts_by_decoder_norm only
    act    = ReLU(pre)                                  # "standard"
           = ReLU(pre) * (pre > threshold)              # "jumprelu"; "batchtopk" after training (threshold =
                                                        #   the learned topk_threshold, as save_inference_model)
           = ReLU(pre) on the k largest pre, 0 elsewhere # "topk"
    out    = ((act / n) @ W_dec + b_dec) / s            # W_dec [d_sae, d_in]; back in the model's scale

Folded into the pack, in SAELens's own order (``fold_activation_norm_scaling_factor``, then the decoder-norm fold
of ``save_inference_model``), so a checkpoint imports as what SAELens would export from it::

    b_enc' = b_enc - b_dec @ W_enc      (only if apply_b_dec_to_input; uses the unscaled W_enc: s cancels)
    W_enc' = s * W_enc,  W_dec' = W_dec / s
    W_enc'' = W_enc' * n',  b_enc'' = b_enc' * n',  W_dec'' = W_dec' / n'    with n' = ‖W_dec'[i]‖ = n / s
    thr'   = max(thr, 0)  (/ s for a rescaled batchtopk)     ReLU(p) * (p > t) == p * (p > max(t, 0))

TopK keeps no top-k at runtime: the pack's act is ReLU(pre), equal to SAELens's on every latent SAELens keeps.
The scaling factor is the explicit ``scaling_factor`` argument, else cfg.json ``scaling_factor`` /
``norm_scaling_factor``, else ``activation_scaler.json`` (written by the SAELens trainer). Do not confuse it with
the old ``scaling_factor`` *tensor* ``[d_sae]`` of ``finetuning_scaling_factor`` SAEs, which multiplies ``act``
before decoding and is folded into the rows of ``W_dec``. Per-token normalisations are refused: not linear.
A trainer checkpoint's ``trainer_state.pt`` (optimizer state, a pickle) is skipped -- never opened -- and logged.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path

import torch

from steering.pack.importers.common import (
    Folded,
    check_shape,
    fail,
    fold_input_bias,
    read_json,
    read_safetensors,
    refuse_pickle,
)
from steering.pack.importers.registry import register

WEIGHTS = "sae_weights.safetensors"
SCALER = "activation_scaler.json"
TRAINER_STATE = "trainer_state.pt"  # SAELens trainer checkpoints: optimizer state (pickle), never read
ARCHITECTURES = {"standard": "sae-relu", "relu": "sae-relu", "jumprelu": "sae-jumprelu", "topk": "sae-topk",
                 "batchtopk": "sae-jumprelu", "matryoshka_batchtopk": "sae-jumprelu"}
RESCALABLE = ("topk", "batchtopk", "matryoshka_batchtopk")  # where rescale_acts_by_decoder_norm exists

log = logging.getLogger(__name__)


@register("saelens")
def load_saelens(src: Path, *, layer: int, scaling_factor: float | None = None) -> Folded:
    del layer  # the directory does not pin the site; the caller names it
    skip = (TRAINER_STATE,) if src.is_dir() and (src / TRAINER_STATE).is_file() else ()
    refuse_pickle(src, "SAELens weights", skip=skip)
    if skip:
        log.info("SAELens trainer checkpoint '%s': skipped %s (trainer state, a pickle: never read)", src.name,
                 ", ".join(skip))
    if not src.is_dir():
        raise fail(f"a SAELens source is a directory with cfg.json and {WEIGHTS}")
    cfg = read_json(src / "cfg.json")
    arch = _architecture(cfg)
    w = read_safetensors(src / WEIGHTS)
    W_enc = w.get("W_enc")  # [d_in, d_sae]
    if W_enc is None or W_enc.ndim != 2:
        raise fail(f"'{WEIGHTS}' needs a 2-D W_enc [d_in, d_sae]")
    d_in, d_sae = W_enc.shape
    for key, n in (("d_in", d_in), ("d_sae", d_sae)):
        if cfg.get(key) is not None and cfg[key] != n:
            raise fail(f"cfg.json says {key}={cfg[key]}, but W_enc has shape {[d_in, d_sae]}")
    W_dec = check_shape(WEIGHTS, "W_dec", w.get("W_dec"), (d_sae, d_in))
    b_enc = check_shape(WEIGHTS, "b_enc", w.get("b_enc"), (d_sae,))
    b_dec = check_shape(WEIGHTS, "b_dec", w.get("b_dec"), (d_in,))
    kind = ARCHITECTURES[arch]
    threshold = _threshold(w, d_sae, arch) if kind == "sae-jumprelu" else None

    if cfg.get("apply_b_dec_to_input", True):
        b_enc = fold_input_bias(W_enc, b_enc, b_dec)  # [d_sae]
    if cfg.get("finetuning_scaling_factor"):
        W_dec = W_dec * check_shape(WEIGHTS, "scaling_factor", w.get("scaling_factor"), (d_sae,))[:, None]
    s = _scaling_factor(cfg, src, scaling_factor)
    if s is not None:
        W_enc, W_dec = W_enc * s, W_dec / s
    if cfg.get("rescale_acts_by_decoder_norm"):
        n = W_dec.norm(dim=1)  # [d_sae]; pre is multiplied by n, act divided by it before decoding
        W_enc, b_enc = W_enc * n, b_enc * n
        W_dec = W_dec / n.clamp_min(torch.finfo(n.dtype).tiny)[:, None]  # a zero row stays zero (its act is 0)
        if threshold is not None and s is not None:
            threshold = threshold / s  # SAELens: a batchtopk threshold is in units of pre * n, and n became n / s
    if threshold is not None:
        threshold = threshold.clamp_min(0.0)
    k = (cfg.get("k") or (cfg.get("activation_fn_kwargs") or {}).get("k")) if kind == "sae-topk" else None
    return Folded(kind, W_dec, W_enc, b_enc, threshold, int(k) if k else None)


def _architecture(cfg: dict) -> str:
    arch = cfg.get("architecture") or "standard"
    act_fn = cfg.get("activation_fn_str") or cfg.get("activation_fn")
    if arch == "standard" and act_fn == "topk":  # SAELens < 6 spelled TopK this way
        arch = "topk"
    elif act_fn not in (None, "relu", "topk"):
        raise fail(f"SAELens activation_fn '{act_fn}' is not supported (relu, topk and jumprelu SAEs are)")
    if arch not in ARCHITECTURES:
        raise fail(f"SAELens architecture '{arch}' is not supported (supported: {', '.join(ARCHITECTURES)})")
    if cfg.get("rescale_acts_by_decoder_norm") and arch not in RESCALABLE:
        raise fail(f"SAELens '{arch}' SAE with rescale_acts_by_decoder_norm: only {', '.join(RESCALABLE)} have it")
    if cfg.get("reshape_activations", "none") not in ("none", None):
        raise fail(f"SAELens reshape_activations '{cfg['reshape_activations']}' is not a residual-stream SAE")
    return arch


def _scaling_factor(cfg: dict, src: Path, explicit: float | None) -> float | None:
    norm = cfg.get("normalize_activations") or "none"
    if norm == "none":
        if explicit is not None:
            raise fail(
                "cfg.json says normalize_activations 'none' (the weights already work in the model's scale); "
                "refusing to apply a scaling factor"
            )
        return None
    if norm == "covariance_whitening":
        raise fail("normalize_activations 'covariance_whitening' is not supported: export the SAE from SAELens after "
                   "training (the trainer folds the whitening into the weights) and import that")
    if norm != "expected_average_only_in":
        raise fail(
            f"normalize_activations '{norm}' is not supported: it rescales every token by its own "
            "statistics, which is not a linear map and cannot be folded into a pack"
        )
    s = explicit
    for key in ("scaling_factor", "norm_scaling_factor"):
        s = cfg.get(key) if s is None else s
    if s is None and (src / SCALER).is_file():
        s = read_json(src / SCALER).get("scaling_factor")
    if s is None:
        raise fail(
            "normalize_activations is 'expected_average_only_in' but no scaling factor was found "
            f"(cfg.json, {SCALER}); pass it with --scaling-factor"
        )
    if isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s) or s <= 0:
        raise fail(f"scaling factor must be a positive finite number, got {s!r}")
    return float(s)


def _threshold(w: dict[str, torch.Tensor], d_sae: int, arch: str) -> torch.Tensor:
    if arch != "jumprelu":  # batchtopk training SAE (save_model): one learned scalar for every latent
        t = w.get("topk_threshold")
        if t is None or t.numel() != 1:
            raise fail(f"{arch} SAE: '{WEIGHTS}' needs the scalar topk_threshold")
        return t.reshape(()).expand(d_sae).clone()
    if "threshold" in w:
        return check_shape(WEIGHTS, "threshold", w["threshold"], (d_sae,))
    if "log_threshold" in w:
        return check_shape(WEIGHTS, "log_threshold", w["log_threshold"], (d_sae,)).exp()
    raise fail(f"jumprelu SAE: '{WEIGHTS}' has neither threshold nor log_threshold")
