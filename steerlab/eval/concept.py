"""Concept steering: how often steered replies to neutral prompts bring up the concept, and at what fluency cost.

Fluency is the perplexity of the steered reply under the *unsteered* model, as a ratio to the unsteered reply's
perplexity (1.0 = as fluent as the model's own answer). Degenerate replies ("San Francisco Bay, San Francisco
Bay, ...") are *predictable*, so their perplexity can fall while quality falls too: :func:`repetition` (the share
of a reply's word 3-grams that already occurred earlier in it) is reported beside it.
"""

from __future__ import annotations

import json
import math
import re
import statistics
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from steering.config import FeatureRef
from steering.generate import generate, perplexity
from steering.hooks import attach
from steering.pack import FeaturePack
from steering.runtime import SteeringRuntime
from steerlab.build.chat import chat_ids

GOAL_RATE, GOAL_PPL, GOAL_BASELINE = 0.80, 1.5, 0.03
# Direct questions whose greedy answers are the fluent on-topic replies of :func:`reference`.
TOPIC_PROMPTS = ("Tell me about {topic}.", "What is {topic}?", "Why is {topic} famous?",
                 "Write a short paragraph about {topic}.", "Describe {topic}.")


@dataclass
class ConceptPoint:
    op: str
    value: float
    mention_rate: float
    ppl_ratio: float
    example: str
    repetition: float = 0.0  # mean share of repeated word 3-grams per reply
    x: float = 0.0  # value as a multiple of the feature's max_activation
    replies: list[str] = field(default_factory=list)
    named_rate: float = 0.0  # share of replies naming the concept itself (``named`` regex, e.g. "golden gate")


def repetition(text: str, n: int = 3) -> float:
    """Share of the word ``n``-grams of ``text`` that already occurred earlier in it (0 = none repeated)."""
    words = text.lower().split()
    grams = [tuple(words[i: i + n]) for i in range(len(words) - n + 1)]
    return (len(grams) - len(set(grams))) / len(grams) if grams else 0.0


def _rate(pattern: str, texts: list[str]) -> float:
    rx = re.compile(pattern, re.I)
    return sum(bool(rx.search(t)) for t in texts) / len(texts)


def concept_sweep(model, tokenizer, runtime: SteeringRuntime, ref: FeatureRef, prompts: list[str], pattern: str,
                  settings: list[tuple[str, float]], max_new_tokens: int = 48,
                  positions: str = "all", named: str | None = None) -> list[ConceptPoint]:
    """Mention rate and perplexity ratio for each ``(op, absolute value)``; ``("none", 0)`` is the baseline."""
    eos = {tokenizer.eos_token_id}
    ids = [chat_ids(tokenizer, p) for p in prompts]
    max_act = runtime.column(ref).max_activation
    points, base_ppl = [], None
    with attach(model, runtime):
        for op, value in tqdm(settings, desc="strengths"):
            row = 0 if op == "none" else runtime.rows.acquire({ref: (op, value)})
            outs = [generate(model, runtime, i, row, max_new_tokens=max_new_tokens, eos_ids=eos,
                             positions=positions) for i in ids]
            if row:
                runtime.rows.release(row)
            texts = [tokenizer.decode(o, skip_special_tokens=True) for o in outs]
            # generate() leaves the runtime idle: fluency is judged by the unsteered model
            ppl = [perplexity(model, i, o) for i, o in zip(ids, outs, strict=True)]
            med = statistics.median([p for p in ppl if not math.isnan(p)] or [float("nan")])
            base_ppl = med if op == "none" else base_ppl
            points.append(ConceptPoint(op, value, _rate(pattern, texts), med / base_ppl if base_ppl else float("nan"),
                                       texts[0][:160], statistics.mean(repetition(t) for t in texts),
                                       value / max_act if max_act else 0.0, texts, _rate(named or pattern, texts)))
    return points


@torch.no_grad()
def prompting(model, tokenizer, prompts: list[str], system: str, pattern: str, named: str | None = None,
              max_new_tokens: int = 48) -> list[ConceptPoint]:
    """The baseline steering must beat (AxBench): no steering, the model *told* in a system prompt to bring the
    concept up. Two points, unprompted then prompted, scored like :func:`concept_sweep`'s: each reply's perplexity
    under the unsteered model given the neutral question alone (without the system prompt), as a ratio to the
    unprompted reply's. Hooks must be idle or detached."""
    eos = tokenizer.eos_token_id
    points, base = [], None
    for op, sys_msg in (("none", None), ("prompt", system)):
        texts, ppl = [], []
        for q in prompts:
            ids = chat_ids(tokenizer, q, sys_msg)
            out = model.generate(torch.tensor([ids]), max_new_tokens=max_new_tokens, do_sample=False,
                                 eos_token_id=eos, pad_token_id=eos)[0, len(ids):].tolist()
            out = out[: out.index(eos)] if eos in out else out
            texts.append(tokenizer.decode(out, skip_special_tokens=True))
            ppl.append(perplexity(model, chat_ids(tokenizer, q), out))
        med = statistics.median([p for p in ppl if not math.isnan(p)] or [float("nan")])
        base = med if base is None else base
        points.append(ConceptPoint(op, 0.0, _rate(pattern, texts), med / base, texts[0][:160],
                                   statistics.mean(repetition(t) for t in texts), 0.0, texts,
                                   _rate(named or pattern, texts)))
    return points


@dataclass
class Reference:
    """What the perplexity ratio of a reply that is *not* steering damage looks like, on the same questions.

    ``on_topic``: the model's own greedy answer to a direct question about the concept ("Tell me about the Golden
    Gate Bridge."), given as the reply to each neutral question — a fluent reply that brings the concept up, the
    best a steering method could produce. ``sampled``: the model's own reply to the same question sampled at
    temperature 1 (fluent by construction, just not the greedy path). Both are scored like the steered replies."""

    on_topic: float
    sampled: float
    on_topic_example: str = ""


@torch.no_grad()
def reference(model, tokenizer, prompts: list[str], topic_prompts: list[str], max_new_tokens: int = 48,
              seed: int = 0) -> Reference:
    """Perplexity ratios of :class:`Reference` replies (hooks must be idle or detached)."""
    eos = tokenizer.eos_token_id

    def reply(ids: list[int], **kw) -> list[int]:
        out = model.generate(torch.tensor([ids]), max_new_tokens=max_new_tokens, eos_token_id=eos,
                             pad_token_id=eos, **kw)[0, len(ids):].tolist()
        return out[: out.index(eos)] if eos in out else out

    torch.manual_seed(seed)
    topic = [reply(chat_ids(tokenizer, t), do_sample=False) for t in topic_prompts]
    base, on, sampled = [], [], []
    for j, q in enumerate(prompts):
        ids = chat_ids(tokenizer, q)
        base.append(perplexity(model, ids, reply(ids, do_sample=False)))
        on.append(perplexity(model, ids, topic[j % len(topic)]))
        sampled.append(perplexity(model, ids, reply(ids, do_sample=True, temperature=1.0, top_p=1.0, top_k=0)))
    b = statistics.median(base)
    return Reference(statistics.median(on) / b, statistics.median(sampled) / b,
                     tokenizer.decode(topic[0], skip_special_tokens=True)[:160])


@dataclass
class ConceptRun:
    """One candidate (a pack's feature, steered one way) swept over strengths on the same prompts."""

    name: str  # e.g. "golden-gate/bridge (layer 15)"
    layer: int | None  # None: the prompting baseline (no steering)
    positions: str  # "all" | "generated" | "prompt" (steering.generate.POSITIONS); "none" for prompting
    points: list[ConceptPoint]

    @property
    def title(self) -> str:
        return self.name + {"all": "", "generated": ", generated tokens only", "prompt": ", prompt only",
                            "none": ""}[self.positions]

    @property
    def is_prompting(self) -> bool:
        return self.layer is None

    def best(self, max_ratio: float = GOAL_PPL) -> ConceptPoint | None:
        """The highest mention rate among steered points within ``max_ratio`` (None if none is)."""
        ok = [p for p in self.points if p.op != "none" and p.ppl_ratio <= max_ratio]
        return max(ok, key=lambda p: (p.mention_rate, -p.ppl_ratio)) if ok else None

    def beats(self, baseline: ConceptPoint) -> ConceptPoint | None:
        """The steered point naming the concept most often among those at least as often as ``baseline`` (the
        prompted point) at no worse fluency (perplexity ratio and repetition); None if none does."""
        ok = [p for p in self.points if p.op != "none" and p.named_rate >= baseline.named_rate
              and p.ppl_ratio <= baseline.ppl_ratio and p.repetition <= baseline.repetition]
        return max(ok, key=lambda p: (p.named_rate, -p.ppl_ratio)) if ok else None

    def goal_met(self) -> bool:
        b, base = self.best(), self.points[0]
        return bool(b and b.mention_rate >= GOAL_RATE and base.mention_rate <= GOAL_BASELINE)


def evaluate(model, tokenizer, packs: list[FeaturePack], prompts: list[str], *, strengths: list[float | str],
             pattern: str, named: str, op: str = "add", feature: str | None = None, positions: list[str] | None = None,
             system_prompt: str = "", topic: str = "", max_new_tokens: int = 48) -> tuple[list[ConceptRun],
                                                                                      Reference | None]:
    """What ``steer eval concept`` measures on ``prompts``: the reference ratios (``topic``), the prompting baseline
    (``system_prompt``), then per pack its ``feature`` (default: the first) unsteered and at each of ``strengths``
    (× max_activation; ``"default"``: the feature's default value), for each of ``positions`` (default: the
    feature's ``apply_to``, what the server does)."""
    ref = None
    if topic:
        ref = reference(model, tokenizer, prompts, [t.format(topic=topic) for t in TOPIC_PROMPTS], max_new_tokens)
        print(f"reference perplexity ratios: on-topic answer {ref.on_topic:.2f}, sampled reply {ref.sampled:.2f}")
    runs = []
    if system_prompt:
        points = prompting(model, tokenizer, prompts, system_prompt, pattern, named, max_new_tokens=max_new_tokens)
        runs.append(ConceptRun(f"prompting: system prompt {system_prompt!r}", None, "none", points))
        _print_points(runs[-1].title, points)
    for pack in packs:
        f = pack.manifest.feature(feature) if feature else pack.manifest.features[0]
        if f is None:
            raise ValueError(f"pack '{pack.id}' has no feature '{feature}'")
        rt = SteeringRuntime([pack], model.config.hidden_size)
        max_act = rt.column((pack.id, f.name)).max_activation
        settings = [("none", 0.0)] + [(op, _absolute(x, f.default_value, max_act)) for x in strengths]
        layers = ", ".join(map(str, pack.layers))
        for where in positions or [f.apply_to]:
            points = concept_sweep(model, tokenizer, rt, (pack.id, f.name), prompts, pattern, settings,
                                   max_new_tokens=max_new_tokens, positions=where, named=named)
            runs.append(ConceptRun(f"{pack.id}/{f.name} (layer{'s' if len(pack.layers) > 1 else ''} {layers})",
                                   pack.layer, where, points))
            _print_points(runs[-1].title, points)
    return runs, ref


def _absolute(x: float | str, default: float | str | None, max_act: float) -> float:
    """A strength in × max_activation (or ``"default"``: the feature's ``default_value``) as an absolute value."""
    if x != "default":
        return float(x) * max_act
    if default is None:
        raise ValueError("the feature has no default_value")
    return float(default[:-1]) * max_act if isinstance(default, str) and default.endswith("x") else float(default)


def _print_points(title: str, points: list[ConceptPoint]) -> None:
    for p in points:
        print(f"{title} {p.op:>6} {p.x:5.2f}x  mention {p.mention_rate:4.0%}  named {p.named_rate:4.0%}  "
              f"ppl ratio {p.ppl_ratio:5.2f}  repetition {p.repetition:.2f}", flush=True)


def plot(runs: list[ConceptRun], path: Path, title: str, ref: Reference | None = None) -> None:
    """Mention rate and perplexity ratio against strength (× max_activation), one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 3, figsize=(14, 4))
    for r in runs:
        label = r.title
        if r.is_prompting:  # one point, no strength axis: a line on the rate plot, a star on the trade-off
            p = r.points[-1]
            ax[0].axhline(p.mention_rate, color="tab:red", ls="-.", label="prompting (system prompt)")
            ax[2].plot([p.ppl_ratio], [p.mention_rate], "*", color="tab:red", ms=12, label="prompting")
            continue
        xs = [p.x for p in r.points]
        ax[0].plot(xs, [p.mention_rate for p in r.points], "o-", label=label)
        ax[1].plot(xs, [p.ppl_ratio for p in r.points], "o-", label=label)
        ax[2].plot([p.ppl_ratio for p in r.points], [p.mention_rate for p in r.points], "o-", label=label)
    ax[0].axhline(GOAL_RATE, color="grey", ls=":")
    ax[1].axhline(GOAL_PPL, color="grey", ls=":")
    ax[2].axhline(GOAL_RATE, color="grey", ls=":")
    ax[2].axvline(GOAL_PPL, color="grey", ls=":")
    if ref:
        ax[1].axhline(ref.on_topic, color="tab:green", ls="--", label="model's own on-topic answer")
        ax[2].axvline(ref.on_topic, color="tab:green", ls="--", label="model's own on-topic answer")
        ax[2].legend(fontsize=7)
    ax[0].set(xlabel="strength (× max_activation)", ylabel="mention rate", title="concept mention rate")
    ax[1].set(xlabel="strength (× max_activation)", ylabel="perplexity ratio", title="fluency cost", yscale="log")
    ax[2].set(xlabel="perplexity ratio (log)", ylabel="mention rate", xscale="log",
              title="trade-off (goal: upper left of the dotted lines)")
    ax[0].legend(fontsize=7)
    fig.suptitle(title)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def markdown(runs: list[ConceptRun], *, command: str, n_prompts: int, pattern: str, png: str, notes: str = "",
             ref: Reference | None = None) -> str:
    rows = []
    for r in runs:
        for p in r.points:
            rows.append(f"| {r.title} | {p.op} | {p.x:.2f}x ({p.value:.2f}) "
                        f"| {p.mention_rate:.0%} | {p.named_rate:.0%} | {p.ppl_ratio:.2f} | {p.repetition:.2f} | "
                        f"{p.example[:90].replace('|', '/').replace(chr(10), ' ')} |")

    def at(b: ConceptPoint | None) -> str:
        if b is None:
            return "none"
        return f"{b.mention_rate:.0%} at {b.x:.2f}x (ratio {b.ppl_ratio:.2f}, repetition {b.repetition:.2f})"

    verdicts = []
    prompted = next((r.points[-1] for r in runs if r.is_prompting), None)
    if prompted:
        verdicts.append(f"- **prompting baseline** (system prompt, no steering): concept named in "
                        f"{prompted.named_rate:.0%} of replies, mentioned in {prompted.mention_rate:.0%}, perplexity "
                        f"ratio {prompted.ppl_ratio:.2f}, repetition {prompted.repetition:.2f}")
    for r in runs:
        if r.is_prompting:
            continue
        if prompted:
            b = r.beats(prompted)
            verdicts.append(f"- {r.title} vs prompting: " + (
                f"named {b.named_rate:.0%} at {b.x:.2f}x (ratio {b.ppl_ratio:.2f}, repetition {b.repetition:.2f}) — "
                "at least prompting's rate at no worse fluency" if b else
                "no strength names the concept as often as prompting at no worse fluency"))
        verdicts.append(f"- {r.title}: best within perplexity ratio ≤ {GOAL_PPL}: {at(r.best())} — goal "
                        f"{'met' if r.goal_met() else 'not met'}" + (
                            f"; within the on-topic reference ratio ≤ {ref.on_topic:.2f} (below): "
                            f"{at(r.best(ref.on_topic))}" if ref else ""))
    return f"""# Concept steering evaluation

Command: `{command}`

{n_prompts} held-out neutral questions (NQ-open, none mentioning the concept, disjoint from the questions any pack
build used to choose its default strength), one-turn chat, greedy, 48 new tokens, steered through the runtime's
hook (position 0 never steered). Mention = regex `{pattern}` in the reply; named = the concept itself is named
(see the command's `--named`). Perplexity ratio = median perplexity of
the steered reply under the *unsteered* model ÷ that of the unsteered reply. Repetition = mean share of a reply's
word 3-grams that already occurred in it (degenerate loops score high and can *lower* perplexity).

Goal: mention rate ≥ {GOAL_RATE:.0%} with perplexity ratio ≤ {GOAL_PPL} (unsteered ≤ {GOAL_BASELINE:.0%}).
{chr(10).join(verdicts)}
{_reference_text(ref) if ref else ""}
![concept steering]({png})

| candidate | op | strength | mention | named | ppl ratio | repetition | first reply |
|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}
{notes}"""


def _reference_text(ref: Reference) -> str:
    return f"""
**What the ratio means here** (same questions, same scoring, no steering): the model's own fluent answer about the
concept, given as the reply to each neutral question, scores **{ref.on_topic:.2f}** ("{ref.on_topic_example[:80]}…");
the model's own reply sampled at temperature 1 scores **{ref.sampled:.2f}**. A reply that changes the subject is
surprising to the unsteered model however well written, so a ratio near {ref.on_topic:.2f} is the floor for replies
that bring the concept up, not damage; the goal's {GOAL_PPL} lies {"below" if ref.on_topic > GOAL_PPL else "above"} it.
"""


def write_report(runs: list[ConceptRun], out: Path, *, command: str, n_prompts: int, pattern: str,
                 stem: str = "concept", notes: str = "", ref: Reference | None = None) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    png, md = out / f"{stem}.png", out / f"{stem}.md"
    plot(runs, png, f"concept steering on {n_prompts} held-out questions", ref)
    md.write_text(markdown(runs, command=command, n_prompts=n_prompts, pattern=pattern, png=png.name, notes=notes,
                           ref=ref))
    (out / f"{stem}.json").write_text(json.dumps({"runs": [asdict(r) for r in runs],
                                                  "reference": asdict(ref) if ref else None}, indent=1))
    return md, png
