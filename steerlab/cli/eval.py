"""``steer eval bias|concept|detection|unsafe-code|scope``: the held-out evaluations of the shipped packs, each
writing a Markdown report (and plot) under ``--out``. The evaluations are imported inside each command, so
``--help`` answers without loading torch."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from server.cli.common import Group
from steering.model import EMBEDDED_MODEL_ID, cache_dir
from steerlab.cli.common import PACKS, invocation, load_model, model_option, model_path


def _pack_out(p: argparse.ArgumentParser, pack: str, writes: str) -> None:
    """``--pack`` (default: the shipped one), ``--out`` (the report's directory) and ``--model``."""
    p.add_argument("--pack", default=f"{PACKS}/{pack}")
    p.add_argument("--out", default="docs/eval", help=f"directory for {writes}")
    model_option(p)


def register(g: Group) -> None:
    b = g.command("bias", "gender pronoun skew, agreement and perplexity cost of a pack's suppress, held-out",
                  [f"steer eval bias --pack {PACKS}/gender --out docs/eval"], cmd_eval_bias)
    _pack_out(b, "gender", "bias.md and bias.png")
    b.add_argument("--split", choices=["test", "dev", "fit"], default="test",
                   help="prompt split (published numbers: test, the held-out one)")

    c = g.command("concept", "concept steering: mention rate vs strength and fluency cost (perplexity ratio, "
                  "repetition) on held-out neutral questions", [
                      f"steer eval concept --pack {PACKS}/golden-gate --out docs/eval",
                      f"steer eval concept --pack {PACKS}/golden-gate --prompts 20 --strengths 0.5,1,1.5,2 "
                      "--positions all,prompt --out docs/eval"], cmd_eval_concept)
    c.add_argument("--pack", action="append", required=True, help="pack directory (repeat to compare candidates)")
    c.add_argument("--feature", help="feature name (default: each pack's first)")
    c.add_argument("--op", choices=["add", "clamp"], default="add")
    c.add_argument("--strengths", default="0.25,0.5,0.75,1,1.5,2",
                   help="multiples of max_activation; 'default': the feature's default value")
    c.add_argument("--positions", help="comma-separated runs: all (every position but the sink), generated "
                   "(generated tokens only), prompt (the prompt only, then unsteered); default: the feature's "
                   "apply_to, what the server does")
    c.add_argument("--topic", default="the Golden Gate Bridge", help="the concept in words, for the reference "
                   "replies (the model's own answer to 'Tell me about TOPIC.'); empty: no reference")
    c.add_argument("--prompts", type=int, default=60, help="held-out neutral questions")
    c.add_argument("--max-tokens", dest="max_tokens", type=int, default=48)
    c.add_argument("--pattern", default="golden gate|san francisco|bridge", help="regex: the concept is mentioned")
    c.add_argument("--exclude", default="golden gate,san francisco,bridge",
                   help="questions mentioning these are not neutral")
    c.add_argument("--build-exclude", dest="build_exclude", default="golden gate,san francisco",
                   help="the packs' build --exclude: the build's 20 strength-choosing questions are left out")
    c.add_argument("--out", default="docs/eval", help="directory for STEM.md, STEM.png and STEM.json")
    c.add_argument("--stem", default="concept", help="file names: STEM.md, STEM.png, STEM.json")
    c.add_argument("--named", default="golden gate",
                   help="regex: the concept itself is named (reported beside the mention rate)")
    c.add_argument("--system-prompt", dest="system_prompt",
                   default="Whatever the user asks, work the Golden Gate Bridge into your answer.",
                   help="the prompting baseline (AxBench): the unsteered model told this in a system prompt; "
                        "empty: no baseline")
    model_option(c)

    d = g.command("detection", "unsafe-code monitor vs bandit on held-out code, line by line (AUROC, precision / "
                  "recall at the shipped threshold)", [
                      f"steer eval detection --pack {PACKS}/unsafe-code --out docs/eval",
                      "steer eval detection --holdout codeshield --out /tmp/eval   # sources the pack never saw"],
                  cmd_eval_detection)
    _pack_out(d, "unsafe-code", "detection.md and detection.png")
    d.add_argument("--holdout", default="", help="sources the pack was built without (as its build's --holdout)")
    d.add_argument("--seed", type=int, default=0, help="the build's file-split seed")

    u = g.command("unsafe-code", "unsafe-code monitor vs bandit on held-out matched pairs (raw, chat, truncated, "
                  "prose): AUROC, pair accuracy, precision / recall at the shipped threshold",
                  [f"steer eval unsafe-code --pack {PACKS}/unsafe-code --out docs/eval",
                   "steer eval unsafe-code --set f --out /tmp/eval   # a training set since version 7"],
                  cmd_eval_unsafe_code)
    _pack_out(u, "unsafe-code", "unsafe-code.md, .png and .json (unsafe-code-f.* … for --set f …)")
    u.add_argument("--set", dest="set_name", choices=["g", "a", "c", "d", "e", "f"], default="g",
                   help="hand-written set: g (held-out, what the card reports), a, c, d, e or f (training data and "
                   "cross-validation folds since version 7)")

    f = g.command("deflection", "scope limitation on the hand-written requests, through the HF engine: the blocking "
                  "profile beside the steered deflection (off-scope deflected, in-scope answered unchanged)", [
                      "steer eval deflection --out docs/eval",
                      "steer eval deflection --set d --out /tmp/eval   # a training set since version 4"],
                  cmd_eval_deflection)
    f.add_argument("--set", dest="set_name", choices=["g", "a", "b", "c", "d", "e", "f"], default="g",
                   help="hand-written set: g (held out, what the cards report; writes scope-deflection.*), a to e "
                        "(training data of the scope probe), f (its calibration requests); those write "
                        "scope-deflection-a.* … -f.*")
    f.add_argument("--packs", default=f"{PACKS}/topics,{PACKS}/scope-deflect", help="comma-separated pack dirs")
    f.add_argument("--run", action="append", default=None, metavar="POLICY:PROFILE",
                   help="a policy file and profile to measure (repeat; default: examples/scope-health.yaml:"
                        "health-assistant and examples/scope-health-steered.yaml:health-assistant-steered)")
    f.add_argument("--max-tokens", dest="max_tokens", type=int, default=32)
    f.add_argument("--out", default="docs/eval", help="directory for scope-deflection.md, .png and .json")
    model_option(f)

    s = g.command("scope", "scope profile: deflection of off-scope questions, preservation of in-scope answers, "
                  "held-out, through the runtime (and a sample through the HF engine)", [
                      f"steer eval scope --pack {PACKS}/topics --config examples/scope-health.yaml --out docs/eval"],
                  cmd_eval_scope)
    _pack_out(s, "topics", "scope.md and scope.png")
    s.add_argument("--config", default="examples/scope-health.yaml", help="policy file with the profile")
    s.add_argument("--profile", default="health-assistant")
    s.add_argument("--max-tokens", dest="max_tokens", type=int, default=32, help="in-scope answer length")
    s.add_argument("--batch", type=int, default=16, help="requests per forward pass")
    s.add_argument("--check", type=int, default=24, help="requests re-run through the HF engine (0: none)")


def cmd_eval_bias(a: argparse.Namespace) -> int:
    from steering.pack import load_pack
    from steerlab.eval.bias import DEV_SETS, HELDOUT_SETS, evaluate_bias, evaluate_heldout
    from steerlab.eval.bias_report import heldout_markdown, summary_table, write_report

    pack = load_pack(a.pack)
    model, tok = load_model(a.model)
    report = evaluate_bias(model, tok, pack, split=a.split)
    heldout = [evaluate_heldout(model, tok, pack, name=n) for n in HELDOUT_SETS + DEV_SETS] if a.split == "test" else []
    md, png = write_report(report, Path(a.out), invocation(), heldout)
    print(summary_table(report))
    for h in heldout:
        print(heldout_markdown(h))
    print(f"wrote {md} and {png}")
    return 0


def cmd_eval_concept(a: argparse.Namespace) -> int:
    from steering.generate import POSITIONS
    from steering.pack import load_pack
    from steerlab.build.topic_pack import held_out_questions
    from steerlab.eval.concept import evaluate, write_report

    model, tok = load_model(a.model)

    def terms(x: str) -> tuple[str, ...]:
        return tuple(e.strip().lower() for e in x.split(",") if e.strip())

    positions = a.positions.split(",") if a.positions else None
    for x in positions or ():
        if x not in POSITIONS:
            raise SystemExit(f"--positions: {x!r} is not one of {', '.join(POSITIONS)}")
    prompts = held_out_questions(a.prompts, terms(a.exclude), terms(a.build_exclude))
    strengths = [x if x == "default" else float(x) for x in a.strengths.split(",")]
    runs, ref = evaluate(model, tok, [load_pack(p) for p in a.pack], prompts, strengths=strengths,
                         pattern=a.pattern, named=a.named,
                         op=a.op, feature=a.feature, positions=positions, system_prompt=a.system_prompt,
                         topic=a.topic, max_new_tokens=a.max_tokens)
    md, png = write_report(runs, Path(a.out), command=invocation(), n_prompts=len(prompts), pattern=a.pattern,
                           stem=a.stem, ref=ref)
    print(f"wrote {md} and {png}")
    return 0


def cmd_eval_detection(a: argparse.Namespace) -> int:
    from steering.pack import load_pack
    from steerlab.build.code_data import load_bandit_examples, load_codeshield
    from steerlab.eval.detection import detection_report, write_report

    model, tok = load_model(a.model)
    pack = load_pack(a.pack)
    files = load_bandit_examples(cache_dir() / "data") + load_codeshield()
    r = detection_report(model, tok, pack, files, seed=a.seed,
                         holdout_sources=tuple(x for x in a.holdout.split(",") if x))
    md = write_report(r, Path(a.out), invocation())
    for name, e in r["sets"].items():
        line = f"{name}: probe AUROC {e['probe_auroc']:.3f} P {e['probe_precision']:.3f} R {e['probe_recall']:.3f}"
        for key in ("bandit ≥ MEDIUM", "bandit ≥ LOW"):
            if key in e:
                line += f"; {key} P {e[key]['precision']:.3f} R {e[key]['recall']:.3f}"
        print(line)
    print(f"wrote {md}")
    return 0


def cmd_eval_unsafe_code(a: argparse.Namespace) -> int:
    """The unsafe-code monitor on a hand-written matched-pair set beside bandit (set G: what its card reports)."""
    from steering.pack import load_pack
    from steerlab.eval.unsafe_code import describe_set, evaluate_unsafe_code, plot, report

    model, tok = load_model(a.model)
    r = evaluate_unsafe_code(model, tok, load_pack(a.pack), set_name=a.set_name)
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = "unsafe-code" if a.set_name == "g" else f"unsafe-code-{a.set_name}"
    plot(r, out / f"{stem}.png")
    (out / f"{stem}.json").write_text(json.dumps(r, indent=1))
    (out / f"{stem}.md").write_text(
        f"# unsafe-code monitor on hand-written matched pairs (set {a.set_name.upper()})\n\n"
        f"Command: `{invocation()}`\n\n{describe_set(r)}\n\n{report(r)}\n\n"
        f"![AUROC and recall]({stem}.png)\n\nPer-program scores: {stem}.json.\n")
    print(report(r))
    print(f"wrote {out / (stem + '.md')}")
    return 0


def cmd_eval_deflection(a: argparse.Namespace) -> int:
    from steering.pack import load_pack
    from steerlab.eval.deflection import ask_all, write_report
    from steerlab.eval.scope_server import handwritten_questions, handwritten_source

    packs = [load_pack(p) for p in a.packs.split(",")]
    pairs = a.run or ["examples/scope-health.yaml:health-assistant",
                      "examples/scope-health-steered.yaml:health-assistant-steered"]
    qs, runs, plain = handwritten_questions(a.set_name), [], None
    for spec in pairs:
        policy, _, profile = spec.rpartition(":")
        runs.append(ask_all(model_path(a.model), packs, policy, profile, qs, max_tokens=a.max_tokens,
                            model_id=EMBEDDED_MODEL_ID, plain=plain))
        plain = [r.plain for r in runs[-1].replies]
        print(runs[-1].summary())
    stem = "scope-deflection" + ("" if a.set_name == "g" else f"-{a.set_name}")
    md = write_report(runs, Path(a.out), command=invocation(), source=handwritten_source(a.set_name), stem=stem)
    print(f"wrote {md}")
    return 0


def cmd_eval_scope(a: argparse.Namespace) -> int:
    from steering.pack import load_pack
    from steerlab.eval.scope import summary_table, write_report
    from steerlab.eval.scope_server import run_scope_eval

    pack = load_pack(a.pack)
    report = run_scope_eval(model_path(a.model), pack, policy_path=a.config, profile=a.profile,
                            max_tokens=a.max_tokens, batch=a.batch, n_check=a.check, model_id=EMBEDDED_MODEL_ID)
    md, png = write_report(report, Path(a.out), invocation())
    print(summary_table(report))
    print(f"wrote {md} and {png}")
    return 0
