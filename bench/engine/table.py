#!/usr/bin/env python3
"""The table of bench/engine/run.sh, from the JSON lines it collected (also usable on a saved
log: the bandwidth lines and the row lines it echoes to stderr).

    table.py BANDWIDTH_JSONL ROWS_JSONL GEN PROMPT_TOKENS
"""
import json
import sys

bandwidth = {b["threads"]: b for b in map(json.loads, open(sys.argv[1]))}
rows = [json.loads(line) for line in open(sys.argv[2])]
gen, prompt_tokens = int(sys.argv[3]), int(sys.argv[4])
MB = 1e6


def median(values):
    values = sorted(values)
    n = len(values)
    return (values[n // 2] + values[(n - 1) // 2]) / 2 if n else 0


def runs(r, key):
    """A row's runs of ours or the baseline: a list (run.sh --repeat) or one run (older logs)."""
    v = r.get(key) or []
    return v if isinstance(v, list) else [v]


def gen_ceiling(r, k):
    """The ceiling of run k of a row: its own probe, else the probe at the start of the run."""
    probes = r.get("probes") or []
    gbs = probes[k]["median_gbs"] if k < len(probes) else bandwidth[r["threads"]]["median_gbs"]
    return gbs * 1e9 / r["summary"]["read_bytes_per_token"]


def row_speeds(r, key):
    """Median generation and prompt tok/s of a row's runs, and the median of each run's
    generation over its own ceiling."""
    rs = [x for x in runs(r, key) if x]
    if not rs:
        return {}
    read = r["summary"]["read_bytes_per_token"]
    return {"gen_tok_s": median([x.get("gen_tok_s", 0) for x in rs]),
            "prompt_tok_s": median([x.get("prompt_tok_s", 0) for x in rs]),
            "peak_rss_mb": max(x.get("peak_rss_mb", 0) for x in rs),
            "ratios": [x.get("gen_tok_s", 0) / gen_ceiling(r, k) for k, x in enumerate(rs)],
            # Each run's generation over its own plain read of its weights (generate
            # --stats-json's weights_read_gbs), where the run reports one.
            "weights_gbs": [x["weights_read_gbs"] for x in rs if x.get("weights_read_gbs")],
            "weights_ratios": [x.get("gen_tok_s", 0) / (x["weights_read_gbs"] * 1e9 / read)
                               for x in rs if x.get("weights_read_gbs")]}


def ratio(a, b):
    return f"{a / b:5.2f}" if a and b else "    -"


print("bandwidth (GB/s, median/best of 10): " + ", ".join(
    f"{t} thr {b['median_gbs']:.1f}/{b['best_gbs']:.1f}" for t, b in sorted(bandwidth.items())))
print(f"prompt {prompt_tokens} tokens, {gen} generated (--ignore-eos, greedy); tok/s")
head = (f"{'model':11} {'thr':>3} | {'MB/tok':>6} {'ceiling':>7} | {'gen ours':>8} {'peer':>6} "
        f"{'ours/ceil':>9} {'ours/wrd':>8} {'peer/ceil':>9} {'ours/peer':>9} | "
        f"{'prompt ours':>11} {'peer':>6} "
        f"{'ours/peer':>9} {'GOP/s':>6} | {'RSS ours':>8} {'peer':>6} {'file+KV':>7}")
print(head)
print("-" * len(head))
for r in rows:
    s, o, p = r["summary"], row_speeds(r, "ours"), r.get("peer", {})
    read = s["read_bytes_per_token"]
    ceiling = median([gen_ceiling(r, k) for k in range(len(runs(r, "ours")))])
    og, pg = o.get("gen_tok_s", 0), p.get("gen_tok_s", 0)
    op, pp = o.get("prompt_tok_s", 0), p.get("prompt_tok_s", 0)
    gops = 2 * s["matmul_elements_per_token"] * op / 1e9
    kv = s["kv_elements_per_position"] * 2 * (prompt_tokens + gen)  # F16, the positions used
    ours_ceil = f"{median(o['ratios']):5.2f}" if o.get("ratios") else "    -"
    ours_wrd = f"{median(o['weights_ratios']):5.2f}" if o.get("weights_ratios") else "    -"
    print(f"{r['model']:11} {r['threads']:>3} | {read / MB:6.1f} {ceiling:7.1f} | {og:8.1f} "
          f"{pg:6.1f} {ours_ceil:>9} {ours_wrd:>8} {ratio(pg, ceiling):>9} {ratio(og, pg):>9} | "
          f"{op:11.1f} {pp:6.1f} {ratio(op, pp):>9} {gops:6.1f} | {o.get('peak_rss_mb', 0):8.0f} "
          f"{p.get('peak_rss_mb', 0):6.0f} {(s['file_bytes'] + kv) / 2**20:7.0f}")
print("ceiling: median bandwidth at the row's thread count / MB/tok, from the probe before each "
      "run of ours (the median over them); gen and prompt ours: medians over the runs; "
      "ours/ceil: the median of each run over its own probe's ceiling; ours/wrd: the median of "
      "each run over its own plain read of its weights where they lie (the same threads, after "
      "generating; the part of a small model's weights the L3 keeps counts there); GOP/s: 2 x matrix "
      "elements x our prompt tok/s; RSS in MiB (peer's includes Node); file+KV: MiB, KV in F16")
if any(len(runs(r, "ours")) > 1 for r in rows):
    print("\nrun by run: ours/ceil (probe GB/s), ours/wrd (weights read GB/s):")
    for r in rows:
        o = row_speeds(r, "ours")
        probes = r.get("probes") or []
        line = "  ".join(f"{x:.2f} ({probes[k]['median_gbs']:.1f})" if k < len(probes) else
                         f"{x:.2f}" for k, x in enumerate(o.get("ratios", [])))
        if o.get("weights_ratios"):
            line += " | " + "  ".join(f"{x:.2f} ({g:.1f})"
                                      for x, g in zip(o["weights_ratios"], o["weights_gbs"]))
        print(f"{r['model']:11} {r['threads']:>3} | {line}")

if any(runs(r, "baseline") for r in rows):
    print("\nbefore/after (--baseline = before, ours = after; medians): tok/s")
    print(f"{'model':11} {'thr':>3} | {'gen before':>10} {'after':>6} {'x':>5} | "
          f"{'prompt before':>13} {'after':>6} {'x':>5}")
    for r in rows:
        b, o = row_speeds(r, "baseline"), row_speeds(r, "ours")
        print(f"{r['model']:11} {r['threads']:>3} | {b.get('gen_tok_s', 0):10.1f} "
              f"{o.get('gen_tok_s', 0):6.1f} {ratio(o.get('gen_tok_s'), b.get('gen_tok_s'))} | "
              f"{b.get('prompt_tok_s', 0):13.1f} {o.get('prompt_tok_s', 0):6.1f} "
              f"{ratio(o.get('prompt_tok_s'), b.get('prompt_tok_s'))}")
