#!/usr/bin/env python3
"""Attributes the HTTP path's inter-token gaps to the engine, the I/O thread or the client.

Joins three time stamps of every token, all CLOCK_MONOTONIC (steady_clock):
  E  the engine produced it (its on_token callback, on the step thread),
  S  the gateway's I/O thread picked it up (the local backend's strand),
  W  its SSE chunk was handed to the socket (http_server Exchange::write),
  C  the client received it (http_client.mjs --trace),
and per engine step the wall time and every server thread's CPU and run-queue delay (from
/proc/self/task/*/schedstat at the step's start and end).

A client gap C[k] - C[k-1] = engine gap (E[k] - E[k-1]) + the change in delivery latency, split
into post (E->S), write (S->W) and client (W->C). W is stamped after the write returns, so a
client woken on the same core can run before it: read write + client together.

How to record (the server-side stamps are a patch, not part of the product):
  git apply bench/engine_serving/itl_trace.patch && cmake --build build --target switchyard
  SY_TRACE=1 build/switchyard serve --config C.yaml ... 2>server.trace &   # run.sh's config
  node bench/engine_serving/http_client.mjs --origin ... --streams 1,4 --trace client.trace
  git apply -R bench/engine_serving/itl_trace.patch
  python3 bench/engine_serving/itl_attribute.py server.trace client.trace [--worst 3]

Prints per measured run: client and engine-stamp gap mean/p99, the slowest gaps with their
breakdown, per-hop latency percentiles, how the streams of each burst started (steps apart),
and by token index the slowest stream's gap over the run's median (systematic slow indices,
e.g. the first decode step).
"""

import argparse
import collections
import statistics


def pct(values, p):
    s = sorted(values)
    return s[min(len(s) - 1, round(p * (len(s) - 1)))] if s else 0.0


def read_server(path):
    steps = {}  # step -> {s0, fw, s1 (ns), ss0/ss1: {tid: (exec, delay, slices)}, n}
    toks = collections.defaultdict(list)  # completion id -> [(step, E, S)]
    writes = collections.defaultdict(list)  # completion id -> [W]
    fifo = collections.deque()  # tokens picked up, waiting for their chunk's write
    submits = []
    names = {}
    for line in open(path):
        if not line.startswith("TRACE "):
            continue
        f = line.split()
        kind = f[1]
        if kind == "steptid":
            names[f[2]] = "step"
        elif kind == "pooltid":
            names[f[2]] = "pool"
        elif kind in ("s0", "s1"):
            st = steps.setdefault(int(f[2]), {})
            st[kind] = int(f[3])
            st["ss" + kind[1]] = {x.split(":")[0]: tuple(map(int, x.split(":")[1:])) for x in f[4:]}
        elif kind == "fw":
            st = steps.setdefault(int(f[2]), {})
            st["fw"], st["n"] = int(f[3]), int(f[4])
        elif kind == "tok":
            names.setdefault(f[2], "io")
            fifo.append((int(f[4]), int(f[5]), int(f[6])))
        elif kind == "wrc":
            # Chunks are written in the order their tokens reached the I/O thread (one strand
            # post each, one io_context): the n-th content write is the n-th token picked up.
            writes[f[5]].append(int(f[3]))
            toks[f[5]].append(fifo.popleft())
        elif kind == "submit":
            submits.append(int(f[2]))
    return steps, toks, writes, submits, names


def read_client(path):
    recv = collections.defaultdict(list)  # (run, stream) -> [(k, C, id, cpu_us)]
    gcs = []
    for line in open(path):
        f = line.split(" ", 6)
        if f[0] == "recv":
            cpu = f[6].split(" ")[0]
            recv[(int(f[1]), int(f[2]))].append(
                (int(f[3]), int(f[4]), f[5], int(cpu) if cpu.isdigit() else 0))
        elif f[0] == "gc":
            gcs.append((int(f[1]), int(f[2]), f[3].strip()))
    return recv, gcs


def sched_delta(step, names):
    a, b = step.get("ss0"), step.get("ss1")
    out = collections.defaultdict(lambda: [0.0, 0.0])
    if not a or not b:
        return out
    for tid, now in b.items():
        if tid in a:
            who = names.get(tid, "other")
            out[who][0] += (now[0] - a[tid][0]) / 1e6
            out[who][1] += (now[1] - a[tid][1]) / 1e6
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("server")
    ap.add_argument("client")
    ap.add_argument("--worst", type=int, default=3)
    args = ap.parse_args()
    steps, toks, writes, submits, names = read_server(args.server)
    recv, gcs = read_client(args.client)

    runs = collections.defaultdict(list)
    for (r, s), lst in recv.items():
        runs[r].append((s, lst))
    by_k = collections.defaultdict(lambda: collections.defaultdict(list))
    for r in sorted(runs):
        if r <= 0:  # warm-up runs
            continue
        rows, hops = [], collections.defaultdict(list)
        for s, lst in runs[r]:
            cid = lst[0][2]
            ts, ws = toks[cid], writes[cid]
            for k, (_, c, _, _) in enumerate(lst):
                hops["post"].append((ts[k][2] - ts[k][1]) / 1e6)
                hops["write+client"].append((c - ts[k][2]) / 1e6)
            for k in range(1, len(lst)):
                e0, e1 = ts[k - 1][1], ts[k][1]
                rows.append(dict(
                    s=s, k=k, gap=(lst[k][1] - lst[k - 1][1]) / 1e6, eng=(e1 - e0) / 1e6,
                    post=((ts[k][2] - e1) - (ts[k - 1][2] - e0)) / 1e6,
                    wr=((ws[k] - ts[k][2]) - (ws[k - 1] - ts[k - 1][2])) / 1e6,
                    cli=((lst[k][1] - ws[k]) - (lst[k - 1][1] - ws[k - 1])) / 1e6,
                    step=ts[k][0], c=lst[k][1], ccpu=(lst[k][3] - lst[k - 1][3]) / 1e3))
        gaps = [x["gap"] for x in rows]
        eng = [x["eng"] for x in rows]
        m, me = statistics.mean(gaps), statistics.mean(eng)
        print(f"run {r}: {len(runs[r])} streams, {len(gaps)} gaps; client gap mean {m:.2f} "
              f"p99 {pct(gaps, .99):.2f} ({pct(gaps, .99) / m:.2f}); engine-stamp gap mean "
              f"{me:.2f} p99 {pct(eng, .99):.2f} ({pct(eng, .99) / me:.2f})")
        print("  hops ms p50/p99/max: " + "; ".join(
            f"{h} {pct(v, .5):.3f}/{pct(v, .99):.2f}/{max(v):.2f}" for h, v in hops.items()))
        firsts = sorted(toks[lst[0][2]][0][0] for _, lst in runs[r])
        print(f"  streams' first tokens at steps {firsts[0]}..{firsts[-1]} "
              f"({'one step' if firsts[0] == firsts[-1] else 'staggered'})")
        for x in sorted(rows, key=lambda x: -x["gap"])[:args.worst]:
            st, prev = steps.get(x["step"], {}), steps.get(x["step"] - 1, {})
            sd = sched_delta(st, names)
            gc = [(round(g[1] / 1e6, 2), g[2]) for g in gcs
                  if g[0] < x["c"] and g[0] + g[1] > x["c"] - x["gap"] * 1e6]
            print(f"  s{x['s']} k={x['k']:2d} gap {x['gap']:6.2f} = engine {x['eng']:6.2f} "
                  f"+ post {x['post']:+.2f} + write {x['wr']:+.2f} + client {x['cli']:+.2f} | "
                  f"step {x['step']} ({st.get('n', '?')} seqs): forward "
                  f"{(st.get('fw', 0) - st.get('s0', 0)) / 1e6:.2f}, sample+settle "
                  f"{(st.get('s1', 0) - st.get('fw', 0)) / 1e6:.2f}, before "
                  f"{(st.get('s0', 0) - prev.get('s1', 0)) / 1e6:.2f} | cpu/run-queue ms "
                  + " ".join(f"{n} {v[0]:.2f}/{v[1]:.2f}" for n, v in sorted(sd.items()))
                  + f" | client cpu {x['ccpu']:.2f}" + (f" | gc {gc}" if gc else ""))
        med = statistics.median(eng)
        per_k = collections.defaultdict(lambda: [0.0, 0.0])
        for x in rows:
            per_k[x["k"]][0] = max(per_k[x["k"]][0], x["eng"] / med)
            per_k[x["k"]][1] = max(per_k[x["k"]][1], x["gap"] / med)
        for k, (e, c) in per_k.items():
            by_k[len(runs[r])][("engine", k)].append(e)
            by_k[len(runs[r])][("client", k)].append(c)
    for n, acc in sorted(by_k.items()):
        ks = sorted({k for (_, k) in acc})
        print(f"N={n}, {len(acc[('engine', 1)])} runs: slowest stream's gap at token k / the run's "
              f"median engine gap, mean over runs")
        print("  k      " + " ".join(f"{k:5d}" for k in ks))
        for w in ("engine", "client"):
            print(f"  {w} " + " ".join(f"{statistics.mean(acc[(w, k)]):5.2f}" for k in ks))
    bursts, last = [], None
    for t in sorted(submits):
        if last is None or t - last > 100e6:
            bursts.append([])
        bursts[-1].append(t)
        last = t
    print("submission bursts (ms from the first): " + "; ".join(
        " ".join(f"{(t - b[0]) / 1e6:.1f}" for t in b) for b in bursts if len(b) > 1))


if __name__ == "__main__":
    main()
