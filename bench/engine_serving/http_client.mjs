// The HTTP path of bench/engine_serving/run.sh: N concurrent streaming clients of a running
// `switchyard serve` (POST /v1/chat/completions, stream: true), all started at once, each with
// a distinct prompt (no shared prefix: the prefix cache stays out of it), greedy, --gen tokens.
// Times come from the arrival of SSE chunks at the client: time to first token = request start
// to the first chunk with content; inter-token latency = gaps between a stream's content chunks.
// The client shares the machine's cores with the server here, so it is kept lean: node:http,
// the arrival time read in the socket's 'data' callback (--transport fetch: the WHATWG fetch
// client, which spent 2-4x the CPU per chunk and 3-5 ms per stream start, during the server's
// first decode step: bench/RESULTS.md, engine_serving, 2026-11-24 h/itl).
// Each chunk's logprobs say how many tokens it carries (text held back, e.g. a partial UTF-8
// character, comes out with a later token): `bundled` counts tokens that arrived in a chunk with
// others, which the gaps cannot time one by one. Prints one JSON line per N with the field
// names of bench_engine_serving (aggregate tok/s = completion tokens / first start to last end).
//
//   node bench/engine_serving/http_client.mjs --origin http://127.0.0.1:PORT --model NAME
//        [--streams 1,4,16,64] [--prompt-words 60] [--gen 32] [--transport http|fetch]
//        [--trace FILE]
//
// --trace FILE appends, for every content chunk, "recv RUN STREAM K MONOTONIC_NS ID CPU_US
// CONTENT" (MONOTONIC_NS: CLOCK_MONOTONIC, the server's steady_clock, so server-side stamps line
// up; CPU_US: this process's user + system time so far) and every garbage collection as
// "gc START_NS DURATION_NS KIND", to attribute slow gaps (itl_attribute.py).

import { appendFileSync } from 'node:fs';
import http from 'node:http';
import { PerformanceObserver, performance } from 'node:perf_hooks';

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const origin = arg('origin');
const modelName = arg('model');
const streams = arg('streams', '1,4,16,64').split(',').map(Number);
const promptWords = Number(arg('prompt-words', '60'));
const gen = Number(arg('gen', '32'));
const traceFile = arg('trace', null);
const transport = arg('transport', 'http');
const traceLines = [];
// performance.now() (ms since the time origin) -> CLOCK_MONOTONIC ns, for GC entries.
const monoOffsetNs = process.hrtime.bigint() - BigInt(Math.round(performance.now() * 1e6));
if (traceFile) {
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const start = monoOffsetNs + BigInt(Math.round(e.startTime * 1e6));
      traceLines.push(`gc ${start} ${Math.round(e.duration * 1e6)} ${e.detail?.kind ?? ''}`);
    }
  }).observe({ entryTypes: ['gc'] });
}

function percentile(values, p) {
  if (values.length === 0) return 0;
  const v = [...values].sort((a, b) => a - b);
  return v[Math.min(v.length - 1, Math.round(p * (v.length - 1)))];
}
const mean = (v) => (v.length ? v.reduce((a, b) => a + b, 0) / v.length : 0);

// Common words, one token each in most English BPE vocabularies; a prompt is a deterministic
// pseudo-random draw of them, different for every stream from its first words on.
const WORDS = ('the of and to in is was for on are with as his they be at one have this from or '
  + 'had by word but what some we can out other were all there when up use your how said an each '
  + 'she which do their time if will way about many then them write would like so these her long '
  + 'make thing see him two has look more day could go come did number sound no most people my '
  + 'over know water than call first who may down side been now find any new work part take get '
  + 'place made live where after back little only round man year came show every good me give '
  + 'our under name very through just form sentence great think say help low line differ turn '
  + 'cause much mean before move right boy old too same tell does set three want air well also '
  + 'play small end put home read hand port large spell add even land here must big high such').split(' ');

function prompt(s, run) {
  let x = (Math.imul(s + 1, 2654435761) + Math.imul(run, 40503)) >>> 0;
  const out = [];
  for (let j = 0; j < promptWords; ++j) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    out.push(WORDS[(x >>> 16) % WORDS.length]);
  }
  return out.join(' ');
}

// Splits SSE events out of the body as it arrives and records each content chunk's arrival.
function sseReader(runIndex, s) {
  const arrivals = [];  // [time ms, tokens in the chunk]
  const state = { arrivals, usage: null };
  const decoder = new TextDecoder();
  let buffer = '';
  state.consume = (piece, now, mono) => {
    buffer += decoder.decode(piece, { stream: true });
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
        const chunk = JSON.parse(line.slice(6));
        if (chunk.usage) state.usage = chunk.usage;
        const choice = chunk.choices?.[0];
        if (!choice?.delta?.content) continue;
        arrivals.push([now, choice.logprobs?.content?.length ?? 1]);
        if (traceFile) {
          const cpu = process.cpuUsage();
          traceLines.push(`recv ${runIndex} ${s} ${arrivals.length - 1} ${mono} ${chunk.id} `
            + `${cpu.user + cpu.system} ${JSON.stringify(choice.delta.content)}`);
        }
      }
    }
  };
  return state;
}

function requestBody(text) {
  return JSON.stringify({
    model: modelName, messages: [{ role: 'user', content: text }], max_tokens: gen,
    temperature: 0, stream: true, stream_options: { include_usage: true }, logprobs: true,
  });
}

// One streaming request; resolves to its chunk arrival times and token counts.
async function streamFetch(text, start, runIndex, s) {
  const response = await fetch(`${origin}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer unused' },
    body: requestBody(text),
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  const reader = sseReader(runIndex, s);
  for await (const piece of response.body) {
    reader.consume(piece, performance.now(), traceFile ? process.hrtime.bigint() : 0n);
  }
  return { arrivals: reader.arrivals, usage: reader.usage, end: performance.now(), start };
}

// The same request over node:http: the arrival time is read in the socket's 'data' callback,
// without fetch's web-stream hops between the socket and the reader.
const agent = new http.Agent({ keepAlive: true });
function streamHttp(text, start, runIndex, s) {
  return new Promise((resolve, reject) => {
    const body = requestBody(text);
    const req = http.request(`${origin}/v1/chat/completions`, {
      method: 'POST', agent,
      headers: { 'content-type': 'application/json', authorization: 'Bearer unused',
        'content-length': Buffer.byteLength(body) },
    }, (res) => {
      const reader = sseReader(runIndex, s);
      if (res.statusCode !== 200) {
        let text = '';
        res.on('data', (d) => { text += d; });
        res.on('end', () => reject(new Error(`HTTP ${res.statusCode}: ${text}`)));
        return;
      }
      res.on('data', (piece) => {
        reader.consume(piece, performance.now(), traceFile ? process.hrtime.bigint() : 0n);
      });
      res.on('end', () => resolve(
        { arrivals: reader.arrivals, usage: reader.usage, end: performance.now(), start }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const stream = transport === 'fetch' ? streamFetch : streamHttp;

async function run(n, runIndex, print) {
  const start = performance.now();
  const cpuBefore = process.cpuUsage();
  const results = await Promise.all(
    Array.from({ length: n }, (_, s) => stream(prompt(s, runIndex), start, runIndex, s)));
  const end = Math.max(...results.map((r) => r.end));
  const cpu = process.cpuUsage(cpuBefore);
  if (!print) return;
  const ttft = [], itl = [];
  let tokens = 0, bundled = 0, promptTokens = 0;
  for (const r of results) {
    tokens += r.usage?.completion_tokens ?? 0;
    promptTokens += r.usage?.prompt_tokens ?? 0;
    if (r.arrivals.length) ttft.push(r.arrivals[0][0] - start);
    for (let k = 0; k < r.arrivals.length; ++k) {
      if (k > 0) itl.push(r.arrivals[k][0] - r.arrivals[k - 1][0]);
      if (r.arrivals[k][1] > 1) bundled += r.arrivals[k][1];
    }
  }
  const itlMean = mean(itl), itlP99 = percentile(itl, 0.99), itlP50 = percentile(itl, 0.5);
  console.log(JSON.stringify({
    path: 'http', streams: n, prompt_tokens: promptTokens / n, gen, tokens,
    wall_s: (end - start) / 1000, aggregate_tok_s: tokens / ((end - start) / 1000),
    decode_tok_s: itlP50 > 0 ? n / (itlP50 / 1000) : 0,
    ttft_p50_ms: percentile(ttft, 0.5), ttft_p99_ms: percentile(ttft, 0.99),
    itl_p50_ms: itlP50, itl_p99_ms: itlP99, itl_mean_ms: itlMean,
    itl_p99_over_mean: itlMean > 0 ? itlP99 / itlMean : 0, bundled_tokens: bundled,
    client_cpu_ms: (cpu.user + cpu.system) / 1000, transport,
  }));
}

// One keep-alive connection per stream of the largest run, opened before any measurement: a
// run that had to connect most of its streams sent its requests in two waves (4 on the warm
// connections, the other 60 of 64 streams ~9 ms later, after the server accepted them), and
// the engine admits only what arrives before its first step together.
function getModels() {
  if (transport === 'fetch') {
    return fetch(`${origin}/v1/models`, { headers: { authorization: 'Bearer unused' } })
      .then((r) => r.text());
  }
  return new Promise((resolve, reject) => {
    http.get(`${origin}/v1/models`, { agent, headers: { authorization: 'Bearer unused' } },
      (res) => { res.resume(); res.on('end', resolve); }).on('error', reject);
  });
}
await Promise.all(Array.from({ length: Math.max(...streams) }, getModels));

// Warm-up, not measured: the weights' pages, and the client's own code compiled (the first
// runs of a Node process spend milliseconds of CPU per request on it, on the cores the server
// shares here). With 128-token streams, 1 + 4 streams of warm-up were not enough: V8 spent
// 8-10 ms of CPU at once ~900 chunks in (token 34 of the measured 4-stream run, 3 of 3 traced
// runs), which took a core from the pass threads and made that run's p99 gap; a 16-stream
// warm-up moves it out of the measurement.
await run(1, 0, false);
await run(Math.min(4, Math.max(...streams)), -1, false);
await run(Math.min(16, Math.max(...streams)), -2, false);
let index = 1;
for (const n of streams) await run(n, index++, true);
if (traceFile) appendFileSync(traceFile, traceLines.join('\n') + '\n');
