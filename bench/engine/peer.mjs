// The peer for bench/engine/run.sh: the same GGUF through node-llama-cpp (llama.cpp's CPU
// build, driven from JavaScript), timed the way `switchyard generate --stats-json` times ours,
// and printed as the same JSON line (plus the thread count it ran with).
//
//   node bench/engine/peer.mjs --model M.gguf --prompt TEXT --gen 128 --threads 2
//
// The prompt's tokens but the last are evaluated in one call (prefill, batch 512); generation
// then feeds the last prompt token and takes `--gen` greedy tokens, one forward pass each, so
// gen_tok_s counts forward passes as ours does. Peak RSS is the process's VmHWM: Node's own
// ~40-60 MB are in it.
import { readFileSync } from 'node:fs';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const modelPath = arg('model');
const prompt = arg('prompt', '');
const gen = Number(arg('gen', '128'));
const threads = Number(arg('threads', '1'));

const llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath });
const tokens = model.tokenize(prompt);
const context = await model.createContext({
  contextSize: tokens.length + gen + 64,
  batchSize: 512,
  threads: { ideal: threads, min: threads },
});
const sequence = context.getSequence();

const t0 = performance.now();
await sequence.evaluateWithoutGeneratingNewTokens(tokens.slice(0, -1));
const t1 = performance.now();
let generated = 0;
for await (const token of sequence.evaluate(tokens.slice(-1), { temperature: 0 })) {
  void token;
  if (++generated >= gen) break;
}
const t2 = performance.now();

const hwm = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
console.log(JSON.stringify({
  prompt_tokens: tokens.length,
  prompt_tok_s: (tokens.length - 1) / ((t1 - t0) / 1000),
  gen_tokens: generated,
  gen_tok_s: generated / ((t2 - t1) / 1000),
  peak_rss_mb: hwm ? Number(hwm[1]) / 1024 : 0,
  threads: context.currentThreads,
}));
await context.dispose();
await model.dispose();
