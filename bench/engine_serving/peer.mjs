// The peer for bench/engine_serving/run.sh: node-llama-cpp (llama.cpp's CPU build, driven from
// JavaScript) serving the same concurrent streams as bench_engine_serving: N sequences of one
// context (`sequences: N`, llama.cpp's unified batch: one decode call runs every sequence's
// pending tokens), each fed the same token ids as ours (distinct prompts, no shared prefix), all
// started at once, each taking --gen greedy tokens. Times come from the tokens' arrival in the
// generator loop, as a client of the library would see them. Prints one JSON line per N with the
// same field names as ours (aggregate tok/s = all tokens / first start to last token).
//
//   node bench/engine_serving/peer.mjs --model M.gguf [--streams 1,4,16,64] [--prompt-tokens 64]
//                                      [--gen 32] [--threads 2] [--vocab 49152]
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const modelPath = arg('model');
const streams = arg('streams', '1,4,16,64').split(',').map(Number);
const promptTokens = Number(arg('prompt-tokens', '64'));
const gen = Number(arg('gen', '32'));
const threads = Number(arg('threads', '2'));
const vocab = Number(arg('vocab', '49152'));  // the model's n_vocab (run.sh reads it)

function percentile(values, p) {
  if (values.length === 0) return 0;
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.round(p * (v.length - 1)))];
}
const mean = (v) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0);

const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath });

// The same prompt token ids as bench_engine_serving's stream s.
function prompt(s) {
  const out = [];
  const half = Math.floor(vocab / 2);
  for (let j = 0; j < promptTokens; ++j) {
    out.push(200 + Number((BigInt(s) * 7919n + BigInt(j) * 104729n + BigInt(j * j)) % BigInt(half)));
  }
  return out;
}

async function run(n, print) {
  const context = await model.createContext({
    sequences: n,
    contextSize: promptTokens + gen + 64,
    batchSize: Math.max(512, n),
    threads: { ideal: threads, min: threads },
  });
  const sequences = Array.from({ length: n }, () => context.getSequence());
  const start = performance.now();
  const times = await Promise.all(sequences.map(async (sequence, s) => {
    const t = [];
    for await (const token of sequence.evaluate(prompt(s), { temperature: 0 })) {
      void token;
      t.push(performance.now());
      if (t.length >= gen) break;
    }
    return t;
  }));
  const end = performance.now();
  const usedThreads = context.currentThreads;
  await context.dispose();
  if (!print) return;
  const ttft = [], itl = [];
  let tokens = 0;
  for (const t of times) {
    tokens += t.length;
    if (t.length) ttft.push(t[0] - start);
    for (let k = 1; k < t.length; ++k) itl.push(t[k] - t[k - 1]);
  }
  const itlMean = mean(itl), itlP99 = percentile(itl, 0.99), itlP50 = percentile(itl, 0.5);
  console.log(JSON.stringify({
    peer: 'node-llama-cpp', streams: n, threads: usedThreads,
    prompt_tokens: promptTokens, gen, tokens, wall_s: (end - start) / 1000,
    aggregate_tok_s: tokens / ((end - start) / 1000),
    decode_tok_s: itlP50 > 0 ? n / (itlP50 / 1000) : 0,
    ttft_p50_ms: percentile(ttft, 0.5), ttft_p99_ms: percentile(ttft, 0.99),
    itl_p50_ms: itlP50, itl_p99_ms: itlP99, itl_mean_ms: itlMean,
    itl_p99_over_mean: itlMean > 0 ? itlP99 / itlMean : 0,
  }));
}

await run(1, false);  // warm-up: the weights' pages and the kernels
for (const n of streams) await run(n, true);
await model.dispose();
