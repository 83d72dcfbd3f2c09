"""``steer sae label``: label a trained SAE's latents on held-out corpus text and ship a labelled subset as a pack.

Which latents ship (no cherry-picking by hand):

* per concept of the shipped packs (Golden Gate / San Francisco, health questions, Python code), the ``n_concept``
  best latents of a contrastive search (:func:`~steerlab.build.sae_features.concept_latents`);
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

from steering.pack import ModelInfo, write_pack_card
from steering.pack.importers import import_sae
from steerlab.build.corpus import iter_corpus
from steerlab.build.data import topic_split
from steerlab.build.sae import load_saelens_topk
from steerlab.build.sae_features import concept_latents, label_latent, markdown, scan
from steerlab.build.scope_data import scope_splits


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
    return {"golden-gate": (gg_pos, gg_neg), "health": (health, general), "code": (code, prose)}


CONCEPTS = {"golden-gate": "Golden Gate / San Francisco paragraphs vs other Wikipedia paragraphs",
            "health": "health questions (HealthSearchQA) vs general questions (NQ-open)",
            "code": "Python standard-library code vs Wikipedia / news prose"}


def label_and_ship(model, tok, info: ModelInfo, *, sae_dir: Path, corpus: Path, skip_chars: int, chars: int,
                   out_pack: Path, report: Path, n_random: int = 32, n_concept: int = 4, seed: int = 0,
                   command: str = "") -> dict:
    sae_path = sae_dir / "sae"
    sae, cfg = load_saelens_topk(sae_path)
    layer, s = int(cfg["hook_layer"]), 1.0  # load_saelens_topk folds any input scaling into the weights
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
        groups[name] = [i for i, *_ in found if i in labels]
    chosen = {i for idx in groups.values() for i in idx}
    pool = sorted(set(live) - chosen)
    groups["random"] = sorted(random.Random(seed).sample(pool, min(n_random, len(pool))))
    names = {}
    for group, idx in groups.items():  # a latent found by two searches keeps its first name
        for i in idx:
            names.setdefault(i, f"f{i}" if group == "random" else f"{group}-{i}")
    ship = list(names)

    train_report = json.loads((sae_dir / "report.json").read_text())
    import_sae("saelens", sae_path, out_pack, features=ship, pack_id=out_pack.name, model=info, layer=layer,
               labels=[labels[i].label for i in ship], names=[names[i] for i in ship],
               max_activation=[labels[i].max_activation for i in ship],
               title=f"SAE latents, layer {layer} (TopK, width {sae.width}, k {sae.k})",
               description=f"{len(ship)} labelled latents of a TopK SAE trained by `steer sae train` on the "
                           "steerserve corpus (prose + Python code); labels are automatic (top contexts on "
                           "held-out text).", command=command)
    intro = (f"TopK SAE at layer {layer}: width {sae.width}, k {sae.k}, held-out FVU "
             f"{train_report['heldout_fvu_typical']:.3f} on ordinary tokens ({train_report['heldout_fvu']:.3f} "
             f"counting massive-activation tokens), trained on {train_report['tokens_collected']:,} tokens "
             f"({train_report['train_tokens_seen']:,} token passes; [training report](training.md)). Labels and "
             f"contexts from {len(texts):,} held-out corpus documents ({sc.n_tokens:,} tokens) the SAE never trained "
             f"on; {len(live):,} of {sae.width:,} latents fire there. Labels are automatic: the most common "
             "highlighted token when it dominates the top contexts, else the most common nearby words; [code] / "
             "[prose] when ≥ 75% of the contexts come from one register. Reproduce: "
             f"`{command}`.\n\nShipped as `{out_pack}` ({len(ship)} latents). Contrastive search: AUROC "
             "of each latent's per-text max, positive vs negative texts:\n\n" +
             "\n".join(f"- `{name}` ({CONCEPTS[name]}): " + ", ".join(f"{r['latent']} ({r['auroc']:.3f})"
                                                                     for r in rows) for name, rows in search.items()))
    write_pack_card(out_pack, card(out_pack.name, train_report, labels, groups, names, search, report,
                                   command, n_docs=len(texts), n_tokens=sc.n_tokens, live=len(live)))
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(markdown(list(labels.values()), title=f"SAE features, layer {layer}", intro=intro,
                               groups=groups))
    for name in ("report.md", "loss.png"):
        if (sae_dir / name).exists():
            shutil.copy(sae_dir / name, report.parent / ("training.md" if name == "report.md" else name))
    return {"layer": layer, "live": len(live), "width": sae.width, "shipped": ship, "search": search,
            "held_out_docs": len(texts), "held_out_tokens": sc.n_tokens}


def card(pack_id: str, t: dict, labels: dict, groups: dict[str, list[int]], names: dict[int, str], search: dict,
         report: Path, command: str, *, n_docs: int, n_tokens: int, live: int) -> str:
    """The pack's README: how the SAE was trained (numbers from its report.json), how latents were chosen and
    labelled, and every shipped latent's label."""
    rows = []
    for group, idx in groups.items():
        for i in idx:
            x = labels[i]
            rows.append(f"| `{names[i]}` | {i} | {x.label} | {group} | {x.freq:.3%} | {x.max_activation:.2f} |")
    found = "\n".join(f"  - `{name}` ({CONCEPTS[name]}): " + ", ".join(f"latent {r['latent']} (AUROC {r['auroc']:.3f})"
                                                                      for r in rs) for name, rs in search.items())
    return f"""# SAE latents, layer {t['layer']} (`{pack_id}`)

Labelled latents of a TopK sparse autoencoder (OpenAI recipe with AuxK) trained by steerserve on SmolLM2-135M-Instruct's
layer-{t['layer']} residual stream. Default op `monitor`; `clamp`/`add` work (values × `max_activation`), but no
latent here is calibrated as a steering control — the `golden-gate` direction is (see its card and
docs/eval/concept.md).

## How it was built
- SAE: `{t['command']}` — width {t['width']}, k {t['k']}, {t['tokens_collected']:,} tokens collected from the
  steerserve corpus (`steer corpus build --tokens 6000000 --seed 0`: Wikipedia, news, dialogue, questions, CPython
  standard library), {t['train_tokens_seen']:,} token passes (time on this 2-core CPU: docs/eval/README.md).
- Held-out reconstruction (tokens the optimiser never saw): **FVU {t['heldout_fvu_typical']:.3f}** on ordinary
  tokens ({t['heldout_fvu']:.3f} over all: {t['heldout_massive_tokens']} massive-activation tokens hold most of the
  variance), L0 {t['heldout_l0']:.1f}, {t['never_fire_on_heldout']} latents never fire on them, {t['dead_at_end']}
  dead at the end of training.
- Full SAE in SAELens format (not in git: {t['width']} × 576 × 2 matrices): produced by the command above under
  `~/.cache/steerserve/sae/`.
- Labels: `{command}` — {n_docs:,} corpus documents after the training text ({n_tokens:,} tokens) through the
  whole TopK SAE; {live:,} latents fire there. The label is the dominant highlighted token when one covers half of
  the top contexts, else the most common nearby words; [code] / [prose] when ≥ 75% of contexts come from one
  register. Automatic, unreviewed.
- Which latents ship (by rule, decision 33): per concept, the best latents of a contrastive search (AUROC of the
  per-text max, positive vs negative texts; named `<concept>-<latent>`), plus a seeded random sample of live latents
  (named `f<latent>`):
{found}
- In a pack a TopK latent is read as ReLU of its pre-activation (other latents cannot compete for the top k), so
  it can be active where the full SAE would have dropped it; `max_activation` = its largest value on the held-out
  text under the full SAE.

## Latents
Browsable top contexts: [{report}](../../../{report}).

| feature | latent | label | chosen as | fires on (held-out tokens) | max_activation |
|---|---|---|---|---|---|
{chr(10).join(rows)}
"""
