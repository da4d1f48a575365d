// The official `openai` npm client's Files and Batch calls against `switchyard serve` with no
// config: the embedded default model (stories260K) through the local engine. Every line runs
// as bulk work through the same path as /v1/chat/completions, so a greedy batch line answers
// exactly what the same interactive request answers.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import OpenAI, { toFile } from 'openai';
import { REPO_ROOT } from './fake_vendor_process.mjs';
import { startSwitchyard } from './switchyard_process.mjs';

const T = { timeout: 30000 };
const MODEL = 'stories260K';

let gateway;
let client;

before(async () => {
  const models = process.env.SWITCHYARD_MODELS_DIR ?? path.join(REPO_ROOT, '..', 'shared', 'models');
  const found = existsSync(path.join(REPO_ROOT, '..', 'shared', 'models', 'stories260K', 'stories260K.gguf'));
  const args = found ? [] : ['--model', path.join(models, 'stories260K', 'stories260K.gguf')];
  gateway = await startSwitchyard(null, { cwd: REPO_ROOT, args, startMs: 30000 });
  client = new OpenAI({ apiKey: 'unused', baseURL: `${gateway.origin}/v1`, maxRetries: 0, timeout: 15000 });
});

after(async () => {
  await gateway?.stop();
});

const prompts = ['Once upon a time', 'The little dog', 'Lily saw a bird', 'Tom had a red ball'];

function jsonl(lines) {
  return lines.map((l) => JSON.stringify(l)).join('\n') + '\n';
}

function line(customId, content, maxTokens = 12) {
  return {
    custom_id: customId,
    method: 'POST',
    url: '/v1/chat/completions',
    body: { model: MODEL, temperature: 0, max_tokens: maxTokens, messages: [{ role: 'user', content }] },
  };
}

async function upload(lines, name = 'input.jsonl') {
  return client.files.create({ file: await toFile(Buffer.from(jsonl(lines)), name), purpose: 'batch' });
}

async function waitFor(id, ms = 20000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const batch = await client.batches.retrieve(id);
    if (['completed', 'failed', 'cancelled', 'expired'].includes(batch.status)) return batch;
    if (Date.now() > deadline) throw new Error(`batch ${id} still ${batch.status}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function parseLines(text) {
  return text.split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l));
}

test('a batch runs every line on the local engine, same answers as interactive requests', T, async () => {
  const file = await upload(prompts.map((p, i) => line(`story-${i}`, p)));
  assert.equal(file.object, 'file');
  assert.equal(file.purpose, 'batch');
  assert.ok(file.id.startsWith('file-'));
  const retrieved = await client.files.retrieve(file.id);
  assert.equal(retrieved.bytes, file.bytes);
  assert.equal(retrieved.filename, 'input.jsonl');

  const created = await client.batches.create({
    input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h',
    metadata: { purpose: 'e2e' },
  });
  assert.equal(created.object, 'batch');
  assert.equal(created.input_file_id, file.id);
  assert.deepEqual(created.metadata, { purpose: 'e2e' });
  assert.equal(created.request_counts.total, prompts.length);

  const done = await waitFor(created.id);
  assert.equal(done.status, 'completed', JSON.stringify(done));
  assert.deepEqual(done.request_counts, { total: prompts.length, completed: prompts.length, failed: 0 });
  assert.equal(done.error_file_id, null);
  assert.ok(done.completed_at >= done.created_at);

  const content = await client.files.content(done.output_file_id);
  const results = parseLines(await content.text());
  assert.equal(results.length, prompts.length);
  const byId = new Map(results.map((r) => [r.custom_id, r]));
  for (let i = 0; i < prompts.length; i++) {
    const r = byId.get(`story-${i}`);
    assert.ok(r, `story-${i} in the output`);
    assert.equal(r.error, null);
    assert.equal(r.response.status_code, 200);
    assert.equal(r.response.body.object, 'chat.completion');
    assert.equal(r.response.body.model, MODEL);
    const interactive = await client.chat.completions.create({
      model: MODEL, temperature: 0, max_tokens: 12, messages: [{ role: 'user', content: prompts[i] }],
    });
    assert.equal(r.response.body.choices[0].message.content, interactive.choices[0].message.content);
    assert.equal(r.response.body.usage.completion_tokens, interactive.usage.completion_tokens);
  }

  const listed = [];
  for await (const b of client.batches.list({ limit: 2 })) listed.push(b.id);
  assert.ok(listed.includes(created.id));
  const files = [];
  for await (const f of client.files.list()) files.push(f.id);
  assert.ok(files.includes(file.id));
  assert.ok(files.includes(done.output_file_id));
});

test('per-line failures go to the error file, the rest completes', T, async () => {
  const file = await upload([line('good', 'Once upon a time', 4),
    { ...line('bad', 'x'), body: { model: 'no-such-model', messages: [{ role: 'user', content: 'x' }] } }]);
  const batch = await client.batches.create({
    input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h',
  });
  const done = await waitFor(batch.id);
  assert.equal(done.status, 'completed');
  assert.deepEqual(done.request_counts, { total: 2, completed: 1, failed: 1 });
  const errors = parseLines(await (await client.files.content(done.error_file_id)).text());
  assert.equal(errors.length, 1);
  assert.equal(errors[0].custom_id, 'bad');
  assert.equal(errors[0].response.status_code, 404);
  assert.equal(errors[0].response.body.error.type, 'invalid_request_error');
});

test('cancel: the batch ends cancelled and every line appears once', T, async () => {
  const lines = Array.from({ length: 40 }, (_, i) => line(`c-${i}`, prompts[i % prompts.length], 64));
  const file = await upload(lines);
  const batch = await client.batches.create({
    input_file_id: file.id, endpoint: '/v1/chat/completions', completion_window: '24h',
  });
  const cancelling = await client.batches.cancel(batch.id);
  assert.ok(['cancelling', 'cancelled'].includes(cancelling.status), cancelling.status);
  const done = await waitFor(batch.id);
  assert.equal(done.status, 'cancelled');
  assert.ok(done.cancelled_at >= done.cancelling_at);
  const seen = [];
  for (const id of [done.output_file_id, done.error_file_id]) {
    if (!id) continue;
    for (const r of parseLines(await (await client.files.content(id)).text())) seen.push(r.custom_id);
  }
  assert.equal(seen.length, 40);
  assert.equal(new Set(seen).size, 40);
  assert.ok(done.request_counts.completed < 40);
});

test('upload errors name the line; deleted files are gone', T, async () => {
  await assert.rejects(
    upload([line('a', 'x'), { custom_id: 'b', method: 'POST', url: '/v1/embeddings', body: { model: MODEL } }]),
    (err) => err.status === 400 && /line 2/.test(err.message));
  const file = await upload([line('a', 'x')]);
  const deleted = await client.files.delete(file.id);
  assert.deepEqual(deleted, { id: file.id, object: 'file', deleted: true });
  await assert.rejects(client.files.retrieve(file.id), (err) => err.status === 404);
});
