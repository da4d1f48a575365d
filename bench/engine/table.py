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


def ratio(a, b):
    return f"{a / b:5.2f}" if a and b else "    -"


print("bandwidth (GB/s, median/best of 10): " + ", ".join(
    f"{t} thr {b['median_gbs']:.1f}/{b['best_gbs']:.1f}" for t, b in sorted(bandwidth.items())))
print(f"prompt {prompt_tokens} tokens, {gen} generated (--ignore-eos, greedy); tok/s")
head = (f"{'model':11} {'thr':>3} | {'MB/tok':>6} {'ceiling':>7} | {'gen ours':>8} {'peer':>6} "
        f"{'ours/ceil':>9} {'peer/ceil':>9} {'ours/peer':>9} | {'prompt ours':>11} {'peer':>6} "
        f"{'ours/peer':>9} {'GOP/s':>6} | {'RSS ours':>8} {'peer':>6} {'file+KV':>7}")
print(head)
print("-" * len(head))
for r in rows:
    s, o, p = r["summary"], r["ours"], r.get("peer", {})
    read = s["read_bytes_per_token"]
    ceiling = bandwidth[r["threads"]]["median_gbs"] * 1e9 / read
    og, pg = o.get("gen_tok_s", 0), p.get("gen_tok_s", 0)
    op, pp = o.get("prompt_tok_s", 0), p.get("prompt_tok_s", 0)
    gops = 2 * s["matmul_elements_per_token"] * op / 1e9
    kv = s["kv_elements_per_position"] * 2 * (prompt_tokens + gen)  # F16, the positions used
    print(f"{r['model']:11} {r['threads']:>3} | {read / MB:6.1f} {ceiling:7.1f} | {og:8.1f} "
          f"{pg:6.1f} {ratio(og, ceiling):>9} {ratio(pg, ceiling):>9} {ratio(og, pg):>9} | "
          f"{op:11.1f} {pp:6.1f} {ratio(op, pp):>9} {gops:6.1f} | {o.get('peak_rss_mb', 0):8.0f} "
          f"{p.get('peak_rss_mb', 0):6.0f} {(s['file_bytes'] + kv) / 2**20:7.0f}")
print("ceiling: median bandwidth at the row's thread count / MB/tok; GOP/s: 2 x matrix "
      "elements x our prompt tok/s; RSS in MiB (peer's includes Node); file+KV: MiB, KV in F16")

if any(r.get("baseline") for r in rows):
    print("\nbefore/after (--baseline = before, ours = after): tok/s")
    print(f"{'model':11} {'thr':>3} | {'gen before':>10} {'after':>6} {'x':>5} | "
          f"{'prompt before':>13} {'after':>6} {'x':>5}")
    for r in rows:
        b, o = r.get("baseline", {}), r["ours"]
        print(f"{r['model']:11} {r['threads']:>3} | {b.get('gen_tok_s', 0):10.1f} "
              f"{o.get('gen_tok_s', 0):6.1f} {ratio(o.get('gen_tok_s'), b.get('gen_tok_s'))} | "
              f"{b.get('prompt_tok_s', 0):13.1f} {o.get('prompt_tok_s', 0):6.1f} "
              f"{ratio(o.get('prompt_tok_s'), b.get('prompt_tok_s'))}")
