"""EleutherAI sparsify TopK SAEs: a directory with ``cfg.json`` + ``sae.safetensors`` (one hookpoint of a run).

Tensors: ``encoder.weight [F, d]`` (an ``nn.Linear``, so it is ``W_enc`` transposed), ``encoder.bias [F]``,
``W_dec [F, d]``, ``b_dec [d]``. What sparsify computes (``SparseCoder.encode/decode``)::

    pre = ReLU((x - b_dec) @ encoder.weight.T + encoder.bias);  keep the k largest;  out = act @ W_dec + b_dec

Folded: ``W_enc = encoder.weight.T``, ``b_enc = encoder.bias - b_dec @ W_enc``. The pack's act is ReLU(pre) on
every latent (no top-k at runtime), equal to sparsify's on every latent sparsify keeps.

``cfg.json`` keys may be missing (``d_in`` is popped in some versions); shapes come from ``encoder.weight``.
``W_dec`` is checked by shape: ``[d, F]`` is transposed; if ``F == d`` the documented ``[F, d]`` is trusted.
Refused: transcoders (input and output sites differ) and ``groupmax``. A ``W_skip`` is ignored: it is not
per-latent, so it changes neither an activation nor a latent's contribution.
"""

from __future__ import annotations

from pathlib import Path

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

WEIGHTS = "sae.safetensors"


@register("sparsify")
def load_sparsify(src: Path, *, layer: int) -> Folded:
    del layer  # the hookpoint directory does not pin the site; the caller names it
    refuse_pickle(src, "sparsify weights")
    if not src.is_dir():
        raise fail(f"a sparsify source is a hookpoint directory with cfg.json and {WEIGHTS}")
    cfg = read_json(src / "cfg.json")
    if cfg.get("transcode"):
        raise fail("sparsify transcoders are not supported: they read one site and write another")
    if cfg.get("activation", "topk") != "topk":
        raise fail(f"sparsify activation '{cfg.get('activation')}' is not supported (only topk)")
    w = read_safetensors(src / WEIGHTS)
    enc = w.get("encoder.weight")  # [F, d]
    if enc is None or enc.ndim != 2:
        raise fail(f"'{WEIGHTS}' needs a 2-D encoder.weight [num_latents, d_in]")
    F, d = enc.shape
    if cfg.get("d_in") not in (None, d):
        raise fail(f"cfg.json says d_in={cfg['d_in']}, but encoder.weight has shape {[F, d]}")
    if cfg.get("num_latents") not in (None, 0, F):
        raise fail(f"cfg.json says num_latents={cfg['num_latents']}, but encoder.weight has shape {[F, d]}")
    W_dec = w.get("W_dec")
    if W_dec is not None and tuple(W_dec.shape) == (d, F) and d != F:
        W_dec = W_dec.T  # stored [d_in, latents]
    W_dec = check_shape(WEIGHTS, "W_dec", W_dec, (F, d)).contiguous()  # [F, d]
    b_dec = check_shape(WEIGHTS, "b_dec", w.get("b_dec"), (d,))
    bias = check_shape(WEIGHTS, "encoder.bias", w.get("encoder.bias"), (F,))
    W_enc = enc.T.contiguous()  # [d, F]
    k = cfg.get("k")
    return Folded("sae-topk", W_dec, W_enc, fold_input_bias(W_enc, bias, b_dec), k=int(k) if k else None)
