#!/usr/bin/env python3
"""The table of bench/engine_serving/run.sh: one line per (streams, path), the three paths
(in-proc, http, peer) of a stream count together, each beside this run's ceilings.

    table.py --weight-bytes B --kv-bytes K --prompt-tokens P --gen G --macs M \
             BW_BEFORE BW_AFTER PEAK_BEFORE PEAK_AFTER INPROC_ROWS HTTP_ROWS PEER_ROWS

mem ceil: N x bandwidth / (B + N x K x mean position); cmp ceil: int8 peak / (2 x M); both in
generated tokens/s, from the probes taken before the run. agg/cmp: aggregate tok/s over the
compute ceiling; x1: aggregate over the same path's 1-stream aggregate; vs peer: aggregate
over the peer's at that N. The aggregate runs from the first submit to the last token, so it
includes the prefill of every prompt (at 16 streams of 64-token prompts: ~0.5 s before the first
token; run.sh generates 128 tokens a stream so that the decode steps dominate it).
dec tok/s: the steady decode rate, N / mean inter-token latency (every stream decoding one token
a step); dx1: it over the same path's 1-stream rate; dec/cmp: it over the compute ceiling.
Issue 5's targets, as it states them: (a) "aggregate throughput at 16 streams at least 4x the
single-stream rate and at least 40% of the compute ceiling for that step" (x1 >= 4 and agg/cmp
>= 0.40 at N = 16; dx1 and dec/cmp are the same ratios for the decode steps alone); (b) "p99
inter-token latency at most 1.5x its mean at every concurrency" (p99/mean <= 1.5, every N, in-proc
and http); (c) "ahead of the peer at every concurrency" (vs peer > 1).
"""
import argparse
import json


def rows(text):
    return {r["streams"]: r for r in (json.loads(l) for l in text.splitlines() if l.strip())}


def main():
    p = argparse.ArgumentParser()
    for name in ("weight-bytes", "kv-bytes", "prompt-tokens", "gen", "macs"):
        p.add_argument("--" + name, type=float, required=True)
    for name in ("bw_before", "bw_after", "peak_before", "peak_after", "inproc", "http", "peer"):
        p.add_argument(name)
    a = p.parse_args()
    bw_b, bw_a = json.loads(a.bw_before), json.loads(a.bw_after)
    pk_b, pk_a = json.loads(a.peak_before), json.loads(a.peak_after)
    paths = {"in-proc": rows(a.inproc), "http": rows(a.http), "peer": rows(a.peer)}
    bandwidth, peak = bw_b["median_gbs"], pk_b["gops_wall"]
    cmp_ceil = peak * 1e9 / (2 * a.macs)
    print(f"bandwidth median GB/s: {bw_b['median_gbs']:.1f} before, {bw_a['median_gbs']:.1f} after; "
          f"{pk_b['kind']} peak GOP/s (wall, all threads): {pk_b['gops_wall']:.0f} before, "
          f"{pk_a['gops_wall']:.0f} after (per thread in CPU time {pk_b['gops_cpu_per_thread']:.0f}); "
          f"ceilings use the before probes")
    print(f"compute ceiling {cmp_ceil:.0f} tok/s at every N (2 x {a.macs / 1e6:.0f}M multiply-adds "
          f"a token; attention's ~2% left out)")
    head = (f"{'N':>3} {'path':<7} | {'agg tok/s':>9} {'x1':>5} {'vs peer':>7} | {'mem ceil':>8} "
            f"{'agg/mem':>7} {'agg/cmp':>7} | {'dec tok/s':>9} {'dx1':>5} {'dec/cmp':>7} | {'TTFT p50':>8} {'p99':>7} | {'ITL p50':>7} "
            f"{'mean':>6} {'p99':>6} {'p99/mean':>8}")
    print("targets (issue 5): N=16 x1 >= 4 and agg/cmp >= 0.40; p99/mean <= 1.5 at every N; "
          "vs peer > 1 at every N")
    print(head)
    print("-" * len(head))
    counts = sorted({n for r in paths.values() for n in r})
    for n in counts:
        mean_pos = a.prompt_tokens + a.gen / 2
        mem_ceil = n * bandwidth * 1e9 / (a.weight_bytes + n * a.kv_bytes * mean_pos)
        peer = paths["peer"].get(n)
        for name, table in paths.items():
            r = table.get(n)
            if r is None:
                continue
            base = table.get(1)
            x1 = r["aggregate_tok_s"] / base["aggregate_tok_s"] if base else 0
            vs = r["aggregate_tok_s"] / peer["aggregate_tok_s"] if peer and name != "peer" else 0
            vs_text = f"{vs:7.2f}" if vs else f"{'':>7}"
            dec = n * 1e3 / r["itl_mean_ms"] if r["itl_mean_ms"] > 0 else 0
            dec_base = 1e3 / base["itl_mean_ms"] if base and base["itl_mean_ms"] > 0 else 0
            dx1 = dec / dec_base if dec_base else 0
            print(f"{n:>3} {name:<7} | {r['aggregate_tok_s']:9.1f} {x1:5.2f} {vs_text} | "
                  f"{mem_ceil:8.0f} {r['aggregate_tok_s'] / mem_ceil:7.2f} "
                  f"{r['aggregate_tok_s'] / cmp_ceil:7.2f} | {dec:9.1f} {dx1:5.2f} "
                  f"{dec / cmp_ceil:7.2f} | {r['ttft_p50_ms']:8.0f} "
                  f"{r['ttft_p99_ms']:7.0f} | {r['itl_p50_ms']:7.1f} {r['itl_mean_ms']:6.1f} "
                  f"{r['itl_p99_ms']:6.1f} {r['itl_p99_over_mean']:8.2f}")
    extra = [f"in-proc N={n}: ITL in process CPU time mean {r['itl_cpu_mean_ms']:.1f} ms, "
             f"p99/mean {r['itl_cpu_p99_over_mean']:.2f}, {r['steps']} steps"
             for n, r in sorted(paths["in-proc"].items())]
    extra += [f"http N={n}: {r['bundled_tokens']} of {r['tokens']} tokens arrived bundled in a "
              f"chunk with others; prompt {r['prompt_tokens']:.0f} tokens"
              + (f"; client ({r['transport']}) CPU {r['client_cpu_ms']:.0f} ms"
                 if "client_cpu_ms" in r else "")
              for n, r in sorted(paths["http"].items())]
    for line in extra:
        print("  " + line)


if __name__ == "__main__":
    main()
