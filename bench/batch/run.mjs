// bench/batch: a JSONL classification job (short prompts, json_schema output) through the Batch
// API on the local engine, with interactive chat requests running beside it. Reports lines/s,
// generated tokens/s, the server's peak memory, and the interactive p50/p99 latency before and
// during the batch (bulk lines must not starve interactive traffic).
//
//   node bench/batch/run.mjs [--model FILE.gguf] [--lines 2000] [--clients 2] [--max-tokens 40]
//                            [--kv-budget 64MiB]
//
// --kv-budget serves the model through a config with that `kv_budget` (the same backend
// `serve --model` builds, default 256MiB): the KV cache's storage is most of the peak RSS of a
// long job on a model whose positions are large (see RESULTS.md, batch).
//
// Default model: ../shared/models/stories260K/stories260K.gguf. Needs build/switchyard.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import OpenAI, { toFile } from 'openai';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = Object.fromEntries(process.argv.slice(2).reduce((pairs, a, i, all) => {
  if (a.startsWith('--')) pairs.push([a.slice(2), all[i + 1]]);
  return pairs;
}, []));
const modelPath = args.model ?? path.join(REPO, '..', 'shared', 'models', 'stories260K', 'stories260K.gguf');
const LINES = Number(args.lines ?? 2000);
const CLIENTS = Number(args.clients ?? 2);
const MAX_TOKENS = Number(args['max-tokens'] ?? 40);  // per batch line: room for the JSON
const INTERACTIVE_TOKENS = 16;

const texts = ['I loved the park today', 'The soup was cold and bland', 'It is a Tuesday',
  'What a wonderful surprise', 'The train was late again', 'The box is on the table',
  'My dog is the best friend ever', 'I lost my keys and my phone'];
const schema = {
  type: 'json_schema',
  json_schema: {
    name: 'sentiment', strict: true,
    schema: {
      type: 'object', additionalProperties: false, required: ['label'],
      properties: { label: { type: 'string', enum: ['positive', 'negative', 'neutral'] } },
    },
  },
};

function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

// Where the server's resident memory is, from /proc/PID/smaps: the model file (mapped), the
// anonymous mappings of 64 MiB or more (the engine's KV cache storage is one such allocation),
// the rest of the anonymous memory (heap, thread stacks, arenas) and other files (code, libs).
function smapsBreakdown(pid) {
  const out = { model: 0, bigAnon: 0, bigAnonSize: 0, anon: 0, files: 0 };
  let current = null;
  for (const l of readFileSync(`/proc/${pid}/smaps`, 'utf8').split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \d+\s*(.*)$/.exec(l);
    if (head) {
      const size = (parseInt(head[2], 16) - parseInt(head[1], 16)) / 1024;
      const name = head[3];
      current = name.endsWith('.gguf') ? 'model'
        : (name === '' || name === '[heap]' || name.startsWith('[stack')) ? (size >= 65536 ? 'bigAnon' : 'anon')
          : name.startsWith('[') ? 'anon' : 'files';
      if (current === 'bigAnon') out.bigAnonSize += size;
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(l);
    if (rss && current) out[current] += Number(rss[1]);
  }
  return out;
}

function rssKiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const hwm = /VmHWM:\s+(\d+)/.exec(status);
  return hwm ? Number(hwm[1]) : NaN;
}

async function start() {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-bench-batch-'));
  let source = ['--model', modelPath];
  if (args['kv-budget']) {
    // What `serve --model` builds, with the KV budget set.
    const config = path.join(dir, 'bench.yaml');
    writeFileSync(config, [
      'backends:', '  - name: local', '    protocol: local', '    models:',
      `      - name: bench`, `        path: ${JSON.stringify(path.resolve(modelPath))}`,
      '        chat_template: plain', `        kv_budget: ${args['kv-budget']}`,
      'models:', '  default: local/bench', ''].join('\n'));
    source = ['--config', config];
  }
  const child = spawn(path.join(REPO, 'build', 'switchyard'),
    ['serve', ...source, '--listen', '127.0.0.1:0', '--data-dir', dir, '--log-level', 'warn'],
    { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('switchyard did not start')), 60000);
    createInterface({ input: child.stdout }).once('line', (l) => { clearTimeout(timer); resolve(l); });
  });
  const origin = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line.trim())[1];
  return { child, origin, dir };
}

const interactiveBody = (i) => ({
  model: 'default', max_tokens: INTERACTIVE_TOKENS, temperature: 0,
  messages: [{ role: 'user', content: `Tell me about ${texts[i % texts.length]}` }],
});

async function interactive(client, stop, latencies) {
  for (let i = 0; !stop(); i++) {
    const t0 = performance.now();
    await client.chat.completions.create(interactiveBody(i));
    latencies.push(performance.now() - t0);
  }
}

const server = await start();
const client = new OpenAI({ apiKey: 'unused', baseURL: `${server.origin}/v1`, maxRetries: 0, timeout: 600000 });
try {
  // Interactive latency alone, for comparison.
  const quiet = [];
  const quietUntil = performance.now() + 3000;
  await Promise.all(Array.from({ length: CLIENTS }, () => interactive(client, () => performance.now() > quietUntil, quiet)));

  const jsonl = Array.from({ length: LINES }, (_, i) => JSON.stringify({
    custom_id: `c${i}`, method: 'POST', url: '/v1/chat/completions',
    body: {
      model: 'default', max_tokens: MAX_TOKENS, temperature: 0, response_format: schema,
      messages: [{ role: 'user', content: `Classify the sentiment: ${texts[i % texts.length]} (#${i})` }],
    },
  })).join('\n') + '\n';
  const file = await client.files.create({ file: await toFile(Buffer.from(jsonl), 'bench.jsonl'), purpose: 'batch' });
  const t0 = performance.now();
  const batch = await client.batches.create({ input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h' });
  let done = null;
  const during = [];
  const clients = Promise.all(Array.from({ length: CLIENTS }, () => interactive(client, () => done !== null, during)));
  let peak = rssKiB(server.child.pid);
  for (;;) {
    const b = await client.batches.retrieve(batch.id);
    peak = Math.max(peak, rssKiB(server.child.pid));
    if (['completed', 'failed', 'cancelled', 'expired'].includes(b.status)) { done = b; break; }
    await new Promise((r) => setTimeout(r, 100));
  }
  const seconds = (performance.now() - t0) / 1000;
  const smaps = smapsBreakdown(server.child.pid);
  await clients;
  const output = await (await client.files.content(done.output_file_id)).text();
  let valid = 0;
  for (const l of output.split('\n').filter(Boolean)) {
    try {
      const label = JSON.parse(JSON.parse(l).response.body.choices[0].message.content).label;
      if (['positive', 'negative', 'neutral'].includes(label)) valid++;
    } catch { /* counted as invalid */ }
  }
  const tokens = done.x_switchyard?.completion_tokens ?? NaN;
  const ms = (v) => `${v.toFixed(1)}ms`;
  console.log(`model ${path.basename(modelPath)}${args['kv-budget'] ? `, kv_budget ${args['kv-budget']}` : ''}, ${LINES} lines, max_tokens ${MAX_TOKENS}, ${CLIENTS} interactive clients (max_tokens ${INTERACTIVE_TOKENS})`);
  console.log(`batch ${done.status}: ${done.request_counts.completed} ok, ${done.request_counts.failed} failed, ` +
    `${valid} outputs match the schema; ${seconds.toFixed(1)} s, ${(LINES / seconds).toFixed(1)} lines/s, ` +
    `${(tokens / seconds).toFixed(1)} generated tok/s, prompt tokens ${done.x_switchyard?.prompt_tokens}`);
  console.log(`server peak RSS ${(peak / 1024).toFixed(1)} MiB`);
  const mib = (k) => `${(k / 1024).toFixed(1)} MiB`;
  console.log(`resident at the end: model file ${mib(smaps.model)}, anonymous mappings >= 64 MiB ` +
    `${mib(smaps.bigAnon)} of ${mib(smaps.bigAnonSize)} mapped (the KV cache), other anonymous ` +
    `${mib(smaps.anon)}, other files ${mib(smaps.files)}`);
  console.log(`interactive alone:  n=${quiet.length} p50 ${ms(percentile(quiet, 0.5))} p99 ${ms(percentile(quiet, 0.99))}`);
  console.log(`interactive during: n=${during.length} p50 ${ms(percentile(during, 0.5))} p99 ${ms(percentile(during, 0.99))}`);
} finally {
  server.child.kill('SIGTERM');
  await new Promise((r) => server.child.once('exit', r));
  rmSync(server.dir, { recursive: true, force: true });
}
