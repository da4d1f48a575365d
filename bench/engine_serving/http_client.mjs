// The HTTP path of bench/engine_serving/run.sh: N concurrent streaming clients of a running
// `switchyard serve` (POST /v1/chat/completions, stream: true), all started at once, each with
// a distinct prompt (no shared prefix: the prefix cache stays out of it), greedy, --gen tokens.
// Times come from the arrival of SSE chunks at the client: time to first token = request start
// to the first chunk with content; inter-token latency = gaps between a stream's content chunks.
// Each chunk's logprobs say how many tokens it carries (text held back, e.g. a partial UTF-8
// character, comes out with a later token): `bundled` counts tokens that arrived in a chunk with
// others, which the gaps cannot time one by one. Prints one JSON line per N with the field
// names of bench_engine_serving (aggregate tok/s = completion tokens / first start to last end).
//
//   node bench/engine_serving/http_client.mjs --origin http://127.0.0.1:PORT --model NAME
//        [--streams 1,4,16,64] [--prompt-words 60] [--gen 32]

function arg(name, fallback) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const origin = arg('origin');
const modelName = arg('model');
const streams = arg('streams', '1,4,16,64').split(',').map(Number);
const promptWords = Number(arg('prompt-words', '60'));
const gen = Number(arg('gen', '32'));

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

// One streaming request; resolves to its chunk arrival times and token counts.
async function stream(text, start) {
  const response = await fetch(`${origin}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer unused' },
    body: JSON.stringify({
      model: modelName, messages: [{ role: 'user', content: text }], max_tokens: gen,
      temperature: 0, stream: true, stream_options: { include_usage: true }, logprobs: true,
    }),
  });
  if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
  const arrivals = [];  // [time ms, tokens in the chunk]
  let usage = null;
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const piece of response.body) {
    const now = performance.now();
    buffer += decoder.decode(piece, { stream: true });
    let cut;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const event = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      for (const line of event.split('\n')) {
        if (!line.startsWith('data: ') || line === 'data: [DONE]') continue;
        const chunk = JSON.parse(line.slice(6));
        if (chunk.usage) usage = chunk.usage;
        const choice = chunk.choices?.[0];
        if (!choice?.delta?.content) continue;
        arrivals.push([now, choice.logprobs?.content?.length ?? 1]);
      }
    }
  }
  return { arrivals, usage, end: performance.now(), start };
}

async function run(n, runIndex, print) {
  const start = performance.now();
  const results = await Promise.all(
    Array.from({ length: n }, (_, s) => stream(prompt(s, runIndex), start)));
  const end = Math.max(...results.map((r) => r.end));
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
  }));
}

await run(1, 0, false);  // warm-up: the weights' pages, the connection pool
let index = 1;
for (const n of streams) await run(n, index++, true);
