"""``steer`` offline commands: building packs (probe train, corpus, SAE train/label), feature discovery and the
held-out evaluations. Registered by :func:`server.cli.parser`; heavy imports happen inside each function."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def cmd_probe_train(a: argparse.Namespace) -> int:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from steering.model import EMBEDDED_MODEL_ID, prepare_embedded_model
    from steering.pack import ModelInfo
    from steerlab.build.topic_pack import build_topic_pack

    path = a.model or prepare_embedded_model()
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval()
    c = model.config
    info = ModelInfo.from_hf_config(c, a.model_name or EMBEDDED_MODEL_ID)
    if a.task == "gender":
        return _train_gender(a, model, tok, info)
    if a.task == "scope":
        return _train_scope(a, model, tok, info, path)
    if a.task == "unsafe-code":
        from steering.pack import write_pack_card
        from steerlab.build.unsafe_code_pairs import build_unsafe_code_pairs_pack, card
        from steerlab.eval.unsafe_code import evaluate_unsafe_code, report

        r = build_unsafe_code_pairs_pack(model, tok, info, out=Path(a.out), command="steer " + " ".join(sys.argv[1:]))
        held = evaluate_unsafe_code(model, tok, r["pack"])
        write_pack_card(Path(a.out), card(r["pack"].manifest.model_dump(), r, held, report(held)))
        print(f"layer {r['layer']}, threshold {r['threshold']:.3f}; held-out:\n{report(held)}")
        return 0
    missing = [n for n in ("id", "feature", "label", "titles", "exclude", "pattern") if getattr(a, n) is None]
    if missing:
        print(f"error: --task topic needs --{', --'.join(missing)}", file=sys.stderr)
        return 2
    r = build_topic_pack(model, tok, info, out=Path(a.out), pack_id=a.id, feature=a.feature, label=a.label,
                         titles=tuple(a.titles.split(",")), exclude=tuple(a.exclude.split(",")), pattern=a.pattern,
                         layer=a.layer, default_x=a.default_x,
                         strengths=tuple(float(x) for x in a.strengths.split(",")))
    for p in r["points"]:
        print(f"{p['op']:>5} {p['value']:8.3f}  mention {p['mention_rate']:.0%}  ppl ratio {p['ppl_ratio']:.2f}")
    return 0


def _train_gender(a: argparse.Namespace, model, tok, info) -> int:
    """LEACE gender eraser: fit and calibrate on the fit split, then measure on the held-out split and write the
    card (the same numbers `steer eval bias` reproduces)."""
    from steerlab.build.gender_pack import build_gender_pack, write_card
    from steerlab.eval.bias import evaluate_bias

    if a.method == "readout":
        return _train_gender_readout(a, model, tok, info)
    if a.method != "leace":
        print("error: --task gender supports --method readout or leace", file=sys.stderr)
        return 2
    command = "steer " + " ".join(sys.argv[1:])
    r = build_gender_pack(model, tok, info, out=Path(a.out), layer=a.layer, shrinkage=a.shrinkage, label=a.concept,
                          positions=a.positions, keep_stated=not a.no_keep_stated, balance=not a.no_balance,
                          pack_id=a.id or "gender", command=command)
    report = evaluate_bias(model, tok, r["pack"])
    write_card(Path(a.out), r, report)
    print(json.dumps({k: v for k, v in report.to_json().items() if not k.startswith("per_")}, indent=2))
    return 0


def _train_gender_readout(a: argparse.Namespace, model, tok, info) -> int:
    """Conditional readout eraser: sweep recipes on dev, build the chosen one on fit, measure on test and on the
    hand-written held-out set, write the card (what `steer eval bias` reproduces)."""
    import itertools
    import tempfile

    from steerlab.build.gender_readout import Recipe, build_readout_pack, choose, dev_sweep, sweep_table
    from steerlab.eval.bias import HELDOUT_SETS, evaluate_bias, evaluate_heldout
    from steerlab.eval.bias_report import heldout_markdown, summary_table

    command = "steer " + " ".join(sys.argv[1:])
    erase = [tuple(int(x) for x in e.split(",")) for e in (a.erase or ["29", "27,28,29"])]
    recipes = [Recipe(g, e, q) for g, e, q in itertools.product(
        [int(x) for x in a.gate_layers.split(",")], erase, [float(x) for x in a.quantiles.split(",")])]
    with tempfile.TemporaryDirectory(prefix="gender-sweep-") as tmp:  # candidates never land in a packs root
        rows = dev_sweep(model, tok, info, recipes, Path(tmp))
    best = choose(recipes, rows)
    pack, _ = build_readout_pack(model, tok, info, out=Path(a.out), recipe=best, command=command)
    report = evaluate_bias(model, tok, pack)
    heldout = [evaluate_heldout(model, tok, pack, name=n) for n in HELDOUT_SETS]
    sets = "\n".join(heldout_markdown(h).replace("## ", "### ") for h in heldout)
    extra = (f"\n## Measured\nReproduce with `steer eval bias --pack {a.out} --out docs/eval`.\n\n"
             f"### Test split of `steerlab/build/bias_data.py` (never used to fit or choose)\n{summary_table(report)}\n\n"
             f"{sets}\n## Dev sweep (chosen: largest skew drop with perplexity ≤ ×1.05 and both agreements within "
             f"5 points)\n{sweep_table(rows, best)}\n")
    pack, _ = build_readout_pack(model, tok, info, out=Path(a.out), recipe=best, command=command, card_extra=extra)
    print(summary_table(report))
    print(sets)
    return 0


def _train_scope(a: argparse.Namespace, model, tok, info, model_path) -> int:
    """Off-scope probe for a health assistant: fit on train, choose layer/pooling and calibrate on the calibration
    split, then measure on the held-out split (through the runtime, a sample through the HF engine) and write the
    card (what `steer eval scope` reproduces)."""
    from steerlab.build.scope_data import scope_splits
    from steerlab.build.scope_pack import build_scope_pack, write_card
    from steerlab.eval.scope_server import answers_cache, run_scope_eval

    splits, dropped = scope_splits()
    r = build_scope_pack(model, tok, info, out=Path(a.out), splits=splits,
                         layers=[int(x) for x in a.layers.split(",")], methods=tuple(a.pooling.split(",")),
                         target_fpr=a.target_fpr, max_new_tokens=a.answer_tokens, dropped=dropped,
                         cache_file=answers_cache(info.name, a.answer_tokens), command="steer " + " ".join(sys.argv[1:]))
    print(json.dumps({"chosen": r["chosen"], "sweep": r["sweep"]}, indent=2))
    report = run_scope_eval(model_path, r["pack"], policy_path=a.config, profile=a.profile,
                            max_tokens=a.answer_tokens, model=model, tokenizer=tok, model_id=info.name)
    write_card(Path(a.out), r, report)
    print({k: v for k, v in report.to_json().items() if k != "outcomes"})
    return 0


def cmd_eval_scope(a: argparse.Namespace) -> int:
    from steering.model import EMBEDDED_MODEL_ID, prepare_embedded_model
    from steering.pack import load_pack
    from steerlab.eval.scope import summary_table, write_report
    from steerlab.eval.scope_server import run_scope_eval

    pack = load_pack(a.pack)
    report = run_scope_eval(a.model or prepare_embedded_model(), pack, policy_path=a.config, profile=a.profile,
                            max_tokens=a.max_tokens, batch=a.batch, n_check=a.check, model_id=EMBEDDED_MODEL_ID)
    md, png = write_report(report, Path(a.out), "steer " + " ".join(sys.argv[1:]))
    print(summary_table(report))
    print(f"wrote {md} and {png}")
    return 0


def cmd_eval_concept(a: argparse.Namespace) -> int:
    from steering.generate import POSITIONS
    from steering.pack import load_pack
    from steering.runtime import SteeringRuntime
    from steerlab.build.topic_pack import held_out_questions
    from steerlab.eval.concept import TOPIC_PROMPTS, ConceptRun, concept_sweep, reference, write_report

    model, tok = _model_and_tokenizer(a.model)
    def terms(x: str) -> tuple[str, ...]:
        return tuple(e.strip().lower() for e in x.split(",") if e.strip())

    for x in a.positions.split(","):
        if x not in POSITIONS:
            raise SystemExit(f"--positions: {x!r} is not one of {', '.join(POSITIONS)}")
    prompts = held_out_questions(a.prompts, terms(a.exclude), terms(a.build_exclude))
    ref = None
    if a.topic:
        ref = reference(model, tok, prompts, [t.format(topic=a.topic) for t in TOPIC_PROMPTS], a.max_tokens)
        print(f"reference perplexity ratios: on-topic answer {ref.on_topic:.2f}, sampled reply {ref.sampled:.2f}")
    runs = []
    for path in a.pack:
        pack = load_pack(path)
        feature = a.feature or pack.manifest.features[0].name
        rt = SteeringRuntime([pack], model.config.hidden_size)
        max_act = rt.column((pack.id, feature)).max_activation
        settings = [("none", 0.0)] + [(a.op, float(x) * max_act) for x in a.strengths.split(",")]
        for positions in a.positions.split(","):
            points = concept_sweep(model, tok, rt, (pack.id, feature), prompts, a.pattern, settings,
                                   max_new_tokens=a.max_tokens, positions=positions)
            runs.append(ConceptRun(f"{pack.id}/{feature} (layer {pack.layer})", pack.layer, positions, points))
            for p in points:
                print(f"{runs[-1].title} {p.op:>5} {p.x:5.2f}x  "
                      f"mention {p.mention_rate:4.0%}  ppl ratio {p.ppl_ratio:5.2f}  repetition {p.repetition:.2f}")
    md, png = write_report(runs, Path(a.out), command="steer " + " ".join(sys.argv[1:]), n_prompts=len(prompts),
                           pattern=a.pattern, stem=a.stem, ref=ref)
    print(f"wrote {md} and {png}")
    return 0


def cmd_eval_detection(a: argparse.Namespace) -> int:
    from steering.model import cache_dir
    from steering.pack import load_pack
    from steerlab.build.code_data import load_bandit_examples, load_codeshield
    from steerlab.eval.detection import detection_report, write_report

    model, tok = _model_and_tokenizer(a.model)
    pack = load_pack(a.pack)
    files = load_bandit_examples(cache_dir() / "data") + load_codeshield()
    r = detection_report(model, tok, pack, files, seed=a.seed,
                         holdout_sources=tuple(x for x in a.holdout.split(",") if x))
    md = write_report(r, Path(a.out), "steer " + " ".join(sys.argv[1:]))
    for name, e in r["sets"].items():
        line = f"{name}: probe AUROC {e['probe_auroc']:.3f} P {e['probe_precision']:.3f} R {e['probe_recall']:.3f}"
        for key in ("bandit ≥ MEDIUM", "bandit ≥ LOW"):
            if key in e:
                line += f"; {key} P {e[key]['precision']:.3f} R {e[key]['recall']:.3f}"
        print(line)
    print(f"wrote {md}")
    return 0


def cmd_eval_unsafe_code(a: argparse.Namespace) -> int:
    """The unsafe-code monitor on the held-out matched pairs beside bandit (what its card reports)."""
    from steering.pack import load_pack
    from steerlab.eval.unsafe_code import evaluate_unsafe_code, plot, report

    model, tok = _model_and_tokenizer(a.model)
    r = evaluate_unsafe_code(model, tok, load_pack(a.pack))
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    plot(r, out / "unsafe-code.png")
    (out / "unsafe-code.json").write_text(json.dumps(r, indent=1))
    cmd = "steer " + " ".join(sys.argv[1:])
    (out / "unsafe-code.md").write_text(
        f"# unsafe-code monitor on held-out matched pairs\n\nCommand: `{cmd}`\n\n"
        f"{r['pairs']} hand-written programs, each insecure and fixed, written before the pack's generators and never "
        f"trained on (`steerlab/eval/data/unsafe_code_heldout.py`), in four contexts (raw; in a chat message; cut "
        f"off after the construct; inside markdown prose). Probe: max over the text's tokens of the logit at layer "
        f"{r['layer']}, threshold {r['threshold']}. bandit 1.9.4 on the same texts (score = highest severity).\n\n"
        f"{report(r)}\n\n![held-out AUROC and recall](unsafe-code.png)\n\nPer-program scores: unsafe-code.json.\n")
    print(report(r))
    print(f"wrote {out / 'unsafe-code.md'}")
    return 0


def cmd_eval_bias(a: argparse.Namespace) -> int:
    from steering.pack import load_pack
    from steerlab.eval.bias import HELDOUT_SETS, evaluate_bias, evaluate_heldout
    from steerlab.eval.bias_report import heldout_markdown, summary_table, write_report

    pack = load_pack(a.pack)
    model, tok = _model_and_tokenizer(a.model)
    report = evaluate_bias(model, tok, pack, split=a.split)
    heldout = [evaluate_heldout(model, tok, pack, name=n) for n in HELDOUT_SETS] if a.split == "test" else []
    md, png = write_report(report, Path(a.out), "steer " + " ".join(sys.argv[1:]), heldout)
    print(summary_table(report))
    for h in heldout:
        print(heldout_markdown(h))
    print(f"wrote {md} and {png}")
    return 0


def cmd_corpus_build(a: argparse.Namespace) -> int:
    from steerlab.build.corpus import build_corpus, default_corpus_dir

    out = Path(a.out) if a.out else default_corpus_dir()
    m = build_corpus(out, sources=a.sources.split(",") if a.sources else None, max_tokens_total=a.tokens, seed=a.seed)
    print(json.dumps(m.to_json(), indent=2)[:4000])
    return 0


def cmd_sae_train(a: argparse.Namespace) -> int:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from steering.model import EMBEDDED_MODEL_ID, prepare_embedded_model
    from steerlab.build.sae_train import sae_train

    path = a.model or prepare_embedded_model()
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, a.dtype)).eval()
    r = sae_train(model, tok, model_name=EMBEDDED_MODEL_ID, layer=a.layer, width=a.width, k=a.k, chars=a.chars,
                  steps=a.steps, batch=a.batch, out=Path(a.out).expanduser(), lr=a.lr, context=a.context,
                  corpus=Path(a.corpus).expanduser() if a.corpus else None,
                  command="steer " + " ".join(sys.argv[1:]))
    print(json.dumps(r, indent=2))
    return 0


def cmd_sae_label(a: argparse.Namespace) -> int:
    from steering.model import EMBEDDED_MODEL_ID
    from steering.pack import ModelInfo
    from steerlab.build.sae_pack import label_and_ship

    model, tok = _model_and_tokenizer(a.model)
    c = model.config
    info = ModelInfo.from_hf_config(c, EMBEDDED_MODEL_ID)
    r = label_and_ship(model, tok, info, sae_dir=Path(a.sae).expanduser(), corpus=Path(a.corpus).expanduser(),
                       skip_chars=a.skip_chars, chars=a.chars, out_pack=Path(a.out_pack), report=Path(a.report),
                       n_random=a.random, n_concept=a.per_concept, seed=a.seed,
                       command="steer " + " ".join(sys.argv[1:]))
    print(json.dumps(r, indent=1))
    return 0


def _model_and_tokenizer(path_arg):
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from steering.model import prepare_embedded_model

    path = path_arg or prepare_embedded_model()
    return AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32).eval(), AutoTokenizer.from_pretrained(path)


def _texts(path: str) -> list[str]:
    """Blank-line-separated paragraphs of a text file."""
    return [t.strip() for t in Path(path).read_text().split("\n\n") if t.strip()]


def cmd_features(a: argparse.Namespace) -> int:
    from steering.pack import load_pack
    from steering.runtime import SteeringRuntime
    from steerlab.build.activations import layer_activations
    from steerlab.build.features import contrastive, markdown_report, top_contexts
    from steerlab.build.sae_train import corpus_texts, default_texts

    pack = load_pack(a.pack)
    model, tok = _model_and_tokenizer(a.model)
    rt = SteeringRuntime([pack], model.config.hidden_size)
    site = rt.sites[pack.layer]
    names = {rt.columns[(pack.id, f.name)].col: f.name for f in pack.manifest.features}
    if a.fcmd == "search":
        pos = list(layer_activations(model, tok, _texts(a.positive), pack.layer, desc="positive"))
        neg = list(layer_activations(model, tok, _texts(a.negative), pack.layer, desc="negative"))
        for col, score, p, n in contrastive(pos, neg, site.activation, n=a.n):
            print(f"{names[col]:>12}  score {score:+.2f}  mean max: positive {p:.3f}  negative {n:.3f}")
        return 0
    texts = corpus_texts(Path(a.corpus), a.chars) if a.corpus else default_texts(a.chars)
    acts = list(layer_activations(model, tok, texts, pack.layer, desc="texts"))
    tokens = [[tok.decode([t]) for t in tok(x, truncation=True, max_length=256)["input_ids"][1:]] for x in texts]
    want = list(names.values()) if a.features == "all" else a.features.split(",") if a.features else \
        list(names.values())[:20]
    cols = [rt.column((pack.id, w)).col for w in want]
    top = top_contexts(acts, tokens, site.activation, cols, n_top=a.n)
    report = markdown_report(top, names)
    if a.write_examples:
        from steering.pack.examples import write_examples

        corpus = f"steer corpus build directory {Path(a.corpus).name}" if a.corpus else "built-in prose + code mix"
        dest = write_examples(Path(a.pack), {names[c]: [(x.value, x.snippet) for x in ctxs] for c, ctxs in top.items()},
                              command=" ".join(["steer", *sys.argv[1:]]), corpus=f"{corpus}, {a.chars} chars")
        print(f"wrote {dest}", file=sys.stderr)
    if a.out:
        Path(a.out).write_text(report)
    print(report)
    return 0
