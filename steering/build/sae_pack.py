"""``steer sae label``: label a trained SAE's latents on held-out corpus text and ship a labelled subset as a pack.

Which latents ship (no cherry-picking by hand):

* per concept of the shipped packs (Golden Gate / San Francisco, health questions, Python code), the ``n_concept``
  best latents of a contrastive search (:func:`~steering.build.sae_features.concept_latents`);
* ``n_random`` latents drawn with a fixed seed among those that fire on the held-out text: an unbiased sample of
  what the SAE learned, labels good or bad.

Outputs: the pack (kind ``sae``, TopK latents read through ReLU of their pre-activation, see its card),
``labels.json`` next to the SAE (every live latent's label and statistics), and a Markdown report with each shipped
latent's top contexts.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

from steering.build.corpus import iter_corpus
from steering.build.data import topic_split
from steering.build.sae import load_saelens_topk
from steering.build.sae_features import concept_latents, label_latent, markdown, scan
from steering.build.scope_data import scope_splits
from steering.pack import ModelInfo
from steering.pack.importers import import_sae


def held_out_texts(corpus: Path, skip_chars: int, chars: int) -> tuple[list[str], list[str]]:
    """Corpus documents after the first ``skip_chars`` characters (what ``steer sae train --chars`` trained on),
    up to ``chars`` more: (texts, their sources)."""
    texts, sources, seen = [], [], 0
    for doc in iter_corpus(corpus):
        if seen >= skip_chars + chars:
            break
        if seen >= skip_chars:
            texts.append(doc.text)
            sources.append(doc.source)
        seen += len(doc.text)
    return texts, sources


def concepts(texts: list[str], sources: list[str], n: int = 150) -> dict[str, tuple[list[str], list[str]]]:
    """Positive / negative texts for the concepts the shipped packs cover."""
    gg_pos, gg_neg = topic_split(("Golden Gate", "San Francisco"), ("golden gate", "san francisco"), 200)
    splits, _ = scope_splits()
    health = [q.text for q in splits["train"] if q.source == "healthsearchqa"][:n]
    general = [q.text for q in splits["train"] if q.source == "nq-open"][:n]
    code = [t[:1500] for t, s in zip(texts, sources, strict=True) if s == "python-code"][:n]
    prose = [t[:1500] for t, s in zip(texts, sources, strict=True) if s in ("wikipedia", "news")][:n]
    return {"Golden Gate / San Francisco": (gg_pos, gg_neg), "health question": (health, general),
            "Python code": (code, prose)}


def label_and_ship(model, tok, info: ModelInfo, *, sae_dir: Path, corpus: Path, skip_chars: int, chars: int,
                   out_pack: Path, report: Path, n_random: int = 32, n_concept: int = 4, seed: int = 0,
                   command: str = "") -> dict:
    sae_path = sae_dir / "sae"
    sae, cfg = load_saelens_topk(sae_path)
    layer, s = int(cfg["hook_layer"]), float(cfg["scaling_factor"])
    texts, sources = held_out_texts(corpus, skip_chars, chars)
    if not texts:
        raise ValueError(f"no corpus text after the first {skip_chars} characters: lower --skip-chars")
    sc = scan(sae, s, model, tok, texts, sources, layer=layer)
    live = [i for i in range(sae.width) if sc.freq[i] > 0]
    labels = {i: label_latent(sc, i) for i in live}
    (sae_dir / "labels.json").write_text(json.dumps(
        {str(i): {"label": x.label, "freq": x.freq, "max": x.max_activation, "code_share": x.code_share,
                  "top": [c.snippet for c in x.contexts[:3]]} for i, x in labels.items()}, indent=0))

    groups: dict[str, list[int]] = {}
    search = {}
    for name, (pos, neg) in concepts(texts, sources).items():
        found = concept_latents(sae, s, model, tok, pos, neg, layer=layer, n=n_concept)
        search[name] = [{"latent": i, "auroc": a, "pos_mean_max": p, "neg_mean_max": q} for i, a, p, q in found]
        groups[f"concept: {name}"] = [i for i, *_ in found if i in labels]
    chosen = {i for idx in groups.values() for i in idx}
    pool = sorted(set(live) - chosen)
    groups[f"random sample (seed {seed})"] = sorted(random.Random(seed).sample(pool, min(n_random, len(pool))))
    ship = [i for idx in groups.values() for i in idx]
    ship = list(dict.fromkeys(ship))

    train_report = json.loads((sae_dir / "report.json").read_text())
    import_sae("saelens", sae_path, out_pack, features=ship, pack_id=out_pack.name, model=info, layer=layer,
               labels=[labels[i].label for i in ship], max_activation=[labels[i].max_activation for i in ship],
               title=f"SAE latents, layer {layer} (TopK, width {sae.width}, k {sae.k})",
               description=f"{len(ship)} labelled latents of a TopK SAE trained by `steer sae train` on the "
                           "steerserve corpus (prose + Python code); labels are automatic (top contexts on "
                           "held-out text).", command=command)
    intro = (f"TopK SAE at layer {layer}: width {sae.width}, k {sae.k}, held-out FVU "
             f"{train_report['heldout_fvu']:.3f}, trained on {train_report['tokens_collected']:,} tokens "
             f"({train_report['train_tokens_seen']:,} token passes; [training report](training.md)). Labels and "
             f"contexts from {len(texts):,} held-out corpus documents ({sc.n_tokens:,} tokens) the SAE never trained "
             f"on; {len(live):,} of {sae.width:,} latents fire there. Labels are automatic: the most common "
             "highlighted token when it dominates the top contexts, else the most common nearby words; [code] / "
             "[prose] when ≥ 75% of the contexts come from one register. Reproduce: "
             f"`{command}`.\n\nShipped as `{out_pack}` ({len(ship)} latents). Contrastive search: AUROC "
             "of each latent's per-text max, positive vs negative texts:\n\n" +
             "\n".join(f"- {name}: " + ", ".join(f"{r['latent']} ({r['auroc']:.3f})" for r in rows)
                       for name, rows in search.items()))
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(markdown(list(labels.values()), title=f"SAE features, layer {layer}", intro=intro,
                               groups=groups))
    for name in ("report.md", "loss.png"):
        if (sae_dir / name).exists():
            shutil.copy(sae_dir / name, report.parent / ("training.md" if name == "report.md" else name))
    return {"layer": layer, "live": len(live), "width": sae.width, "shipped": ship, "search": search,
            "held_out_docs": len(texts), "held_out_tokens": sc.n_tokens}
