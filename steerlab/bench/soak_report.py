"""Reports of ``steer bench soak`` (steerlab/bench/soak.py): the Markdown block for docs/benchmarks.md and the plot."""

from __future__ import annotations

import time


def markdown(r: dict, cmd: str) -> str:
    s, t, m, f = r["soak"], r["soak"]["tally"], r["memory"], r["soak"]["final"]
    lines = [f"### `{cmd}` — {time.strftime('%Y-%m-%d %H:%M')} ({r['cpus']} CPUs)", "",
             f"{r['config']['streams']} streams for {s['wall_s']:.0f} s: {t['started']} requests — {t['completed']} "
             f"completed, {t['disconnected']} hung up early by the client, rejected {t['rejected'] or 'none'}, "
             f"**{len(t['errors'])} errors**; {t['tokens']} completion tokens reported in usage. "
             f"Events: {'; '.join(f'{w} at {x:.0f} s' for x, w in s['events'])}.", "",
             "| figure | start | after warm-up (20%) | end (idle) | max | slope, 2nd half |", "|---|---|---|---|---|---|",
             f"| server RSS (MB) | {m['rss_start_mb']:.0f} | {m['rss_after_warmup_mb']:.0f} | {m['rss_end_mb']:.0f} | "
             f"{m['rss_max_mb']:.0f} | {m['rss_slope_mb_per_min_second_half']:+.2f} MB/min |",
             f"| open files | {m['open_files_start']} | | {m['open_files_end']} | {m['open_files_max']} | |",
             f"| threads | {m['threads_start']} | | {m['threads_end']} | | |", "",
             f"Idle {s['quiescent_after_s']} s after the last client: in flight {f['in_flight']:.0f}, batch "
             f"{f['batch']:.0f}, config rows {f['config_rows']:.0f}, pack tables {f['pack_tables']:.0f}, alert queue "
             f"{f['queued']:.0f}. Alerts: raised {f['alerts']:.0f} = delivered {f['delivered']:.0f} + dropped "
             f"{f['dropped']:.0f}; webhook failures (retried) {f['sink_failures']:.0f}; the receiver got "
             f"{r['receiver']['posts']} posts, {r['receiver']['distinct']} distinct alerts.",
             f"Overload: {r['overload']['sent']} requests at once → {r['overload']['codes']}, "
             f"{r['overload']['missing_retry_after']} without Retry-After. SIGTERM with {r['drain']['streams']} "
             f"streams in flight: {r['drain']['finished_with_done']} finished with [DONE] in {r['drain']['drain_s']} s, "
             f"a request after the signal got {r['drain']['request_after_signal']}, exit code "
             f"{r['drain']['exit_code']}. Tracebacks in the server log: {r['server_log_tracebacks']}.", "",
             "| check | result |", "|---|---|"]
    lines += [f"| {k} | {'pass' if v else '**FAIL**'} |" for k, v in r["checks"].items()]
    return "\n".join(lines)


def plot(r: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    s = r["soak"]["samples"]
    ts = [x["t"] for x in s]
    fig, ax = plt.subplots(3, 1, figsize=(9, 8), sharex=True)
    ax[0].plot(ts, [x["rss_mb"] for x in s], label="server RSS (MB)")
    ax[0].set_ylabel("MB")
    ax0b = ax[0].twinx()
    ax0b.plot(ts, [x["open_files"] for x in s], color="tab:orange", label="open files")
    ax0b.set_ylabel("open files")
    ax[1].plot(ts, [x["in_flight"] for x in s], label="requests in flight")
    ax[1].plot(ts, [x["config_rows"] for x in s], label="steering config rows")
    ax[1].plot(ts, [x["pack_tables"] for x in s], label="pack tables")
    ax[2].plot(ts, [x["alerts"] for x in s], label="alerts raised")
    ax[2].plot(ts, [x["delivered"] for x in s], label="delivered (webhook)")
    ax[2].plot(ts, [x["queued"] for x in s], label="queued / retrying")
    ax[2].plot(ts, [x["dropped"] for x in s], label="dropped")
    for a in ax:
        for t, _ in r["soak"]["events"]:
            a.axvline(t, color="grey", lw=0.8, ls="--")
        a.legend(loc="upper left", fontsize=8)
    for t, what in r["soak"]["events"]:
        ax[0].text(t, ax[0].get_ylim()[1], what.split(" →")[0], rotation=90, va="top", fontsize=7)
    ax[2].set_xlabel("seconds")
    fig.suptitle(f"steer bench soak: {r['config']['streams']} streams, {r['config']['duration']:g} s")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
