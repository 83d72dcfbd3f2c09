"""``steer bench soak``: one real server under streaming load with faults, watched from outside for leaks and losses.

One ``steer serve`` (HF engine, the embedded model) with a policy that makes the golden-gate monitor mandatory with
``action: flag`` (so many requests raise alerts) and delivers alerts only to a signed webhook (so every alert has one
sink and can be accounted for). Then, in this order:

1. **Soak**: ``--streams`` clients each send streaming chat requests back to back for ``--duration`` seconds, mixing
   unsteered, monitored and steered requests over several distinct configs; ``--disconnect`` of them hang up early
   (after the response headers, i.e. during prefill, or after 1-4 chunks). Meanwhile the webhook receiver is stopped
   (its socket closed) from 25% to 45% of the run (a request the monitor flags is sent as it goes down, and it stays
   down at least until that alert's delivery has failed, so the outage is felt on any machine), and the packs are
   reloaded through ``/admin/packs/reload`` at 50%, 60% and 70%. Every ``--sample-every`` seconds: the server's RSS
   and open files (psutil) and its gauges.
2. **Quiescence**: after the last client ends, the in-flight, batch, config-row and pack-table gauges must return to
   0/0/0/1 and the alert queue must empty; then alerts raised = delivered + dropped (none silently lost) and the
   receiver's distinct alerts are checked against the delivered count.
3. **Overload**: a burst past the admission limit must be answered 429/503 with ``Retry-After``, never 5xx or a hang.
4. **SIGTERM under load**: streams in flight when the signal arrives must all finish with ``[DONE]``, new requests
   are refused, the process exits by the signal, not a crash.

An error is a 5xx, a transport failure, or a stream that ended without ``[DONE]`` while its client was still reading.
The clients, their tally and the ``/metrics`` scrape are in ``soak_traffic.py``. The short version runs in ``make
test`` (``tests/e2e/test_soak.py``); the long one is a benchmark (``docs/benchmarks.md``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
import psutil

from server.policy import hash_key
from steerlab.bench.soak_report import markdown, plot
from steerlab.bench.soak_traffic import (
    INFER,
    MODEL,
    OUTAGE_WAIT_S,
    PROMPTS,
    Tally,
    client_loop,
    outage_felt,
    scrape,
)
from steerlab.bench.vllm import _wait, free_port
from steerlab.webhook_receiver import Receiver

ADMIN, SECRET = "soak-admin-key", "soak-webhook-secret"


@dataclass
class SoakConfig:
    streams: int = 64
    duration: float = 600.0
    max_tokens: tuple[int, int] = (8, 48)
    disconnect: float = 0.25
    sample_every: float = 5.0
    max_num_seqs: int = 64
    max_waiting: int = 32
    webhook_down: tuple[float, float] = (0.25, 0.45)  # fractions of the run
    reloads: tuple[float, ...] = (0.5, 0.6, 0.7)
    drain_streams: int = 16
    drain_tokens: int = 48  # per drain stream (ignore_eos): all must finish within the server's 30 s graceful timeout
    seed: int = 0


def policy_yaml(webhook_port: int, max_waiting: int) -> str:
    return f"""
steering:
  mandatory_monitors: [golden-gate/bridge]
monitors:
  golden-gate/bridge: {{action: flag, threshold: 1.0}}
keys:
  admin: [{{name: ops, sha256: "{hash_key(ADMIN)}"}}]
  inference: [{{name: soak, sha256: "{hash_key(INFER)}"}}]
alerts:
  log: false
  webhook: {{url: "http://127.0.0.1:{webhook_port}/alerts", secret_env: STEERSERVE_SOAK_WEBHOOK_SECRET,
             backoff_base_s: 0.5, backoff_max_s: 4.0, max_retries: 50}}
server:
  max_waiting: {max_waiting}
"""


def _sample(proc: psutil.Process, base: str, t0: float) -> dict:
    m = scrape(base)
    return {"t": round(time.monotonic() - t0, 1), "rss_mb": proc.memory_info().rss / 2**20,
            "open_files": proc.num_fds(), "threads": proc.num_threads(),
            "in_flight": m.get("steerserve_requests_in_flight", 0), "batch": m.get("steerserve_engine_batch_size", 0),
            "config_rows": m.get("steerserve_steering_config_rows", 0),
            "pack_tables": m.get("steerserve_steering_pack_tables", 0),
            "alerts": m.get("steerserve_alerts_total", 0),
            "delivered": m.get("steerserve_alerts_delivered_total{sink=webhook}", 0),
            "dropped": m.get("steerserve_alerts_dropped_total", 0),
            "queued": m.get("steerserve_alert_queue_depth{sink=webhook}", 0),
            "sink_failures": m.get("steerserve_alert_sink_failures_total{sink=webhook}", 0)}


async def soak_phase(base: str, proc: psutil.Process, cfg: SoakConfig, receiver: Receiver, say) -> dict:
    t, samples, events = Tally(), [], []
    t0 = time.monotonic()
    deadline = t0 + cfg.duration
    at = lambda f: t0 + f * cfg.duration  # noqa: E731

    async def faults() -> None:
        plan = [(at(cfg.webhook_down[0]), "webhook down"), (at(cfg.webhook_down[1]), "webhook up")]
        plan += [(at(f), "reload") for f in cfg.reloads]
        async with httpx.AsyncClient(base_url=base, timeout=120, headers={"Authorization": f"Bearer {ADMIN}"}) as c:
            for when, what in sorted(plan):
                await asyncio.sleep(max(0.0, when - time.monotonic()))
                stamp = round(time.monotonic() - t0, 1)
                if what == "webhook down":
                    await asyncio.to_thread(receiver.stop)
                    felt = await outage_felt(base)
                    what += (f" → a flagged alert failed {felt:.1f} s later" if felt is not None
                             else f" → no failed delivery within {OUTAGE_WAIT_S:.0f} s")
                elif what == "webhook up":
                    await asyncio.to_thread(receiver.start)
                else:
                    r = await c.post("/admin/packs/reload")
                    what += f" → {r.status_code}"
                    if r.status_code != 200:
                        t.errors.append(f"reload answered {r.status_code}")
                events.append((stamp, what))
                say(f"  t={events[-1][0]:6.1f}s  {what}")

    async def sampler() -> None:
        while time.monotonic() < deadline:
            s = await asyncio.to_thread(_sample, proc, base, t0)
            samples.append(s)
            say(f"  t={s['t']:6.1f}s  RSS {s['rss_mb']:7.1f} MB  fds {s['open_files']:3d}  in flight "
                f"{s['in_flight']:3.0f}  rows {s['config_rows']:2.0f}  tables {s['pack_tables']:.0f}  alerts "
                f"{s['alerts']:.0f} (delivered {s['delivered']:.0f}, queued {s['queued']:.0f}, dropped "
                f"{s['dropped']:.0f})  requests {t.started}, errors {len(t.errors)}")
            await asyncio.sleep(cfg.sample_every)

    await asyncio.gather(faults(), sampler(), *(client_loop(base, cfg, i, deadline, t) for i in range(cfg.streams)))
    wall = time.monotonic() - t0
    # quiescence: every gauge back to idle and the alert queue empty
    q0, idle = time.monotonic(), None
    while time.monotonic() - q0 < 120:
        s = await asyncio.to_thread(_sample, proc, base, t0)
        if (s["in_flight"], s["batch"], s["config_rows"], s["pack_tables"], s["queued"]) == (0, 0, 0, 1, 0):
            idle = s
            break
        await asyncio.sleep(0.5)
    final = idle or s
    samples.append(final)
    return {"tally": asdict(t), "samples": samples, "events": events, "wall_s": wall,
            "quiescent": idle is not None, "quiescent_after_s": round(time.monotonic() - q0, 1), "final": final}


async def overload_phase(base: str, cfg: SoakConfig) -> dict:
    """A burst of 2 × (admission limit) short non-streaming requests at once."""
    n = 2 * (cfg.max_num_seqs + cfg.max_waiting)
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Count to five."}], "max_tokens": 8}
    async with httpx.AsyncClient(base_url=base, timeout=300, headers={"Authorization": f"Bearer {INFER}"},
                                 limits=httpx.Limits(max_connections=n + 8)) as c:
        rs = await asyncio.gather(*(c.post("/v1/chat/completions", json=body) for _ in range(n)),
                                  return_exceptions=True)
    codes: dict[str, int] = {}
    missing_retry_after = 0
    for r in rs:
        k = type(r).__name__ if isinstance(r, Exception) else str(r.status_code)
        codes[k] = codes.get(k, 0) + 1
        if not isinstance(r, Exception) and r.status_code in (429, 503) and "retry-after" not in r.headers:
            missing_retry_after += 1
    ok = set(codes) <= {"200", "429", "503"} and codes.get("429", 0) + codes.get("503", 0) > 0
    return {"sent": n, "codes": codes, "missing_retry_after": missing_retry_after, "ok": ok and not missing_retry_after}


async def drain_phase(base: str, server: subprocess.Popen, cfg: SoakConfig) -> dict:
    """``drain_streams`` streams in flight, SIGTERM once each has a chunk; all must end with [DONE]."""
    got_chunk = [asyncio.Event() for _ in range(cfg.drain_streams)]
    results: list[str] = []

    async def stream(i: int) -> None:
        body = {"model": MODEL, "stream": True, "temperature": 0, "max_tokens": cfg.drain_tokens, "ignore_eos": True,
                "messages": [{"role": "user", "content": PROMPTS[i % len(PROMPTS)]}]}
        last = ""
        try:
            async with (httpx.AsyncClient(base_url=base, timeout=300, headers={"Authorization": f"Bearer {INFER}"})
                        as c, c.stream("POST", "/v1/chat/completions", json=body) as r):
                async for line in r.aiter_lines():
                    if line.startswith("data: "):
                        got_chunk[i].set()
                        last = line
        except httpx.HTTPError as e:
            last = type(e).__name__
        got_chunk[i].set()
        results.append(last)

    tasks = [asyncio.create_task(stream(i)) for i in range(cfg.drain_streams)]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in got_chunk)), 300)
    t0 = time.monotonic()
    server.send_signal(signal.SIGTERM)
    await asyncio.sleep(0.2)
    try:  # a request after the signal must not be admitted
        async with httpx.AsyncClient(base_url=base, timeout=10, headers={"Authorization": f"Bearer {INFER}"}) as c:
            r = await c.post("/v1/chat/completions", json={"model": MODEL, "max_tokens": 4,
                                                           "messages": [{"role": "user", "content": "hi"}]})
        late = str(r.status_code)
    except httpx.HTTPError as e:
        late = type(e).__name__
    await asyncio.gather(*tasks)
    drained_s = time.monotonic() - t0
    code = await asyncio.to_thread(server.wait, 120)
    done = sum(x == "data: [DONE]" for x in results)
    return {"streams": cfg.drain_streams, "finished_with_done": done, "drain_s": round(drained_s, 1),
            "request_after_signal": late, "exit_code": code,
            "ok": done == cfg.drain_streams and late != "200" and code in (0, -signal.SIGTERM)}


def _slope_per_min(samples: list[dict], key: str) -> float:
    """Least-squares slope of ``key`` over the second half of the samples, per minute."""
    half = samples[len(samples) // 2:]
    if len(half) < 2:
        return 0.0
    ts, ys = [s["t"] for s in half], [s[key] for s in half]
    mt, my = sum(ts) / len(ts), sum(ys) / len(ys)
    var = sum((x - mt) ** 2 for x in ts)
    return 60 * sum((x - mt) * (y - my) for x, y in zip(ts, ys, strict=True)) / var if var else 0.0


def verdict(r: dict) -> dict:
    """The pass/fail checks, each with its measured figures."""
    s, f = r["soak"], r["soak"]["final"]
    raised, delivered, dropped = f["alerts"], f["delivered"], f["dropped"]
    received = r["receiver"]["distinct"]
    return {
        "no errors": len(s["tally"]["errors"]) == 0,
        "idle after the run (in flight 0, batch 0, rows 0, 1 pack table, alert queue 0)": s["quiescent"],
        "alerts raised = delivered + dropped": raised == delivered + dropped,
        "receiver has every delivered alert": delivered <= received <= delivered + dropped,
        "overload answered 429/503 with Retry-After": r["overload"]["ok"],
        "SIGTERM drains every stream": r["drain"]["ok"],
    }


def run_soak(cfg: SoakConfig, *, say=print, workdir: Path | None = None) -> dict:
    """Start the server and the receiver, run the four phases, stop everything. Returns the measured report."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(workdir or tmp)
        wport, port = free_port(), free_port()
        (tmp / "policy.yaml").write_text(policy_yaml(wport, cfg.max_waiting))
        receiver = Receiver(wport, SECRET)
        receiver.start()
        with open(tmp / "server.log", "w") as log:
            env = {**os.environ, "HF_HUB_OFFLINE": "1", "STEERSERVE_SOAK_WEBHOOK_SECRET": SECRET}
            server = subprocess.Popen([sys.executable, "-m", "server.cli", "serve", "--port", str(port), "--config",
                                       str(tmp / "policy.yaml"), "--max-num-seqs", str(cfg.max_num_seqs)],
                                      env=env, stdout=log, stderr=subprocess.STDOUT)
            base = f"http://127.0.0.1:{port}"
            try:
                _wait(base, server, tmp / "server.log")
                proc = psutil.Process(server.pid)
                say(f"[1/4] soak: {cfg.streams} streams for {cfg.duration:g} s, {cfg.disconnect:.0%} hang up early; "
                    f"webhook down {cfg.webhook_down[0]:.0%}–{cfg.webhook_down[1]:.0%}, reloads at "
                    f"{', '.join(f'{x:.0%}' for x in cfg.reloads)}")
                report = {"config": asdict(cfg), "cpus": os.cpu_count()}
                report["soak"] = asyncio.run(soak_phase(base, proc, cfg, receiver, say))
                report["receiver"] = {"posts": receiver.posts, "distinct": len(receiver.keys),
                                      "bad_signatures": receiver.bad}
                say(f"[2/4] idle after {report['soak']['quiescent_after_s']} s: {report['soak']['quiescent']}")
                say(f"[3/4] overload: {2 * (cfg.max_num_seqs + cfg.max_waiting)} requests at once")
                report["overload"] = asyncio.run(overload_phase(base, cfg))
                say(f"[4/4] SIGTERM with {cfg.drain_streams} streams in flight")
                report["drain"] = asyncio.run(drain_phase(base, server, cfg))
            finally:
                if server.poll() is None:
                    server.kill()
                    server.wait(30)
                receiver.stop()
        out = (tmp / "server.log").read_text()
        report["server_log_tracebacks"] = out.count("Traceback")
    samples = report["soak"]["samples"]
    warm = next((s for s in samples if s["t"] >= 0.2 * cfg.duration), samples[0])
    report["memory"] = {"rss_start_mb": samples[0]["rss_mb"], "rss_after_warmup_mb": warm["rss_mb"],
                        "rss_end_mb": samples[-1]["rss_mb"], "rss_max_mb": max(s["rss_mb"] for s in samples),
                        "rss_slope_mb_per_min_second_half": _slope_per_min(samples, "rss_mb"),
                        "open_files_start": samples[0]["open_files"], "open_files_end": samples[-1]["open_files"],
                        "open_files_max": max(s["open_files"] for s in samples),
                        "threads_start": samples[0]["threads"], "threads_end": samples[-1]["threads"]}
    report["checks"] = verdict(report)
    return report


def run_bench_soak(args) -> int:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    cfg = SoakConfig(streams=args.streams, duration=args.duration or 600.0, max_num_seqs=max(args.streams, 1),
                     disconnect=args.disconnect)
    r = run_soak(cfg, say=lambda m: print(m, flush=True))
    cmd = " ".join(["steer bench soak", *sys.argv[3:]])
    text = markdown(r, cmd)
    print(text)
    if args.out:
        with open(args.out, "a") as fh:
            fh.write("\n" + text + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(r, indent=1, default=str))
    if args.plot:
        try:
            plot(r, args.plot)
        except ImportError:
            print("plot skipped: pip install -e '.[build]' for matplotlib")
    return 0 if all(r["checks"].values()) else 1
