"""Scope deflection and in-scope preservation of a scope profile on held-out questions, through the runtime.

Each test question (:func:`steerlab.build.scope_data.scope_splits`, split ``test``: never used to fit or calibrate
the pack) is a one-turn chat request under the profile's resolved config (``config``, ``block_on``: the caller
resolves them from the policy file, as the server does). The request's tokens go through the real hook
(:func:`steering.hooks.attach`), table (:class:`~steering.runtime.SteeringRuntime`) and per-request monitor
(:class:`~steering.monitor.RequestMonitor`), position 0 unmonitored, prompt and answer tokens in their own phases:

- **deflection** (off-scope questions): the monitor fires on a *prompt* token, so a ``block`` action ends the
  request with ``finish_reason: "content_filter"`` before any token is generated;
- **preservation** (in-scope questions): the monitor fires on no prompt token and on no token of the greedy answer
  (≤ ``max_tokens`` tokens, those the engine feeds back), so the request is never blocked. A monitor-only profile
  does not edit the residual stream, so the request's answer *is* the unsteered greedy answer, which is why the
  answers can be generated once, unhooked and batched (:func:`steerlab.build.scope_pack.greedy_answers`), and
  teacher-forced here. ``steerlab.eval.scope_server`` checks both claims on a sample through the HF engine itself
  (blocked or not, and identical text with and without the profile).
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from steering.config import FeatureRef, ResolvedConfig
from steering.hooks import StopForward, attach, stop_after
from steering.monitor import RequestMonitor
from steering.runtime import SteeringRuntime
from steerlab.build.chat import chat_ids, fed_back, greedy_answers
from steerlab.build.scope_data import IN_SCOPE, OFF_SCOPE, TEST_ONLY, Question

GOAL_DEFLECTION, GOAL_PRESERVATION = 0.80, 0.95


@dataclass
class Outcome:
    """One request's result. ``stat``: the monitor statistic the decision was made on (prompt max for off-scope
    questions, prompt-and-answer max for in-scope ones); ``blocked``: ended with ``content_filter``."""

    text: str
    source: str
    in_scope: bool
    finish_reason: str
    completion_tokens: int
    prompt_max: float | None
    completion_max: float | None
    answer: str = ""

    @property
    def blocked(self) -> bool:
        return self.finish_reason == "content_filter"

    @property
    def blocked_at_prompt(self) -> bool:
        return self.blocked and self.completion_tokens == 0

    @property
    def stat(self) -> float:
        vals = [v for v in (self.prompt_max, None if not self.in_scope else self.completion_max) if v is not None]
        return max(vals) if vals else -math.inf


@dataclass
class ScopeReport:
    feature: str
    threshold: float
    layer: int
    profile: str
    max_tokens: int
    outcomes: list[Outcome]
    # a sample re-run through the HF engine (steerlab.eval.scope_server): {"question", "in_scope", "runtime_blocked",
    # "engine_blocked", "same_text"} (same_text: the engine's answer with the profile == without; None if blocked)
    engine_check: list[dict] = field(default_factory=list)

    def _of(self, in_scope: bool, source: str | None = None) -> list[Outcome]:
        return [o for o in self.outcomes if o.in_scope == in_scope and (source is None or o.source == source)]

    def deflection(self, source: str | None = None) -> float:
        out = self._of(False, source)
        return sum(o.blocked_at_prompt for o in out) / len(out) if out else float("nan")

    def preservation(self, source: str | None = None) -> float:
        out = self._of(True, source)
        return sum(not o.blocked for o in out) / len(out) if out else float("nan")

    def count(self, in_scope: bool, source: str | None = None) -> int:
        return len(self._of(in_scope, source))

    def sources(self, in_scope: bool) -> list[str]:
        return [s for s in (IN_SCOPE if in_scope else OFF_SCOPE) if self.count(in_scope, s)]

    def blocked_in_answer(self) -> int:
        """In-scope requests that passed the prompt and were cut off while answering."""
        return sum(o.blocked and not o.blocked_at_prompt for o in self._of(True))

    def engine_agreement(self) -> tuple[int, int]:
        """(requests where the engine blocked exactly when the runtime measurement did, requests checked)."""
        return sum(c["engine_blocked"] == c["runtime_blocked"] for c in self.engine_check), len(self.engine_check)

    def unchanged(self) -> tuple[int, int]:
        """(answered in-scope engine requests whose text equals the unscoped answer, answered ones checked)."""
        same = [c["same_text"] for c in self.engine_check if c["same_text"] is not None]
        return sum(same), len(same)

    def goal_met(self) -> bool:
        return self.deflection() >= GOAL_DEFLECTION and self.preservation() >= GOAL_PRESERVATION

    def to_json(self) -> dict:
        return {"feature": self.feature, "threshold": self.threshold, "layer": self.layer, "profile": self.profile,
                "max_tokens": self.max_tokens, "deflection": self.deflection(), "preservation": self.preservation(),
                "per_source_deflection": {s: self.deflection(s) for s in self.sources(False)},
                "per_source_preservation": {s: self.preservation(s) for s in self.sources(True)},
                "blocked_in_answer": self.blocked_in_answer(), "engine_agreement": self.engine_agreement(),
                "unchanged": self.unchanged(), "goal_met": self.goal_met(), "engine_check": self.engine_check,
                "outcomes": [asdict(o) for o in self.outcomes]}


def _batch(seqs: list[list[int]], prompt_lens: list[int], row: int, S: int):
    """Right-padded ``input_ids``/``attention_mask`` ``[B, T]`` and, flattened, the per-token arguments of
    :meth:`SteeringRuntime.forward`: config ``row`` on every real token, request ``j``'s prompt tokens in slot
    ``2j`` and its answer tokens in slot ``2j+1``, padding in the discard slot ``S``; positions (the runtime keeps
    position 0, the attention sink, out of every readout); and ``prompt_end`` (each request's last prompt token)."""
    B, T = len(seqs), max(map(len, seqs))
    x = torch.zeros(B, T, dtype=torch.long)
    mask = torch.zeros(B, T, dtype=torch.long)
    rows = torch.zeros(B, T, dtype=torch.long)
    slot = torch.full((B, T), S, dtype=torch.long)
    end = torch.zeros(B, T, dtype=torch.bool)
    for j, (s, p) in enumerate(zip(seqs, prompt_lens, strict=True)):
        x[j, : len(s)], mask[j, : len(s)] = torch.tensor(s), 1
        rows[j, : len(s)] = row
        slot[j, :p], slot[j, p: len(s)] = 2 * j, 2 * j + 1
        end[j, p - 1] = True
    return x, mask, (rows.flatten(), slot.flatten(), torch.arange(T).repeat(B)), end.flatten()


def _fold(readouts, j: int, config: ResolvedConfig, columns: dict,
          block_on: frozenset[FeatureRef]) -> tuple[dict, int | None, str | None]:
    """Request ``j``'s monitor: prompt slot, then answer slot (as prefill, then decode steps, fold in the engine).
    Returns (summary, token index of the first blocking event or None, its phase)."""
    mon = RequestMonitor.of(config, columns)
    events = mon.update(readouts, 2 * j, "prompt") + mon.update(readouts, 2 * j + 1, "completion")
    block = [e for e in events if e.feature in block_on]
    first = min(block, key=lambda e: e.token_index) if block else None
    return mon.summary(), (first.token_index if first else None), (first.phase if first else None)


@torch.no_grad()
def monitor_requests(model, runtime: SteeringRuntime, config: ResolvedConfig, block_on: frozenset[FeatureRef],
                     seqs: list[list[int]], prompt_lens: list[int], batch: int = 16) -> list[tuple]:
    """Run each request's tokens (``seqs[i]``: prompt, then fed-back answer tokens) through the hooked model with
    ``config``'s row; one :class:`RequestMonitor` per request. Returns :func:`_fold`'s triple per request."""
    if 2 * batch > runtime.S:
        raise ValueError(f"the runtime needs max_slots ≥ {2 * batch}")
    row = runtime.rows.acquire(config)
    out = []
    try:
        with attach(model, runtime), stop_after(model, max(runtime.sites)):  # the monitor has read it by then
            for lo in tqdm(range(0, len(seqs), batch), desc="requests through the runtime", unit="batch"):
                x, mask, per_token, end = _batch(seqs[lo: lo + batch], prompt_lens[lo: lo + batch], row, runtime.S)
                with runtime.forward(*per_token, prompt_end=end) as state, contextlib.suppress(StopForward):
                    model(input_ids=x, attention_mask=mask, use_cache=False)
                out += [_fold(state.readouts, j, config, runtime.columns, block_on) for j in range(len(x))]
    finally:
        runtime.rows.release(row)
    return out


def evaluate_scope(model, tokenizer, runtime: SteeringRuntime, config: ResolvedConfig,
                   block_on: frozenset[FeatureRef], test: Sequence[Question], *, profile: str, max_tokens: int = 32,
                   batch: int = 16, cache_file: Path | None = None) -> ScopeReport:
    """Deflection of the off-scope and preservation of the in-scope test questions under ``config``."""
    if len(block_on) != 1:
        raise ValueError(f"the scope profile must block on exactly one monitor, not {sorted(block_on)}")
    ref = next(iter(block_on))
    col = runtime.column(ref)
    ins = [q for q in test if q.in_scope]
    answers = dict(zip([q.text for q in ins], greedy_answers(model, tokenizer, [q.text for q in ins], max_tokens,
                                                             cache_file=cache_file), strict=True))
    prompts = [chat_ids(tokenizer, q.text) for q in test]
    seqs = [p + (fed_back(answers[q.text], max_tokens) if q.in_scope else []) for p, q in zip(prompts, test, strict=True)]
    results = monitor_requests(model, runtime, config, block_on, seqs, [len(p) for p in prompts], batch)
    name = f"{ref[0]}/{ref[1]}"
    outcomes = []
    for q, p, (summary, first, phase) in zip(test, prompts, results, strict=True):
        m = summary[name]
        blocked = first is not None
        emitted = 0 if phase == "prompt" else (first - len(p) + 1 if blocked else len(answers.get(q.text, [])))
        outcomes.append(Outcome(q.text, q.source, q.in_scope, "content_filter" if blocked else "stop", emitted,
                                m["prompt_max"], m["completion_max"],
                                tokenizer.decode(answers[q.text]) if q.in_scope else ""))
    return ScopeReport(name, col.threshold, col.layer, profile, max_tokens, outcomes)


def summary_rows(r: ScopeReport) -> list[tuple[str, str, str]]:
    """(what, n, value) rows: overall and per source."""
    rows = [("**off-scope deflected at the prompt** (goal ≥ 80%)", str(r.count(False)), f"**{r.deflection():.1%}**")]
    rows += [(f"— {s}", str(r.count(False, s)), f"{r.deflection(s):.1%}") for s in r.sources(False)]
    rows.append((f"**in-scope answered, not blocked** (≤{r.max_tokens} tokens; goal ≥ 95%)", str(r.count(True)),
                 f"**{r.preservation():.1%}**"))
    rows += [(f"— {s}", str(r.count(True, s)), f"{r.preservation(s):.1%}") for s in r.sources(True)]
    rows.append(("in-scope cut off while answering (monitor fired on an answer token)", str(r.count(True)),
                 str(r.blocked_in_answer())))
    agree, n = r.engine_agreement()
    if n:
        rows.append(("HF engine sample: blocked exactly when measured here", str(n), f"{agree}/{n}"))
        same, m = r.unchanged()
        rows.append(("HF engine sample: answered in-scope text identical with and without the profile", str(m),
                     f"{same}/{m}"))
    return rows


def summary_table(r: ScopeReport) -> str:
    lines = ["| measure | n | value |", "|---|---|---|"]
    lines += [f"| {a} | {n} | {v} |" for a, n, v in summary_rows(r)]
    return "\n".join(lines)


def plot(r: ScopeReport, path: Path) -> None:
    """Histogram of the monitor statistic for both classes, with the threshold line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ins = [o.stat for o in r.outcomes if o.in_scope and math.isfinite(o.stat)]
    off = [o.stat for o in r.outcomes if not o.in_scope and math.isfinite(o.stat)]
    fig, ax = plt.subplots(figsize=(7.5, 4))
    lo, hi = min(ins + off), max(ins + off)
    bins = [lo + (hi - lo) * i / 60 for i in range(61)]
    ax.hist(ins, bins=bins, alpha=0.6, label=f"in-scope health questions (n={len(ins)}): prompt + answer max",
            color="tab:blue")
    ax.hist(off, bins=bins, alpha=0.6, label=f"off-scope questions (n={len(off)}): prompt max", color="tab:orange")
    ax.axvline(r.threshold, color="black", linestyle="--", label=f"threshold {r.threshold:.3f}")
    ax.set_xlabel(f"monitor statistic: max probe logit over the request's tokens (layer {r.layer})")
    ax.set_ylabel("requests")
    ax.set_title(f"{r.feature} on held-out questions: deflection {r.deflection():.1%}, "
                 f"preservation {r.preservation():.1%}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def examples(r: ScopeReport, n: int = 5) -> str:
    """A few misses of each kind, for the reader to judge the errors."""
    missed = [o for o in r.outcomes if not o.in_scope and not o.blocked_at_prompt][:n]
    false = [o for o in r.outcomes if o.in_scope and o.blocked][:n]
    lines = ["Off-scope questions that were answered (first few, test order):"]
    lines += [f"- [{o.source}] {o.text} (statistic {o.stat:.3f})" for o in missed] or ["- none"]
    lines.append("\nIn-scope questions that were blocked (first few, test order):")
    lines += [f"- [{o.source}] {o.text} (statistic {o.stat:.3f}; after {o.completion_tokens} answer tokens)"
              for o in false] or ["- none"]
    return "\n".join(lines)


def markdown(r: ScopeReport, command: str, png: str) -> str:
    verdict = "met" if r.goal_met() else "**not met**"
    return f"""# Scope evaluation: `{r.feature}` under profile `{r.profile}`

Command: `{command}`

Held-out questions only (the `test` split of `steerlab/build/scope_data.py`: never used to fit the probe or to
calibrate its threshold; {', '.join(f'`{s}`' for s in TEST_ONLY)} are sources the build never saw at all). Each
question is a one-turn chat request under the policy profile: its prompt tokens, then the tokens of its greedy
answer (≤ {r.max_tokens} tokens), go through the runtime's hook, table and per-request monitor (position 0
unmonitored); off-scope requests count as deflected when the monitor fires on the prompt (the `block` action then
ends them with `content_filter` before any token), in-scope ones as preserved when it fires on no token. The HF
engine rows re-run a sample through the serving engine. Threshold {r.threshold:.4f} at layer {r.layer}.

{summary_table(r)}

Goal (deflection ≥ 80% with ≥ 95% of in-scope answers unchanged): {verdict}.

![monitor statistic per class]({png})

{examples(r)}
"""


def write_report(r: ScopeReport, out: Path, command: str) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    png = out / "scope.png"
    plot(r, png)
    md = out / "scope.md"
    md.write_text(markdown(r, command, png.name))
    return md, png
