"""``steer probe train``: build a probe / direction pack (topic, unsafe-code, gender, scope, deflect, say), measure
it held-out and write its card. Builders and evaluations are imported inside the commands, so ``--help`` answers
without loading torch."""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
import tempfile
from pathlib import Path

from server.cli.common import Group
from steering.model import EMBEDDED_MODEL_ID
from steerlab.cli.common import PACKS, invocation, load_model, model_option, model_path

EXAMPLES = [
    "steer probe train --method diff-means --id golden-gate --feature bridge \\\n"
    "--label 'Golden Gate Bridge / San Francisco' --titles 'Golden Gate,San Francisco' \\\n"
    f"--exclude 'golden gate,san francisco' --pattern 'golden gate|san francisco' --layer 15 \\\n--out {PACKS}/golden-gate",
    f"steer probe train --task unsafe-code --out {PACKS}/unsafe-code   # picks its layer on dev",
    f"steer probe train --task gender --method readout --out {PACKS}/gender   # picks its recipe on dev",
    f"steer probe train --task scope --method logistic --layers 10,15,18,20 --target-fpr 0.02 \\\n--out {PACKS}/topics",
    f"steer probe train --task deflect --out {PACKS}/scope-deflect   # steered deflection, strength chosen on dev",
    f"steer probe train --task say --out {PACKS}/golden-gate-say   # name the bridge, prompt-steered; chosen on dev",
]


def register(g: Group) -> None:
    t = g.command("train", "difference-of-means topic direction from packaged Wikipedia paragraphs; or the "
                  "unsafe-code, gender and scope packs (--task)", EXAMPLES, cmd_probe_train)
    t.add_argument("--task", choices=["topic", "unsafe-code", "gender", "scope", "deflect", "say"], default="topic",
                   help="topic: diff-of-means from Wikipedia titles; unsafe-code: logistic probe on labelled code; "
                   "gender: conditional he/she readout eraser (readout) or LEACE eraser (leace); scope: off-scope "
                   "monitor for a health assistant (topics pack); deflect: the direction a steered deflection adds "
                   "when that monitor fires (scope-deflect pack); say: a prompt-steered direction that makes replies name "
                   "the Golden Gate Bridge (golden-gate-say pack)")
    t.add_argument("--method", choices=["diff-means", "logistic", "leace", "readout"], default="diff-means")
    model_option(t)
    t.add_argument("--model-name", help="model name recorded in the pack (default: the embedded model's)")
    for name in ("id", "feature", "label", "titles", "exclude", "pattern"):
        t.add_argument(f"--{name}", help="topic task")
    t.add_argument("--out", required=True)
    t.add_argument("--layer", type=int, default=15)
    t.add_argument("--default-x", dest="default_x", type=float, default=1.5)
    t.add_argument("--strengths", default="0.5,1,1.5,2",
                   help="topic: strengths (× max_activation) measured on the build's 20 questions")
    t.add_argument("--target-fpr", dest="target_fpr", type=float, default=0.05,
                   help="unsafe-code: share of ordinary (stdlib) lines allowed over the threshold; scope: share of "
                   "in-scope calibration requests allowed over it")
    t.add_argument("--shrinkage", type=float, default=0.5, help="gender: covariance shrinkage towards identity")
    t.add_argument("--concept", choices=["model", "stereotype"], default="model",
                   help="gender: what to erase: the model's own he/she preference, or the occupation's stereotype score")
    t.add_argument("--positions", choices=["noun", "last"], default="noun",
                   help="gender: fit on the person noun and later tokens, or the last token only")
    t.add_argument("--no-keep-stated", dest="no_keep_stated", action="store_true",
                   help="gender: plain LEACE (do not protect explicitly stated gender)")
    t.add_argument("--no-balance", dest="no_balance", action="store_true",
                   help="gender: clamp to the mean instead of the calibrated balanced point")
    t.add_argument("--gate-layers", dest="gate_layers", default="27",
                   help="gender readout: candidate layers of the stated-gender gate (chosen on dev)")
    t.add_argument("--latch-layers", dest="latch_layers", default="none,9,18",
                   help="gender readout: candidate layers of the 'stated' latch, below the gate ('none': no latch)")
    t.add_argument("--erase", action="append", default=None,
                   help="gender readout: a candidate set of erase layers, e.g. 29 or 27,28,29 (repeat; default both)")
    t.add_argument("--gate-cues", dest="gate_cues", action="store_true",
                   help="gender readout: also fit the gate on the word-list cues of steerlab/build/gender_cues.py "
                   "(census names, titles, Bolukbasi nouns; needs PyPI names 0.3.0); off for the shipped pack")
    t.add_argument("--latch-words", dest="latch_words", choices=["fit", "all"], default="all",
                   help="gender readout: the shipped latch's cue words once the sweep has chosen a recipe: the fit "
                   "split's (as in the sweep) or every listed word (dev and test splits' names and nouns included)")
    t.add_argument("--latch-chat", dest="latch_chat", default="no,yes",
                   help="gender readout: candidate latch fit data: raw prompts only (no) or also chat turns that "
                   "state the gender (yes)")
    t.add_argument("--quantiles", default="0.99",
                   help="gender readout: candidate gate thresholds, as quantiles of fit occupation prompts' gate")
    t.add_argument("--holdout", default="", help="unsafe-code: comma-separated sources never trained on (codeshield: "
                   "so `steer eval detection --holdout codeshield` compares with bandit on labels neither produced)")
    t.add_argument("--layers", default="10,15,18,20", help="scope: candidate layers (chosen on the calibration split)")
    t.add_argument("--pooling", default="tokens,max,last", help="scope: candidate probes: tokens (per-token "
                   "logistic), max (logistic on the per-request max), last (logistic at the last prompt token, read "
                   "there only)")
    t.add_argument("--answer-tokens", dest="answer_tokens", type=int, default=32,
                   help="scope: greedy answer length the threshold is calibrated (and preservation measured) on")
    t.add_argument("--handwritten", action=argparse.BooleanOptionalAction, default=True,
                   help="scope: add the hand-written request sets A-E (steerlab/eval/data/scope_heldout{,_b,_c,_d,_e}.py)"
                   " to the training split and set F to the calibration split, where the threshold holds the target "
                   "rate in the hand-written register too (versions 4-6); set G stays held out")
    t.add_argument("--handwritten-weights", dest="handwritten_weights", default="1,3,10",
                   help="scope: candidate weights of a hand-written training request against a packaged one (the "
                   "`last` probe is fit once per weight; chosen on the calibration split)")
    t.add_argument("--restyle", type=float, default=0.5,
                   help="scope: share of training and calibration questions (both classes) rephrased casually "
                   "(steerlab/build/restyle.py) so that style carries no label; 0 = as packaged")
    t.add_argument("--config", default="examples/scope-health.yaml", help="scope: policy file with the profile")
    t.add_argument("--profile", default="health-assistant", help="scope: profile to evaluate")


def cmd_probe_train(a: argparse.Namespace) -> int:
    from steering.pack import ModelInfo

    path = model_path(a.model)
    model, tok = load_model(path)
    info = ModelInfo.from_hf_config(model.config, a.model_name or EMBEDDED_MODEL_ID)
    if a.task == "gender":
        return _train_gender(a, model, tok, info)
    if a.task == "scope":
        return _train_scope(a, model, tok, info, path)
    if a.task == "unsafe-code":
        return _train_unsafe_code(a, model, tok, info)
    if a.task == "deflect":
        return _train_deflect(a, model, tok, info, path)
    if a.task == "say":
        return _train_say(a, model, tok, info)
    return _train_topic(a, model, tok, info)


def _train_topic(a: argparse.Namespace, model, tok, info) -> int:
    from steerlab.build.topic_pack import build_topic_pack

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


def _train_unsafe_code(a: argparse.Namespace, model, tok, info) -> int:
    from steering.pack import write_pack_card
    from steerlab.build.unsafe_code_card import card
    from steerlab.build.unsafe_code_pairs import build_unsafe_code_pairs_pack
    from steerlab.eval.unsafe_code import describe_set, evaluate_unsafe_code, report

    r = build_unsafe_code_pairs_pack(model, tok, info, out=Path(a.out), command=invocation())
    held = evaluate_unsafe_code(model, tok, r["pack"], set_name="g")
    write_pack_card(Path(a.out), card(r["pack"].manifest.model_dump(), r, held, report(held), describe_set(held)))
    print(f"layer {r['layer']}, threshold {r['threshold']:.3f}; held-out:\n{report(held)}")
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
    r = build_gender_pack(model, tok, info, out=Path(a.out), layer=a.layer, shrinkage=a.shrinkage, label=a.concept,
                          positions=a.positions, keep_stated=not a.no_keep_stated, balance=not a.no_balance,
                          pack_id=a.id or "gender", command=invocation())
    report = evaluate_bias(model, tok, r["pack"])
    write_card(Path(a.out), r, report)
    print(json.dumps({k: v for k, v in report.to_json().items() if not k.startswith("per_")}, indent=2))
    return 0


def _train_gender_readout(a: argparse.Namespace, model, tok, info) -> int:
    """Conditional readout eraser: sweep recipes on dev, build the chosen one on fit, measure on test and on the
    hand-written held-out set, write the card (what `steer eval bias` reproduces)."""
    from steerlab.build.gender_readout import Recipe, build_readout_pack, choose, dev_sweep, sweep_table
    from steerlab.eval.bias import DEV_SETS, HELDOUT_SETS, evaluate_bias, evaluate_heldout
    from steerlab.eval.bias_report import heldout_markdown, summary_table

    command = invocation()
    erase = [tuple(int(x) for x in e.split(",")) for e in (a.erase or ["29", "27,28,29"])]
    latch = [None if x == "none" else int(x) for x in a.latch_layers.split(",")]
    chat = [c == "yes" for c in a.latch_chat.split(",")]
    recipes = list(dict.fromkeys(Recipe(g, e, q, latch_layer=x, chat=c and x is not None)  # no latch: chat is moot
                                 for g, e, q, x, c in itertools.product(
                                     [int(x) for x in a.gate_layers.split(",")], erase,
                                     [float(x) for x in a.quantiles.split(",")], latch, chat)))
    with tempfile.TemporaryDirectory(prefix="gender-sweep-") as tmp:  # candidates never land in a packs root
        rows = dev_sweep(model, tok, info, recipes, Path(tmp), cues=a.gate_cues)
    chosen = choose(recipes, rows)
    best = chosen  # the sweep fits latches on fit words; the shipped one may read every listed word (decision 72)
    if chosen.latch_layer is not None:
        best = dataclasses.replace(chosen, latch_words=a.latch_words)
    latches: dict = {}  # the latch's token states, shared by the two builds below
    pack, _ = build_readout_pack(model, tok, info, out=Path(a.out), recipe=best, command=command, cues=a.gate_cues,
                                 latches=latches)
    report = evaluate_bias(model, tok, pack)
    heldout = [evaluate_heldout(model, tok, pack, name=n) for n in HELDOUT_SETS + DEV_SETS]
    sets = "\n".join(heldout_markdown(h).replace("## ", "### ") for h in heldout)
    extra = (f"\n## Measured\nReproduce with `steer eval bias --pack {a.out} --out docs/eval`.\n\n"
             f"### Test split of `steerlab/build/bias_data.py` (never used to fit or choose)\n{summary_table(report)}\n\n"
             f"{sets}\n## Dev sweep (chosen: largest skew drop with perplexity ≤ ×1.05 and all five agreements within "
             f"5 points)\n{sweep_table(rows, chosen)}\n")
    pack, _ = build_readout_pack(model, tok, info, out=Path(a.out), recipe=best, command=command, card_extra=extra,
                                 cues=a.gate_cues, latches=latches)
    print(summary_table(report))
    print(sets)
    return 0


def _train_deflect(a: argparse.Namespace, model, tok, info, path) -> int:
    """Deflection direction: per candidate layer from the scope train split, strength and layer chosen on the
    calibration split through the HF engine, then measured on the hand-written requests (the card)."""
    from steering.pack import load_pack, write_pack_card
    from steerlab.build.deflect_pack import build_deflect_pack, card
    from steerlab.eval.deflection import ask_all
    from steerlab.eval.scope_server import handwritten_questions, handwritten_source

    topics = load_pack(f"{PACKS}/topics")
    r = build_deflect_pack(model, tok, info, path, topics, out=Path(a.out), model_id=info.name, command=invocation())
    print(json.dumps(r["chosen"], indent=1))
    qs = handwritten_questions()
    block = ask_all(path, [topics, r["pack"]], "examples/scope-health.yaml", "health-assistant", qs, model_id=info.name)
    steered = ask_all(path, [topics, r["pack"]], "examples/scope-health-steered.yaml", "health-assistant-steered", qs,
                      model_id=info.name, plain=[x.plain for x in block.replies])
    write_pack_card(Path(a.out), card(r["pack"].manifest.model_dump(), r, [block, steered], handwritten_source()))
    for run in (block, steered):
        print(run.summary())
    return 0


def _train_say(a: argparse.Namespace, model, tok, info) -> int:
    """Say-the-concept direction: layers and strength chosen on dev questions (prompt only), then measured once on
    held-out questions beside prompting (the card)."""
    from steering.pack import write_pack_card
    from steerlab.build.say_pack import build_say_pack, card

    command = invocation()
    r = build_say_pack(model, tok, info, out=Path(a.out), command=command)
    write_pack_card(Path(a.out), card(r, command))
    print(f"chosen: layers {r['layers']} at {r['strength']:g}x; card: {Path(a.out) / 'README.md'}")
    return 0


def _train_scope(a: argparse.Namespace, model, tok, info, path) -> int:
    """Off-scope probe for a health assistant: fit on train, choose layer/pooling and calibrate on the calibration
    split, then measure on the held-out split (through the runtime, a sample through the HF engine) and write the
    card (what `steer eval scope` reproduces)."""
    from steerlab.build.restyle import restyled
    from steerlab.build.scope_card import write_card
    from steerlab.build.scope_data import handwritten_requests, scope_splits
    from steerlab.build.scope_pack import build_scope_pack
    from steerlab.eval.scope_server import CALIBRATION_SETS, HANDWRITTEN_SETS, TRAINING_SETS, answers_cache, run_scope_eval

    splits, dropped = scope_splits()
    for name in ("train", "calib"):
        splits[name] = restyled(splits[name], a.restyle, seed=f"restyle-{name}")
    if a.handwritten:  # hand-written sets measured before: A-E train, F calibrates (version 6)
        splits["train"] += handwritten_requests(HANDWRITTEN_SETS[s][0] for s in TRAINING_SETS)
        splits["calib"] += handwritten_requests(HANDWRITTEN_SETS[s][0] for s in CALIBRATION_SETS)
    r = build_scope_pack(model, tok, info, out=Path(a.out), splits=splits,
                         layers=[int(x) for x in a.layers.split(",")], methods=tuple(a.pooling.split(",")),
                         target_fpr=a.target_fpr, max_new_tokens=a.answer_tokens, dropped=dropped,
                         cache_file=answers_cache(info.name, a.answer_tokens), command=invocation(),
                         restyle=a.restyle, weights=tuple(float(x) for x in a.handwritten_weights.split(",")))
    print(json.dumps({"chosen": r["chosen"], "sweep": r["sweep"]}, indent=2))
    report = run_scope_eval(path, r["pack"], policy_path=a.config, profile=a.profile,
                            max_tokens=a.answer_tokens, model=model, tokenizer=tok, model_id=info.name)
    write_card(Path(a.out), r, report)
    print({k: v for k, v in report.to_json().items() if k != "outcomes"})
    return 0
