// The engine against a peer nobody here wrote: llama.cpp, as shipped prebuilt in node-llama-cpp.
// For every architecture preset, `switchyard model synth` writes a short (few-layer, smaller
// vocabulary) model with the preset's real widths and metadata; both engines then tokenize the same
// prompt and decode greedily from it, and we compare token by token.
//
// Random weights give flat next-token distributions, so two correct engines may legitimately
// pick different tokens where the top two are nearly tied. The rule, per generated step, while
// both engines have produced the same history:
//   - where llama.cpp's top-1 beats its top-2 by more than MARGIN in log-probability, our token
//     must be the same;
//   - our log-probability of the chosen token must be within LOGPROB_TOLERANCE of llama.cpp's;
//   - a differing token is accepted only inside the margin, and ends the comparison (the
//     histories differ from there on).
// Each preset decodes from several prompts, up to STEPS tokens each, and at least MIN_STEPS
// steps must be compared over them, so the test cannot pass vacuously nor on a few tokens.
// Both use Q8_0 weights with Q8_0-quantized activations and an F16 KV cache; the remaining
// differences are summation order and llama.cpp's table-based GELU.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { getLlama } from 'node-llama-cpp';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = process.env.SWITCHYARD_BIN ?? path.join(REPO_ROOT, 'build', 'switchyard');
const MODELS = process.env.SWITCHYARD_MODELS_DIR ?? path.join(REPO_ROOT, '..', 'shared', 'models');
const TOKENIZER = path.join(MODELS, 'smollm2-135m-instruct', 'tokenizer.json');

const PROMPTS = [
  'The quick brown fox jumps over the lazy dog. In 2024, 3 engines',
  'def fibonacci(n):\n    if n < 2:\n        return n\n',
  'Der Bericht, la réponse et 数据: a short summary follows.',
];
const STEPS = 24;
const MARGIN = 0.05;
const LOGPROB_TOLERANCE = 0.05;
const MIN_STEPS = 24;

// Few layers and a vocabulary cut to the tokenizer's 49,152 plus some padding keep the test
// fast (the embedding dominates: 263M weights for Llama 3.2's real 128k vocabulary); widths,
// heads and the rest of the metadata stay the preset's. Gemma 3 keeps six layers so that one
// global layer (its sixth) runs next to the sliding-window ones.
const VOCAB = 50000;
const PRESETS = [
  { preset: 'smollm2-135m', layers: 2 },
  { preset: 'llama3.2-1b', layers: 2 },
  { preset: 'qwen2.5-0.5b', layers: 2 },
  { preset: 'qwen3-0.6b', layers: 2 },
  { preset: 'gemma2-2b', layers: 2 },
  { preset: 'gemma3-270m', layers: 6 },
];

let llama;
let dir;
// Synthesis runs one preset ahead of the comparisons (one process at a time), so on two cores
// writing the next model overlaps comparing the current one.
const synthesized = new Map();

function synthesize(preset, layers, file) {
  const args = ['model', 'synth', '--like', preset, '--tokenizer', TOKENIZER, '--type', 'q8_0',
    '--seed', '11', '--layers', String(layers), '--vocab', String(VOCAB), '-o', file];
  return new Promise((resolve) => {
    const child = spawn(BIN, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', (e) => resolve({ code: -1, stderr: String(e) }));
    child.on('close', (code) => resolve({ code, stderr }));
  });
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'switchyard-oracle-'));
  if (existsSync(TOKENIZER)) {
    let chain = Promise.resolve();
    for (const { preset, layers } of PRESETS) {
      const file = path.join(dir, `${preset}.gguf`);
      chain = chain.then(() => synthesize(preset, layers, file));
      synthesized.set(preset, chain.then((r) => ({ ...r, file })));
    }
  }
  llama = await getLlama({ gpu: false, build: 'never', logLevel: 'error' });
});

after(async () => {
  await llama?.dispose();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

// The two most probable [token, probability] entries, in one pass (vocabularies reach 262k).
function topTwo(probabilities) {
  let first = [-1, -1];
  let second = [-1, -1];
  for (const entry of probabilities) {
    if (entry[1] > first[1]) {
      second = first;
      first = entry;
    } else if (entry[1] > second[1]) {
      second = entry;
    }
  }
  return [first, second];
}

const phases = [];
function phase(name, started) {
  phases.push(`${name} ${((performance.now() - started) / 1000).toFixed(1)}s`);
  return performance.now();
}

function run(args) {
  const r = spawnSync(BIN, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  assert.equal(r.status, 0, `switchyard ${args.join(' ')} failed:\n${r.stderr}`);
  return r;
}

for (const { preset } of PRESETS) {
  const skip = !existsSync(TOKENIZER);
  test(`${preset}: greedy decoding agrees with llama.cpp`, { skip }, async () => {
    phases.length = 0;
    let t = performance.now();
    const { code, stderr, file } = await synthesized.get(preset);
    assert.equal(code, 0, `switchyard model synth --like ${preset} failed:\n${stderr}`);

    t = phase('synth', t);
    const model = await llama.loadModel({ modelPath: file, gpuLayers: 0 });
    t = phase('load', t);
    let compared = 0;
    const log = [];
    for (const prompt of PROMPTS) {
      const ours = JSON.parse(run(['model', 'tokenize', '-m', file, '--no-bos', prompt]).stdout);
      const peerTokens = [...model.tokenize(prompt)];
      assert.deepEqual(ours, peerTokens, `the two tokenizers disagree on ${JSON.stringify(prompt)}`);

      const context = await model.createContext({ contextSize: 128, batchSize: 64, threads: 1 });
      const peer = [];
      for await (const out of context.getSequence().evaluateWithMetadata(peerTokens,
        { probabilities: true }, { temperature: 0 })) {
        const ranked = topTwo(out.probabilities);
        peer.push({ token: out.token, probabilities: out.probabilities, ranked });
        if (peer.length >= STEPS) break;
      }
      await context.dispose();
      t = phase('llama.cpp', t);

      const gen = run(['generate', '-m', file, '-p', prompt, '-n', String(STEPS), '--temp', '0',
        '--ignore-eos', '--threads', '2', '--stats-json']);
      const stats = JSON.parse(gen.stderr.trim().split('\n').at(-1));
      t = phase('switchyard', t);
      assert.equal(stats.prompt_tokens, peerTokens.length);

      for (let i = 0; i < STEPS; i++) {
        const p = peer[i];
        const [top1, top2] = p.ranked;
        const margin = Math.log(top1[1]) - Math.log(top2[1]);
        const peerLogprob = Math.log(p.probabilities.get(p.token));
        log.push({ prompt: PROMPTS.indexOf(prompt), step: i, ours: stats.tokens[i], peer: p.token,
          margin: +margin.toFixed(4), ours_lp: +stats.logprobs[i].toFixed(4),
          peer_lp: +peerLogprob.toFixed(4) });
        if (stats.tokens[i] !== p.token) {
          assert.ok(margin <= MARGIN, `step ${i}: token ${stats.tokens[i]} vs llama.cpp ${p.token} ` +
            `with a clear margin ${margin}\n${JSON.stringify(log)}`);
          break;
        }
        assert.ok(Math.abs(stats.logprobs[i] - peerLogprob) <= LOGPROB_TOLERANCE,
          `step ${i}: log-probability ${stats.logprobs[i]} vs llama.cpp ${peerLogprob}\n` +
          JSON.stringify(log));
        compared++;
      }
    }
    await model.dispose();
    if (process.env.ORACLE_DEBUG) console.log(preset, phases.join(', '), JSON.stringify(log));
    assert.ok(compared >= MIN_STEPS, `only ${compared} steps compared\n${JSON.stringify(log)}`);
  });
}
