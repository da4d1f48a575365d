// The official `@anthropic-ai/sdk` client drives Switchyard's Anthropic surface, which routes
// to the Anthropic fake (the body is forwarded natively) and to the OpenAI fake (translated
// both ways): messages, streaming with the SDK's event helpers and finalMessage(), a tool-use
// round trip, token counting and errors. Nobody here wrote the client, so it checks the
// surface independently.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import Anthropic from '@anthropic-ai/sdk';
import { startFakeVendor, KEYS } from './fake_vendor_process.mjs';
import { startSwitchyard } from './switchyard_process.mjs';

const T = { timeout: 20000 };
const CLIENT_KEY = 'sy-e2e-anthropic-client-key';
const ROUTES = [
  { model: 'claude', backend: 'anthropic', vendorModel: 'claude-haiku-4-5' },
  { model: 'gpt', backend: 'openai', vendorModel: 'gpt-4o-mini' },
];

let fake;
let gateway;
let client;

before(async () => {
  fake = await startFakeVendor();
  const base = fake.origin;
  gateway = await startSwitchyard(`
backends:
  - {name: anthropic, protocol: anthropic, base_url: "${base}", api_key: "${KEYS.anthropic}"}
  - {name: openai, protocol: openai, base_url: "${base}/v1", api_key: "${KEYS.openai}"}
models:
  claude: [anthropic/claude-haiku-4-5]
  gpt: [openai/gpt-4o-mini]
tenants:
  - {name: e2e}
keys:
  - {id: e2e-key, tenant: e2e, key: "\${SY_CLIENT_KEY}"}
`, { env: { SY_CLIENT_KEY: CLIENT_KEY } });
  client = new Anthropic({ apiKey: CLIENT_KEY, baseURL: gateway.origin, maxRetries: 0, timeout: 10000 });
});

after(async () => {
  await gateway?.stop();
  await fake?.stop();
});

const weatherTool = {
  name: 'get_weather',
  description: 'Current weather for a city',
  input_schema: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
};

for (const route of ROUTES) {
  describe(`through Switchyard to ${route.backend}`, () => {
    test('messages.create', T, async () => {
      await fake.reset();
      await fake.script([{ reply: { text: 'Paris is the capital of France.' } }]);
      const { data, response } = await client.messages
        .create({
          model: route.model, max_tokens: 200, system: 'Answer briefly.',
          messages: [{ role: 'user', content: 'Capital of France?' }],
        })
        .withResponse();
      assert.equal(response.headers.get('x-switchyard-backend'), route.backend);
      assert.equal(data.type, 'message');
      assert.equal(data.role, 'assistant');
      assert.equal(data.content[0].type, 'text');
      assert.equal(data.content[0].text, 'Paris is the capital of France.');
      assert.equal(data.stop_reason, 'end_turn');
      assert.ok(data.usage.input_tokens > 0 && data.usage.output_tokens > 0);
      const sent = (await fake.requests()).at(-1);
      assert.equal(JSON.parse(sent.body).model, route.vendorModel);
    });

    test('streaming with event helpers and finalMessage()', T, async () => {
      await fake.reset();
      await fake.script([{ reply: { text: 'One two three four five.' } }]);
      const stream = client.messages.stream({
        model: route.model, max_tokens: 200, messages: [{ role: 'user', content: 'Count to five' }],
      });
      let text = '';
      const events = [];
      stream.on('text', (delta) => { text += delta; });
      stream.on('streamEvent', (event) => { events.push(event.type); });
      const message = await stream.finalMessage();
      assert.equal(text, 'One two three four five.');
      assert.equal(message.content[0].text, 'One two three four five.');
      assert.equal(message.stop_reason, 'end_turn');
      assert.ok(message.usage.output_tokens > 0);
      assert.equal(events[0], 'message_start');
      assert.equal(events.at(-1), 'message_stop');
      assert.ok(events.includes('content_block_start') && events.includes('message_delta'));
    });

    test('tool use round trip', T, async () => {
      await fake.reset();
      await fake.script([
        { reply: { tool_calls: [{ name: 'get_weather', arguments: { city: 'Paris' } }] } },
        { reply: { text: 'It is sunny in Paris.' } },
      ]);
      const messages = [{ role: 'user', content: 'Weather in Paris?' }];
      const first = await client.messages.create({
        model: route.model, max_tokens: 200, messages, tools: [weatherTool],
      });
      assert.equal(first.stop_reason, 'tool_use');
      const call = first.content.find((b) => b.type === 'tool_use');
      assert.ok(call, 'a tool_use block comes back');
      assert.equal(call.name, 'get_weather');
      assert.deepEqual(call.input, { city: 'Paris' });
      messages.push({ role: 'assistant', content: first.content });
      messages.push({ role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: '{"sky":"sunny"}' }] });
      const second = await client.messages.create({
        model: route.model, max_tokens: 200, messages, tools: [weatherTool],
      });
      assert.equal(second.content[0].text, 'It is sunny in Paris.');
      const sent = (await fake.requests()).at(-1);
      assert.ok(sent.body.includes(call.id), 'the tool result names the call');
      assert.ok(sent.body.includes('sunny'), 'the tool result reached the vendor');
    });

    test('streamed tool use assembles in finalMessage()', T, async () => {
      await fake.reset();
      await fake.script([{ reply: { tool_calls: [{ name: 'get_weather', arguments: { city: 'Oslo' } }] } }]);
      const message = await client.messages.stream({
        model: route.model, max_tokens: 200, tools: [weatherTool],
        messages: [{ role: 'user', content: 'Weather in Oslo?' }],
      }).finalMessage();
      const call = message.content.find((b) => b.type === 'tool_use');
      assert.deepEqual(call?.input, { city: 'Oslo' });
      assert.equal(message.stop_reason, 'tool_use');
    });

    test('a rate-limited vendor is a RateLimitError', T, async () => {
      await fake.reset();
      const limited = { fault: 'status', status: 429, retry_after: '0' };
      await fake.script([limited, limited, limited]);
      await assert.rejects(
        client.messages.create({ model: route.model, max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
        (err) => err instanceof Anthropic.RateLimitError && err.status === 429 &&
          err.error?.type === 'error' && err.error?.error?.type === 'rate_limit_error');
    });
  });
}

test('count_tokens', T, async () => {
  const counted = await client.messages.countTokens({
    model: 'gpt', messages: [{ role: 'user', content: 'abcdefgh' }],
  });
  assert.equal(counted.input_tokens, 2 + 4);
});

test('errors: unknown model, bad request, wrong key', T, async () => {
  await fake.reset();
  await assert.rejects(
    client.messages.create({ model: 'nope', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
    (err) => err instanceof Anthropic.NotFoundError && err.error?.error?.type === 'not_found_error');
  await assert.rejects(
    client.messages.create({ model: 'gpt', max_tokens: 0, messages: [{ role: 'user', content: 'x' }] }),
    (err) => err instanceof Anthropic.BadRequestError && /max_tokens/.test(err.message));
  const bad = new Anthropic({ apiKey: 'wrong-key', baseURL: gateway.origin, maxRetries: 0 });
  await assert.rejects(
    bad.messages.create({ model: 'gpt', max_tokens: 10, messages: [{ role: 'user', content: 'x' }] }),
    (err) => err instanceof Anthropic.AuthenticationError && err.status === 401);
  assert.equal((await fake.requests()).length, 0, 'no error reached a vendor');
});

test('a stream cut after content raises in the SDK', T, async () => {
  await fake.reset();
  await fake.script([{ fault: 'stream_cut', chunks_before: 3 }]);
  const stream = client.messages.stream({
    model: 'gpt', max_tokens: 200, messages: [{ role: 'user', content: 'Tell me a story' }],
  });
  await assert.rejects(stream.finalMessage(), (err) => err instanceof Error);
});
