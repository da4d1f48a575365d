// The official `openai` npm client against `switchyard serve` with no config: the embedded
// default model (stories260K, found at ../shared/models relative to the working directory)
// through the local backend. Chat, streaming, usage, structured output, tool calls, errors.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import path from 'node:path';
import OpenAI from 'openai';
import { REPO_ROOT } from './fake_vendor_process.mjs';
import { startSwitchyard } from './switchyard_process.mjs';

const T = { timeout: 20000 };
const MODEL = 'stories260K';

let gateway;
let client;

before(async () => {
  // A development checkout finds the model itself; elsewhere CTest says where the models are.
  const models = process.env.SWITCHYARD_MODELS_DIR ?? path.join(REPO_ROOT, '..', 'shared', 'models');
  const found = existsSync(path.join(REPO_ROOT, '..', 'shared', 'models', 'stories260K', 'stories260K.gguf'));
  const args = found ? [] : ['--model', path.join(models, 'stories260K', 'stories260K.gguf')];
  gateway = await startSwitchyard(null, { cwd: REPO_ROOT, args, startMs: 15000 });
  client = new OpenAI({ apiKey: 'unused', baseURL: `${gateway.origin}/v1`, maxRetries: 0, timeout: 15000 });
});

after(async () => {
  await gateway?.stop();
});

const greedy = { model: MODEL, temperature: 0 };
const story = [{ role: 'user', content: 'Tell me a story about a little girl.' }];

test('the default model is listed with its context length', T, async () => {
  const listed = [];
  for await (const m of client.models.list()) listed.push(m);
  const model = listed.find((m) => m.id === MODEL);
  assert.ok(model, JSON.stringify(listed));
  assert.equal(model.owned_by, 'local');
  assert.equal(model.context_length, 2048);
  assert.ok(listed.some((m) => m.id === 'default'));
});

test('chat with usage, served by the local backend', T, async () => {
  const { data, response } = await client.chat.completions
    .create({ ...greedy, messages: story, max_tokens: 16 })
    .withResponse();
  assert.equal(response.headers.get('x-switchyard-backend'), 'local');
  assert.equal(response.headers.get('x-switchyard-model'), MODEL);
  assert.equal(data.object, 'chat.completion');
  assert.equal(data.choices[0].message.role, 'assistant');
  assert.ok(data.choices[0].message.content.length > 0);
  assert.equal(data.choices[0].finish_reason, 'length');
  assert.equal(data.usage.completion_tokens, 16);
  assert.ok(data.usage.prompt_tokens > 5);
  assert.equal(data.usage.total_tokens, data.usage.prompt_tokens + 16);
});

test('streaming gives the same greedy text, then usage', T, async () => {
  const buffered = await client.chat.completions.create({ ...greedy, messages: story, max_tokens: 24 });
  const stream = await client.chat.completions.create({
    ...greedy, messages: story, max_tokens: 24, stream: true, stream_options: { include_usage: true },
  });
  let text = '';
  let finish = null;
  let usage = null;
  let chunks = 0;
  for await (const chunk of stream) {
    chunks++;
    if (chunk.usage) usage = chunk.usage;
    for (const choice of chunk.choices) {
      text += choice.delta?.content ?? '';
      finish = choice.finish_reason ?? finish;
    }
  }
  assert.ok(chunks > 3, 'streamed in pieces');
  assert.equal(text, buffered.choices[0].message.content);
  assert.equal(finish, 'length');
  assert.equal(usage?.completion_tokens, 24);
  assert.equal(usage?.prompt_tokens, buffered.usage.prompt_tokens);
});

test('a stop string ends the answer with finish_reason stop', T, async () => {
  const free = await client.chat.completions.create({ ...greedy, messages: story, max_tokens: 40 });
  const words = free.choices[0].message.content.split(' ');
  const stop = ` ${words[Math.floor(words.length / 2)]}`;
  const res = await client.chat.completions.create({ ...greedy, messages: story, max_tokens: 40, stop: [stop] });
  assert.equal(res.choices[0].finish_reason, 'stop');
  assert.ok(!res.choices[0].message.content.includes(stop));
  assert.ok(free.choices[0].message.content.startsWith(res.choices[0].message.content));
});

test('json_schema response_format gives output that parses and validates', T, async () => {
  const res = await client.chat.completions.create({
    ...greedy,
    max_tokens: 150,
    messages: [{ role: 'user', content: 'Describe a cat.' }],
    response_format: {
      type: 'json_schema',
      json_schema: {
        name: 'cat',
        strict: true,
        schema: {
          type: 'object',
          properties: {
            name: { type: 'string' },
            age: { type: 'integer' },
            color: { type: 'string', enum: ['black', 'white', 'orange'] },
          },
          required: ['name', 'age', 'color'],
          additionalProperties: false,
        },
      },
    },
  });
  assert.equal(res.choices[0].finish_reason, 'stop', res.choices[0].message.content);
  const cat = JSON.parse(res.choices[0].message.content);
  assert.equal(typeof cat.name, 'string');
  assert.ok(Number.isInteger(cat.age));
  assert.ok(['black', 'white', 'orange'].includes(cat.color));
  assert.deepEqual(Object.keys(cat).sort(), ['age', 'color', 'name']);
});

const weatherTool = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Current weather for a city',
    parameters: {
      type: 'object', properties: { city: { type: 'string' } }, required: ['city'], additionalProperties: false,
    },
  },
};

test('a required tool call comes back OpenAI-shaped, streamed and not', T, async () => {
  const messages = [{ role: 'user', content: 'Weather in Paris?' }];
  const res = await client.chat.completions.create({
    ...greedy, max_tokens: 100, messages, tools: [weatherTool], tool_choice: 'required',
  });
  const choice = res.choices[0];
  assert.equal(choice.finish_reason, 'tool_calls');
  assert.equal(choice.message.content, null);
  assert.equal(choice.message.tool_calls.length, 1);
  const call = choice.message.tool_calls[0];
  assert.equal(call.type, 'function');
  assert.ok(call.id.startsWith('call_'));
  assert.equal(call.function.name, 'get_weather');
  assert.equal(typeof JSON.parse(call.function.arguments).city, 'string');

  const stream = await client.chat.completions.create({
    ...greedy, max_tokens: 100, messages, stream: true, tools: [weatherTool],
    tool_choice: { type: 'function', function: { name: 'get_weather' } },
  });
  let args = '';
  let name = '';
  let finish = null;
  for await (const chunk of stream) {
    for (const d of chunk.choices[0]?.delta?.tool_calls ?? []) {
      name += d.function?.name ?? '';
      args += d.function?.arguments ?? '';
    }
    finish = chunk.choices[0]?.finish_reason ?? finish;
  }
  assert.equal(name, 'get_weather');
  assert.equal(finish, 'tool_calls');
  assert.equal(typeof JSON.parse(args).city, 'string');

  // The call and its result go back in; the model answers in text.
  const followUp = await client.chat.completions.create({
    ...greedy, max_tokens: 8, tools: [weatherTool], tool_choice: 'none',
    messages: [...messages, choice.message, { role: 'tool', tool_call_id: call.id, content: 'sunny' }],
  });
  assert.equal(typeof followUp.choices[0].message.content, 'string');
});

test('a prompt longer than the context is a 400 context_length_exceeded', T, async () => {
  await assert.rejects(
    client.chat.completions.create({
      ...greedy, messages: [{ role: 'user', content: 'once upon a time '.repeat(800) }],
    }),
    (err) => err instanceof OpenAI.BadRequestError && err.status === 400 &&
      err.code === 'context_length_exceeded');
});

test('legacy completions take the raw prompt', T, async () => {
  const res = await client.completions.create({
    model: MODEL, prompt: 'Once upon a time', max_tokens: 12, temperature: 0,
  });
  assert.equal(res.object, 'text_completion');
  assert.ok(res.choices[0].text.length > 0);
  assert.equal(res.usage.completion_tokens, 12);
});
