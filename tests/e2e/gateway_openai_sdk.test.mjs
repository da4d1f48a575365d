// The official `openai` npm client drives Switchyard, which routes to each fake vendor:
// non-streaming, streaming with usage, a tool-call round trip, JSON mode and error surfaces.
// Nobody here wrote the client, so it checks our OpenAI surface independently.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { startFakeVendor, KEYS } from './fake_vendor_process.mjs';
import { startSwitchyard } from './switchyard_process.mjs';

const T = { timeout: 20000 };
const CLIENT_KEY = 'sy-e2e-client-key';
const ALIASES = ['openai', 'azure', 'anthropic', 'gemini', 'compat'];

let fake;
let gateway;
let client;

before(async () => {
  fake = await startFakeVendor();
  const base = fake.origin;
  gateway = await startSwitchyard(`
backends:
  - {name: openai, protocol: openai, base_url: "${base}/v1", api_key: "\${OPENAI_KEY}"}
  - {name: azure, protocol: azure, base_url: "${base}", api_key: "${KEYS.azure}", api_version: "2024-10-21"}
  - {name: anthropic, protocol: anthropic, base_url: "${base}", api_key: "${KEYS.anthropic}"}
  - {name: gemini, protocol: gemini, base_url: "${base}", api_key: "${KEYS.gemini}"}
  - {name: compat, protocol: openai_compat, base_url: "${base}/v1", api_key: "${KEYS.openai}"}
models:
  openai: [openai/gpt-4o-mini]
  azure: [azure/my-deployment]
  anthropic: [anthropic/claude-haiku-4-5]
  gemini: [gemini/gemini-2.0-flash]
  compat: [compat/local-llama]
tenants:
  - {name: e2e}
keys:
  - {id: e2e-key, tenant: e2e, key: "\${SY_CLIENT_KEY}"}
`, { env: { OPENAI_KEY: KEYS.openai, SY_CLIENT_KEY: CLIENT_KEY } });
  client = new OpenAI({ apiKey: CLIENT_KEY, baseURL: `${gateway.origin}/v1`, maxRetries: 0, timeout: 10000 });
});

after(async () => {
  await gateway?.stop();
  await fake?.stop();
});

const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};

for (const model of ALIASES) {
  describe(`through Switchyard to ${model}`, () => {
    test('non-streaming chat with usage', T, async () => {
      await fake.reset();
      await fake.script([{ reply: { text: 'Paris is the capital of France.' } }]);
      const { data, response } = await client.chat.completions
        .create({ model, messages: [{ role: 'user', content: 'Capital of France?' }] })
        .withResponse();
      assert.equal(response.headers.get('x-switchyard-backend'), model);
      assert.equal(data.object, 'chat.completion');
      assert.equal(data.choices[0].message.content, 'Paris is the capital of France.');
      assert.equal(data.choices[0].finish_reason, 'stop');
      assert.ok(data.usage.prompt_tokens > 0 && data.usage.completion_tokens > 0);
    });

    test('streaming with usage', T, async () => {
      await fake.reset();
      await fake.script([{ reply: { text: 'One two three four five.' } }]);
      const stream = await client.chat.completions.create({
        model, stream: true, stream_options: { include_usage: true },
        messages: [{ role: 'user', content: 'Count to five' }],
      });
      let text = '';
      let usage = null;
      let finish = null;
      for await (const chunk of stream) {
        if (chunk.usage) usage = chunk.usage;
        for (const choice of chunk.choices) {
          text += choice.delta?.content ?? '';
          finish = choice.finish_reason ?? finish;
        }
      }
      assert.equal(text, 'One two three four five.');
      assert.equal(finish, 'stop');
      assert.ok(usage && usage.completion_tokens > 0, 'usage arrives in the last chunk');
    });

    test('tool call round trip', T, async () => {
      await fake.reset();
      await fake.script([
        { reply: { tool_calls: [{ name: 'get_weather', arguments: { city: 'Paris' } }] } },
        { reply: { text: 'It is sunny in Paris.' } },
      ]);
      const messages = [{ role: 'user', content: 'Weather in Paris?' }];
      const first = await client.chat.completions.create({ model, messages, tools: [weatherTool] });
      const call = first.choices[0].message.tool_calls?.[0];
      assert.ok(call, 'a tool call comes back');
      assert.equal(first.choices[0].finish_reason, 'tool_calls');
      assert.equal(call.function.name, 'get_weather');
      assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris' });
      messages.push(first.choices[0].message);
      messages.push({ role: 'tool', tool_call_id: call.id, content: '{"sky":"sunny"}' });
      const second = await client.chat.completions.create({ model, messages, tools: [weatherTool] });
      assert.equal(second.choices[0].message.content, 'It is sunny in Paris.');
      const sent = (await fake.requests()).at(-1);
      assert.ok(JSON.stringify(sent).includes('sunny'), 'the tool result reached the vendor');
    });

    test('streamed tool call deltas assemble', T, async () => {
      await fake.reset();
      await fake.script([{ reply: { tool_calls: [{ name: 'get_weather', arguments: { city: 'Oslo' } }] } }]);
      const stream = await client.chat.completions.create({
        model, stream: true, tools: [weatherTool], messages: [{ role: 'user', content: 'Weather in Oslo?' }],
      });
      const calls = [];
      for await (const chunk of stream) {
        for (const d of chunk.choices[0]?.delta?.tool_calls ?? []) {
          calls[d.index] ??= { id: '', name: '', arguments: '' };
          if (d.id) calls[d.index].id = d.id;
          if (d.function?.name) calls[d.index].name += d.function.name;
          if (d.function?.arguments) calls[d.index].arguments += d.function.arguments;
        }
      }
      assert.equal(calls.length, 1);
      assert.equal(calls[0].name, 'get_weather');
      assert.deepEqual(JSON.parse(calls[0].arguments), { city: 'Oslo' });
    });

    test('JSON mode', T, async () => {
      await fake.reset();
      await fake.script([{ reply: { text: '{"answer":42}' } }]);
      const res = await client.chat.completions.create({
        model, response_format: { type: 'json_object' },
        messages: [{ role: 'user', content: 'Answer in JSON' }],
      });
      assert.deepEqual(JSON.parse(res.choices[0].message.content), { answer: 42 });
    });

    test('errors surface as APIError with status and message', T, async () => {
      await fake.reset();
      await fake.script([{ fault: 'context_length' }]);
      await assert.rejects(
        client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] }),
        (err) => err instanceof OpenAI.BadRequestError && err.status === 400 && err.message.length > 0);
      // Switchyard retries a rate-limited vendor (3 attempts by default) before giving up.
      await fake.reset();
      const limited = { fault: 'status', status: 429, retry_after: '0' };
      await fake.script([limited, limited, limited]);
      await assert.rejects(
        client.chat.completions.create({ model, messages: [{ role: 'user', content: 'x' }] }),
        (err) => err instanceof OpenAI.RateLimitError && err.status === 429);
      assert.equal((await fake.requests()).length, 3);
    });
  });
}

test('a wrong key is an AuthenticationError and reaches no vendor', T, async () => {
  await fake.reset();
  const bad = new OpenAI({ apiKey: 'wrong', baseURL: `${gateway.origin}/v1`, maxRetries: 0 });
  await assert.rejects(
    bad.chat.completions.create({ model: 'openai', messages: [{ role: 'user', content: 'x' }] }),
    (err) => err instanceof OpenAI.AuthenticationError && err.status === 401);
  assert.equal((await fake.requests()).length, 0);
});

test('an unknown model is a NotFoundError', T, async () => {
  await assert.rejects(
    client.chat.completions.create({ model: 'nope', messages: [{ role: 'user', content: 'x' }] }),
    (err) => err instanceof OpenAI.NotFoundError && err.status === 404);
});

test('models are listed', T, async () => {
  const ids = [];
  for await (const m of client.models.list()) ids.push(m.id);
  for (const alias of ALIASES) assert.ok(ids.includes(alias), alias);
});

test('a stream cut after content raises instead of ending quietly', T, async () => {
  await fake.reset();
  await fake.script([{ fault: 'stream_cut', chunks_before: 3 }]);
  const stream = await client.chat.completions.create({
    model: 'openai', stream: true, messages: [{ role: 'user', content: 'Tell me a story' }],
  });
  await assert.rejects(async () => { for await (const _ of stream) { /* drain */ } },
    (err) => err instanceof Error);
});

test('legacy completions', T, async () => {
  await fake.reset();
  await fake.script([{ reply: { text: 'there was a fox.' } }]);
  const res = await client.completions.create({ model: 'anthropic', prompt: 'Once upon a time' });
  assert.equal(res.object, 'text_completion');
  assert.equal(res.choices[0].text, 'there was a fox.');
});
