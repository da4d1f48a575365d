#!/usr/bin/env python3
"""Builds the difficulty data set and fits the shipped difficulty weights (standard library only).

  scripts/fit_difficulty.py build-data
      policies/classify/difficulty/data/routerbench_*_raw.tsv and routerdc_7b_raw.tsv
      -> labels.jsonl (labels, fixed fit/held-out split by hash; checks each RouterBench row
      against RouterBench's oracle and each RouterDC row's seven scores).
  scripts/fit_difficulty.py fit [--tool build/bench/classifiers/bench_difficulty]
      reads the feature vectors the gateway's own extractor computes (`bench_difficulty
      features`), fits an L2-regularised logistic regression on the fit split only, and writes
      policies/classify/difficulty_default_weights.cpp.

Deterministic: no randomness, a fixed number of Newton steps, fixed output formatting.
"""

import argparse
import hashlib
import json
import math
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA_DIR = os.path.join(ROOT, "policies", "classify", "difficulty", "data")
JSONL = os.path.join(DATA_DIR, "labels.jsonl")
WEIGHTS_CPP = os.path.join(ROOT, "policies", "classify", "difficulty_default_weights.cpp")
DEFAULT_TOOL = os.path.join(ROOT, "build", "bench", "classifiers", "bench_difficulty")

# RouterBench's score columns, in its order, and the short codes of the raw file's oracle column.
MODELS = ["WizardLM/WizardLM-13B-V1.2", "claude-instant-v1", "claude-v1", "claude-v2",
          "gpt-3.5-turbo-1106", "gpt-4-1106-preview", "meta/code-llama-instruct-34b-chat",
          "meta/llama-2-70b-chat", "mistralai/mistral-7b-chat", "mistralai/mixtral-8x7b-chat",
          "zero-one-ai/Yi-34B-Chat"]
CODES = {"wiz": 0, "cli": 1, "cv1": 2, "cv2": 3, "g35": 4, "g4": 5, "cl34": 6, "l70": 7, "m7": 8,
         "mx": 9, "yi": 10}
SMALL = 8     # mistralai/mistral-7b-chat
FRONTIER = 5  # gpt-4-1106-preview
# One raw transcription per RouterBench task: the text RouterBench put around every question
# (the raw files drop it to stay small) and where the rows were read.
RAW_SOURCES = [
    {"raw": "routerbench_arc_raw.tsv", "task": "ARC-Challenge", "prefix": "",
     "suffix": ('\nPrint only a single choice  from "A" or "B" or "C" or "D" without '
                'explanation.\nAnswer:'),
     "files": {"zs/arc_challenge_test": "datasets/routerbench_zs/arc_challenge_test.csv",
               "cluster/arc_challenge_train": "datasets/routerbench_cluster/arc_challenge_train.csv"}},
    {"raw": "routerbench_winogrande_raw.tsv", "task": "Winogrande",
     "prefix": "Please answer with the letter of the correct answer.\n\n",
     "suffix": '\nPrint only a single choice  from "A" or "B" without explanation. Answer:',
     "files": {"zs/winograde_test": "datasets/routerbench_zs/winograde_test.csv",
               "zs/winograde_train": "datasets/routerbench_zs/winograde_train.csv"}},
]
ROUTERDC = "shuhao02/RouterDC"
# RouterDC's own score files (datasets/split2_model7/*.json, commit dadb872): seven 7-8B open
# models, each scored on the same prompts (0/1, a pass rate for MBPP, the probability of the
# right choice for ARC-Easy). No frontier model was scored there, so a prompt is `easy` when the
# seven small models' mean score is at least SMALL_MAJORITY ("a typical 7B model gets it right")
# and `hard` otherwise; `both_wrong` cannot be told apart and counts as hard.
SMALL_MODELS_7B = ["mistralai/Mistral-7B-v0.1", "meta-math/MetaMath-Mistral-7B",
                   "itpossible/Chinese-Mistral-7B-v0.1", "HuggingFaceH4/zephyr-7b-beta",
                   "cognitivecomputations/dolphin-2.6-mistral-7b", "meta-llama/Meta-Llama-3-8B",
                   "cognitivecomputations/dolphin-2.9-llama3-8b"]
SMALL_MAJORITY = 0.5
ROUTERDC_7B_RAW = "routerdc_7b_raw.tsv"
ROUTERDC_7B_COMMIT = "dadb87299f65fb8f1c1dddc30967a3907d0132dd"
ROUTERDC_7B_FILES = {  # raw file's first column -> (task, RouterDC file)
    "mbpp": ("MBPP", "datasets/split2_model7/mbpp.json"),
    "math": ("MATH-prealgebra", "datasets/split2_model7/MATH_prealgebra.json"),
    "arc_easy_test": ("ARC-Easy", "datasets/split2_model7/arc_easy_test.json"),
    "humaneval_test": ("HumanEval", "datasets/split2_model7/humaneval_test.json"),
    "cmmlu_test": ("CMMLU", "datasets/split2_model7/cmmlu_test.json"),
}
HELDOUT_SHARE = 0.3
# Ridge penalty on standardised weights (the intercept is not penalised), chosen from this grid
# by cross-validation on the fit split unless --l2 is given.
L2_GRID = [0.3, 1.0, 3.0, 10.0, 30.0, 100.0]
MIN_SUPPORT = 0.05  # share of fitting rows a feature must vary on to be fitted
NEWTON_STEPS = 50


def split_of(sample_id):
    """Fixed split: the first 4 bytes of sha256(id) as a fraction of 2^32."""
    h = int.from_bytes(hashlib.sha256(sample_id.encode()).digest()[:4], "big")
    return "heldout" if h / 2**32 < HELDOUT_SHARE else "fit"


def build_data():
    rows, seen = [], set()
    for source in RAW_SOURCES:
        read_raw(source, rows, seen)
    read_routerdc_7b(rows, seen)
    rows.sort(key=lambda r: r["id"])
    with open(JSONL, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")
    counts = {}
    for r in rows:
        key = (r["task"], r["split"], r["label"])
        counts[key] = counts.get(key, 0) + 1
    print(f"{len(rows)} rows -> {os.path.relpath(JSONL, ROOT)}")
    for key in sorted(counts):
        print(f"  {key[0]:14s} {key[1]:8s} {key[2]:10s} {counts[key]}")


def read_raw(source, rows, seen):
    raw = os.path.join(DATA_DIR, source["raw"])
    with open(raw, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            file, sample_id, scores, oracle, question = line.split("\t")
            where = f"{raw}:{number}"
            if file not in source["files"]:
                sys.exit(f"{where}: unknown source file {file}")
            # "-" marks a score RouterBench left empty; the two models compared must have one.
            if len(scores) != len(MODELS) or set(scores) - {"0", "1", "-"}:
                sys.exit(f"{where}: scores must be {len(MODELS)} characters 0/1/-")
            if "-" in (scores[SMALL], scores[FRONTIER]):
                sys.exit(f"{where}: small or frontier score missing")
            if sample_id in seen:
                sys.exit(f"{where}: duplicate {sample_id}")
            seen.add(sample_id)
            correct = [c == "1" for c in scores]
            # RouterBench's oracle is the cheapest model that was right: it must have been right,
            # and the small model (the cheapest of all) is the oracle exactly when it was right.
            if oracle == "none":  # RouterBench's "no_model_correct"
                if any(correct):
                    sys.exit(f"{where}: oracle says no model was right: transcription error")
            elif oracle not in CODES:
                sys.exit(f"{where}: unknown oracle code {oracle}")
            elif not correct[CODES[oracle]]:
                sys.exit(f"{where}: oracle {oracle} was not right: transcription error")
            if correct[SMALL] != (oracle == "m7"):
                sys.exit(f"{where}: small-model score disagrees with the oracle")
            small, frontier = correct[SMALL], correct[FRONTIER]
            label = "easy" if small else ("hard" if frontier else "both_wrong")
            text = source["prefix"] + question.replace("\\n", "\n") + source["suffix"]
            rows.append({
                "id": sample_id,
                "task": source["task"],
                "source": f"RouterBench 0-shot {source['task']} via {ROUTERDC} "
                          f"({source['files'][file]})",
                "label": label,
                "split": split_of(sample_id),
                "small": {"model": MODELS[SMALL], "correct": small},
                "frontier": {"model": MODELS[FRONTIER], "correct": frontier},
                "request": {"model": "any", "messages": [{"role": "user", "content": text}]},
            })


def read_routerdc_7b(rows, seen):
    raw = os.path.join(DATA_DIR, ROUTERDC_7B_RAW)
    with open(raw, encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            file, index, scores, question = line.split("\t")
            where = f"{raw}:{number}"
            if file not in ROUTERDC_7B_FILES:
                sys.exit(f"{where}: unknown source file {file}")
            values = [float(v) for v in scores.split(",")]
            if len(values) != len(SMALL_MODELS_7B) or any(v < 0 or v > 1 for v in values):
                sys.exit(f"{where}: need {len(SMALL_MODELS_7B)} scores in [0, 1]")
            task, path = ROUTERDC_7B_FILES[file]
            sample_id = f"routerdc.{file}.{int(index)}"
            if sample_id in seen:
                sys.exit(f"{where}: duplicate {sample_id}")
            seen.add(sample_id)
            mean = sum(values) / len(values)
            easy = mean >= SMALL_MAJORITY
            rows.append({
                "id": sample_id,
                "task": task,
                "source": f"RouterDC {ROUTERDC} ({path}, item {int(index)} counted from 0)",
                "label": "easy" if easy else "hard",
                "split": split_of(sample_id),
                "small": {"models": SMALL_MODELS_7B, "scores": values, "mean": round(mean, 4),
                          "correct": easy},
                "frontier": None,
                "request": {"model": "any", "messages": [
                    {"role": "user", "content": question.replace("\\n", "\n")}]},
            })


def solve(a, b):
    """Gaussian elimination with partial pivoting (a is small and square)."""
    n = len(b)
    m = [row[:] + [b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        if abs(m[col][col]) < 1e-12:
            continue
        for r in range(n):
            if r != col:
                factor = m[r][col] / m[col][col]
                for c in range(col, n + 1):
                    m[r][c] -= factor * m[col][c]
    return [m[i][n] / m[i][i] if abs(m[i][i]) >= 1e-12 else 0.0 for i in range(n)]


def sigmoid(z):
    return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))


def fit_logistic(x, y, l2):
    """Ridge logistic regression by Newton's method; x is standardised, column 0 is the bias."""
    d = len(x[0])
    w = [0.0] * d
    for _ in range(NEWTON_STEPS):
        grad = [0.0] * d
        hess = [[0.0] * d for _ in range(d)]
        for xi, yi in zip(x, y):
            p = sigmoid(sum(wj * xj for wj, xj in zip(w, xi)))
            g = p - yi
            s = p * (1 - p)
            for j in range(d):
                grad[j] += g * xi[j]
                for k in range(j, d):
                    hess[j][k] += s * xi[j] * xi[k]
        for j in range(1, d):
            grad[j] += l2 * w[j]
            hess[j][j] += l2
        for j in range(d):
            for k in range(j):
                hess[j][k] = hess[k][j]
        step = solve(hess, grad)
        w = [wj - sj for wj, sj in zip(w, step)]
        if max(abs(s) for s in step) < 1e-10:
            break
    return w


def fit_raw(raw, y, l2):
    """Fits on standardised features and maps the weights back to raw feature units."""
    means = [sum(col) / len(col) for col in zip(*raw)]
    stds = [math.sqrt(sum((v - m) ** 2 for v in col) / len(col))
            for col, m in zip(zip(*raw), means)]
    # A feature gets a weight only where the fitting split supports one: it must differ from its
    # most common value on at least MIN_SUPPORT of the rows. A cue seen on three prompts would
    # otherwise earn a huge weight from noise (the degree sign made non_ascii look "easy").
    live = [j for j, s in enumerate(stds) if s > 1e-9 and support(raw, j) >= min_support(len(raw))]
    x = [[1.0] + [(row[j] - means[j]) / stds[j] for j in live] for row in raw]
    w = fit_logistic(x, y, l2)
    weights = [0.0] * len(raw[0])
    bias = w[0]
    for i, j in enumerate(live):
        weights[j] = w[i + 1] / stds[j]
        bias -= w[i + 1] * means[j] / stds[j]
    return bias, weights


def support(raw, j):
    values = [row[j] for row in raw]
    mode = max(set(values), key=values.count)
    return sum(1 for v in values if v != mode)


def min_support(n):
    return max(10, int(math.ceil(MIN_SUPPORT * n)))


def auc(scores, labels):
    pos = [s for s, l in zip(scores, labels) if l == 1]
    neg = [s for s, l in zip(scores, labels) if l == 0]
    if not pos or not neg:
        return 0.5
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def choose_l2(raw, y, ids):
    """Ridge strength by 5-fold cross-validation inside the fit split (folds by hash of id)."""
    folds = [int.from_bytes(hashlib.sha256(("fold:" + i).encode()).digest()[:4], "big") % 5
             for i in ids]
    best = None
    for l2 in L2_GRID:
        scores, labels = [], []
        for k in range(5):
            tr = [j for j in range(len(raw)) if folds[j] != k]
            te = [j for j in range(len(raw)) if folds[j] == k]
            if not te or len({y[j] for j in tr}) < 2:
                continue
            b, w = fit_raw([raw[j] for j in tr], [y[j] for j in tr], l2)
            scores += [b + sum(wi * v for wi, v in zip(w, raw[j])) for j in te]
            labels += [y[j] for j in te]
        value = auc(scores, labels)
        print(f"  cv l2={l2:<6} AUC {value:.3f}")
        if best is None or value > best[1] + 1e-9:
            best = (l2, value)
    return best[0]


def quantile(values, q):
    s = sorted(values)
    return s[min(len(s) - 1, max(0, int(math.floor(q * len(s)))))]


def fit(tool, l2):
    if not os.path.exists(tool):
        sys.exit(f"{tool}: not built (cmake --build build --target bench_difficulty)")
    out = subprocess.run([tool, "features", JSONL], check=True, capture_output=True, text=True)
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    names = lines[0]["feature_names"]  # the classifier's order: weights are written in it
    rows = lines[1:]
    train = [r for r in rows if r["split"] == "fit" and r["label"] in ("easy", "hard")]
    if not train:
        sys.exit("no fitting rows")
    y = [1.0 if r["label"] == "hard" else 0.0 for r in train]
    raw = [r["features"] for r in train]
    if l2 is None:
        l2 = choose_l2(raw, y, [r["id"] for r in train])
    bias, weights = fit_raw(raw, y, l2)
    scores = [sigmoid(bias + sum(wj * v for wj, v in zip(weights, row))) for row in raw]
    hard_share = sum(y) / len(y)
    # Thresholds from the fitting split: the top `hard_share` of scores are "hard" (as many as the
    # small model got wrong), the next `hard_share` "medium".
    hard_t = quantile(scores, 1 - hard_share)
    medium_t = quantile(scores, max(0.0, 1 - 2 * hard_share))
    write_weights(names, bias, weights, medium_t, hard_t, len(train), hard_share, l2)
    print(f"fitted on {len(train)} prompts ({sum(y):.0f} hard); l2={l2}")
    print(f"  bias {bias:+.4f}; thresholds medium {medium_t:.4f}, hard {hard_t:.4f}")
    for n, wt in sorted(zip(names, weights), key=lambda p: -abs(p[1])):
        print(f"  {n:18s} {wt:+.4f}")


def write_weights(names, bias, weights, medium_t, hard_t, n, hard_share, l2):
    lines = [
        "// Generated by scripts/fit_difficulty.py fit: do not edit by hand; rerun the script.",
        f"// Fitted on the fit split of policies/classify/difficulty/data/ ({n} prompts, "
        f"{hard_share:.1%} hard),",
        f"// ridge logistic regression (l2 {l2} on standardised features).",
        '#include "switchyard/policies/classify/difficulty_types.h"',
        "",
        "namespace sy::policies {",
        "",
        "DifficultyConfig DifficultyConfig::defaults() {",
        "  DifficultyConfig c;",
        f"  c.bias = {bias:.6f};",
        "  c.weights = {",
    ]
    for name, wt in zip(names, weights):
        lines.append(f"      {wt:.6f},  // {name}")
    lines += [
        "  };",
        f"  c.medium_threshold = {medium_t:.6f};",
        f"  c.hard_threshold = {hard_t:.6f};",
        "  return c;",
        "}",
        "",
        "}  // namespace sy::policies",
        "",
    ]
    with open(WEIGHTS_CPP, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    print(f"wrote {os.path.relpath(WEIGHTS_CPP, ROOT)}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("build-data")
    fit_parser = sub.add_parser("fit")
    fit_parser.add_argument("--tool", default=DEFAULT_TOOL)
    fit_parser.add_argument("--l2", type=float, default=None)
    args = parser.parse_args()
    if args.command == "build-data":
        build_data()
    else:
        fit(args.tool, args.l2)


if __name__ == "__main__":
    main()
