// The official vendor SDKs are the oracle for the fake vendor: each client is pointed straight
// at build/fake_vendor and must parse its answers, streams and errors as it would the vendor's.
// Run: FAKE_VENDOR_BIN=$PWD/build/fake_vendor node --test tests/e2e/fake_vendor_sdks.test.mjs

import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import OpenAI, { AzureOpenAI } from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';

import { KEYS, startFakeVendor } from './fake_vendor_process.mjs';

const T = { timeout: 10000 };  // every test is bounded
const CLIENT_TIMEOUT_MS = 5000;

let fake;
before(async () => { fake = await startFakeVendor(); });
after(async () => {
  const result = await fake?.stop();
  assert.equal(result.code, 0, 'fake_vendor exits cleanly on SIGTERM');
});
beforeEach(async () => { await fake.reset(); });

const openai = (apiKey = KEYS.openai) =>
  new OpenAI({ apiKey, baseURL: `${fake.origin}/v1`, maxRetries: 0, timeout: CLIENT_TIMEOUT_MS });
const anthropic = (apiKey = KEYS.anthropic) =>
  new Anthropic({ apiKey, baseURL: fake.origin, maxRetries: 0, timeout: CLIENT_TIMEOUT_MS });
const gemini = (apiKey = KEYS.gemini) =>
  new GoogleGenAI({ apiKey, httpOptions: { baseUrl: fake.origin, timeout: CLIENT_TIMEOUT_MS } });

const USER = [{ role: 'user', content: 'Say hello to the fake vendor please' }];  // 7 words
const WEATHER_TOOL = {
  type: 'function',
  function: {
    name: 'get_weather',
    description: 'Weather for a city',
    parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  },
};
const TOOL_REPLY = {
  reply: { tool_calls: [{ name: 'get_weather', arguments: { city: 'Paris', unit: 'celsius' } }] },
};

async function rejection(promise) {
  try {
    await promise;
  } catch (err) {
    return err;
  }
  assert.fail('expected the call to fail');
}

describe('OpenAI SDK', () => {
  test('parses a non-streaming chat completion with usage', T, async () => {
    await fake.script([{ reply: { text: 'Hello there, friend.' } }]);
    const res = await openai().chat.completions.create({ model: 'gpt-4o-mini', messages: USER });
    assert.match(res.id, /^chatcmpl-[A-Za-z0-9]{29}$/);
    assert.equal(res.object, 'chat.completion');
    assert.equal(res.model, 'gpt-4o-mini');
    assert.equal(res.choices[0].message.role, 'assistant');
    assert.equal(res.choices[0].message.content, 'Hello there, friend.');
    assert.equal(res.choices[0].finish_reason, 'stop');
    assert.deepEqual(
      [res.usage.prompt_tokens, res.usage.completion_tokens, res.usage.total_tokens], [7, 3, 10]);
  });

  test('streams chat deltas, a finish chunk, a usage chunk and [DONE]', T, async () => {
    await fake.script([{ reply: { text: 'one two three four' } }]);
    const stream = await openai().chat.completions.create({
      model: 'gpt-4o', messages: USER, stream: true, stream_options: { include_usage: true },
    });
    let text = '';
    let finish = null;
    let usage = null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks += 1;
      assert.equal(chunk.object, 'chat.completion.chunk');
      if (chunk.choices.length > 0) {
        text += chunk.choices[0].delta.content ?? '';
        finish = chunk.choices[0].finish_reason ?? finish;
      }
      if (chunk.usage) usage = chunk.usage;
    }
    assert.equal(text, 'one two three four');
    assert.equal(finish, 'stop');
    assert.equal(chunks, 1 + 4 + 1 + 1);  // role, 4 words, finish, usage
    assert.deepEqual([usage.prompt_tokens, usage.completion_tokens], [7, 4]);
  });

  test('returns tool calls, whole and as assembled stream deltas', T, async () => {
    await fake.script([TOOL_REPLY, TOOL_REPLY]);
    const client = openai();
    const whole = await client.chat.completions.create({
      model: 'gpt-4o', messages: USER, tools: [WEATHER_TOOL],
    });
    const call = whole.choices[0].message.tool_calls[0];
    assert.equal(whole.choices[0].finish_reason, 'tool_calls');
    assert.match(call.id, /^call_[A-Za-z0-9]{24}$/);
    assert.equal(call.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(call.function.arguments), { city: 'Paris', unit: 'celsius' });

    // The SDK's own accumulator is the oracle for how deltas assemble.
    const runner = client.chat.completions.stream({
      model: 'gpt-4o', messages: USER, tools: [WEATHER_TOOL],
    });
    const final = await runner.finalChatCompletion();
    const streamed = final.choices[0].message.tool_calls[0];
    assert.equal(final.choices[0].finish_reason, 'tool_calls');
    assert.equal(streamed.function.name, 'get_weather');
    assert.deepEqual(JSON.parse(streamed.function.arguments), { city: 'Paris', unit: 'celsius' });
  });

  test('parses legacy completions, whole and streamed', T, async () => {
    await fake.script([{ reply: { text: 'a b c' } }, { reply: { text: 'x y' } }]);
    const client = openai();
    const whole = await client.completions.create({ model: 'gpt-3.5-turbo-instruct', prompt: 'one two' });
    assert.equal(whole.object, 'text_completion');
    assert.equal(whole.choices[0].text, 'a b c');
    assert.equal(whole.usage.prompt_tokens, 2);
    const stream = await client.completions.create({
      model: 'gpt-3.5-turbo-instruct', prompt: 'one two', stream: true,
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.text ?? '';
    assert.equal(text, 'x y');
  });

  test('lists models', T, async () => {
    const ids = [];
    for await (const model of openai().models.list()) ids.push(model.id);
    assert.ok(ids.includes('gpt-4o-mini'));
  });

  test('surfaces a wrong key as AuthenticationError 401', T, async () => {
    const err = await rejection(openai('sk-wrong').chat.completions.create({ model: 'gpt-4o', messages: USER }));
    assert.ok(err instanceof OpenAI.AuthenticationError);
    assert.equal(err.status, 401);
    assert.equal(err.code, 'invalid_api_key');
    assert.match(err.message, /Incorrect API key/);
  });

  test('surfaces 429 with Retry-After as RateLimitError', T, async () => {
    await fake.script([{ fault: 'status', status: 429, retry_after: '7' }]);
    const err = await rejection(openai().chat.completions.create({ model: 'gpt-4o', messages: USER }));
    assert.ok(err instanceof OpenAI.RateLimitError);
    assert.equal(err.status, 429);
    assert.equal(err.headers.get('retry-after'), '7');
    assert.equal(err.code, 'rate_limit_exceeded');
  });

  test('surfaces 500 and 503 as InternalServerError', T, async () => {
    await fake.script([{ fault: 'status', status: 500 }, { fault: 'status', status: 503 }]);
    for (const status of [500, 503]) {
      const err = await rejection(openai().chat.completions.create({ model: 'gpt-4o', messages: USER }));
      assert.ok(err instanceof OpenAI.InternalServerError);
      assert.equal(err.status, status);
      assert.equal(err.type, 'server_error');
    }
  });

  test('surfaces context length as BadRequestError with its code', T, async () => {
    await fake.script([{ fault: 'context_length' }]);
    const err = await rejection(openai().chat.completions.create({ model: 'gpt-4o', messages: USER }));
    assert.ok(err instanceof OpenAI.BadRequestError);
    assert.equal(err.code, 'context_length_exceeded');
    assert.equal(err.param, 'messages');
    assert.match(err.message, /maximum context length/);
  });

  test('reports a content-filter refusal as finish_reason content_filter', T, async () => {
    await fake.script([{ fault: 'content_filter' }]);
    const res = await openai().chat.completions.create({ model: 'gpt-4o', messages: USER });
    assert.equal(res.choices[0].finish_reason, 'content_filter');
  });

  test('fails a stream that is cut before [DONE]', T, async () => {
    await fake.script([{ fault: 'stream_cut', chunks_before: 3 }]);
    const stream = await openai().chat.completions.create({ model: 'gpt-4o', messages: USER, stream: true });
    const err = await rejection((async () => { for await (const _ of stream) { /* drain */ } })());
    assert.ok(err instanceof Error);
  });

  test('fails a stream on a malformed chunk and on an in-stream error event', T, async () => {
    await fake.script([{ fault: 'malformed_chunk' }, { fault: 'stream_error', chunks_before: 2 }]);
    const drain = async () => {
      const stream = await openai().chat.completions.create({ model: 'gpt-4o', messages: USER, stream: true });
      let text = '';
      for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
      return text;
    };
    assert.ok((await rejection(drain())) instanceof SyntaxError);
    const err = await rejection(drain());
    assert.ok(err instanceof OpenAI.APIError);
    assert.match(err.message, /server had an error/);
  });

  test('passes scripted extra headers such as retry-after-ms', T, async () => {
    await fake.script([{ fault: 'status', status: 429, headers: { 'retry-after-ms': '1500' } }]);
    const err = await rejection(openai().chat.completions.create({ model: 'gpt-4o', messages: USER }));
    assert.equal(err.headers.get('retry-after-ms'), '1500');
  });

  test('times out on a silent upstream and the fake still stops', T, async () => {
    await fake.script([{ fault: 'silent' }]);
    const client = new OpenAI({
      apiKey: KEYS.openai, baseURL: `${fake.origin}/v1`, maxRetries: 0, timeout: 300,
    });
    const err = await rejection(client.chat.completions.create({ model: 'gpt-4o', messages: USER }));
    assert.ok(err instanceof OpenAI.APIConnectionTimeoutError);
  });

  test('records the request with lower-cased headers', T, async () => {
    await openai().chat.completions.create({ model: 'gpt-4o', messages: USER });
    const [recorded] = await fake.requests();
    assert.equal(recorded.method, 'POST');
    assert.equal(recorded.target, '/v1/chat/completions');
    assert.equal(recorded.vendor, 'openai');
    assert.equal(recorded.headers.authorization, `Bearer ${KEYS.openai}`);
    assert.deepEqual(JSON.parse(recorded.body).messages, USER);
  });
});

describe('Azure OpenAI SDK', () => {
  const azure = (apiKey = KEYS.azure) => new AzureOpenAI({
    endpoint: fake.origin, apiKey, apiVersion: '2024-10-21', deployment: 'my-gpt4o',
    maxRetries: 0, timeout: CLIENT_TIMEOUT_MS,
  });

  test('parses a chat completion from a deployment', T, async () => {
    await fake.script([{ reply: { text: 'azure says hi' } }]);
    const res = await azure().chat.completions.create({ model: 'gpt-4o', messages: USER });
    assert.equal(res.choices[0].message.content, 'azure says hi');
    assert.equal(res.model, 'my-gpt4o');
    const [recorded] = await fake.requests();
    assert.equal(recorded.target, '/openai/deployments/my-gpt4o/chat/completions?api-version=2024-10-21');
    assert.equal(recorded.headers['api-key'], KEYS.azure);
  });

  test('streams a chat completion', T, async () => {
    await fake.script([{ reply: { text: 'streamed from azure' } }]);
    const stream = await azure().chat.completions.create({ model: 'gpt-4o', messages: USER, stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? '';
    assert.equal(text, 'streamed from azure');
  });

  test('surfaces a wrong key as 401', T, async () => {
    const err = await rejection(azure('wrong').chat.completions.create({ model: 'gpt-4o', messages: USER }));
    assert.ok(err instanceof OpenAI.AuthenticationError);
    assert.equal(err.status, 401);
    assert.match(err.message, /Access denied/);
  });
});

describe('Anthropic SDK', () => {
  const ARGS = { model: 'claude-haiku-4-5', max_tokens: 256, messages: USER };
  const TOOLS = [{
    name: 'get_weather', description: 'Weather for a city',
    input_schema: { type: 'object', properties: { city: { type: 'string' } } },
  }];

  test('parses a non-streaming message with usage', T, async () => {
    await fake.script([{ reply: { text: 'Hi from Claude.' } }]);
    const msg = await anthropic().messages.create({ ...ARGS, system: 'Be brief' });
    assert.match(msg.id, /^msg_01[A-Za-z0-9]{22}$/);
    assert.equal(msg.type, 'message');
    assert.equal(msg.role, 'assistant');
    assert.deepEqual(msg.content, [{ type: 'text', text: 'Hi from Claude.' }]);
    assert.equal(msg.stop_reason, 'end_turn');
    assert.equal(msg.usage.input_tokens, 9);  // 7 words + "Be brief"
    assert.equal(msg.usage.output_tokens, 3);
  });

  test('streams through messages.stream() helpers to finalMessage()', T, async () => {
    await fake.script([{ reply: { text: 'alpha beta gamma' } }]);
    const stream = anthropic().messages.stream(ARGS);
    let text = '';
    const events = [];
    stream.on('text', (delta) => { text += delta; });
    stream.on('streamEvent', (event) => events.push(event.type));
    const msg = await stream.finalMessage();
    assert.equal(text, 'alpha beta gamma');
    assert.deepEqual(msg.content.map((b) => b.text), ['alpha beta gamma']);
    assert.equal(msg.stop_reason, 'end_turn');
    assert.equal(msg.usage.output_tokens, 3);
    assert.equal(msg.usage.input_tokens, 7);
    assert.deepEqual([events[0], events.at(-2), events.at(-1)],
      ['message_start', 'message_delta', 'message_stop']);
  });

  test('returns tool_use blocks, whole and streamed', T, async () => {
    await fake.script([TOOL_REPLY, TOOL_REPLY]);
    const whole = await anthropic().messages.create({ ...ARGS, tools: TOOLS });
    assert.equal(whole.stop_reason, 'tool_use');
    assert.equal(whole.content[0].type, 'tool_use');
    assert.match(whole.content[0].id, /^toolu_01/);
    assert.deepEqual(whole.content[0].input, { city: 'Paris', unit: 'celsius' });
    const streamed = await anthropic().messages.stream({ ...ARGS, tools: TOOLS }).finalMessage();
    assert.equal(streamed.stop_reason, 'tool_use');
    assert.deepEqual(streamed.content[0].input, { city: 'Paris', unit: 'celsius' });
  });

  test('surfaces a wrong key as AuthenticationError 401', T, async () => {
    const err = await rejection(anthropic('sk-ant-wrong').messages.create(ARGS));
    assert.ok(err instanceof Anthropic.AuthenticationError);
    assert.equal(err.status, 401);
    assert.equal(err.error.error.type, 'authentication_error');
  });

  test('surfaces 529 as OverloadedError', T, async () => {
    await fake.script([{ fault: 'status', status: 529 }]);
    const err = await rejection(anthropic().messages.create(ARGS));
    assert.ok(err instanceof Anthropic.APIError);
    assert.equal(err.status, 529);
    assert.equal(err.error.error.type, 'overloaded_error');
  });

  test('surfaces 429 with Retry-After and a context-length 400', T, async () => {
    await fake.script([{ fault: 'status', status: 429, retry_after: '3' }, { fault: 'context_length' }]);
    const limited = await rejection(anthropic().messages.create(ARGS));
    assert.ok(limited instanceof Anthropic.RateLimitError);
    assert.equal(limited.headers.get('retry-after'), '3');
    const long = await rejection(anthropic().messages.create(ARGS));
    assert.ok(long instanceof Anthropic.BadRequestError);
    assert.match(long.error.error.message, /prompt is too long/);
  });

  test('fails a stream on an overloaded error event and on a reset', T, async () => {
    await fake.script([
      { fault: 'stream_error', chunks_before: 3 }, { fault: 'reset_after_headers', chunks_before: 2 },
    ]);
    const overloaded = await rejection(anthropic().messages.stream(ARGS).finalMessage());
    assert.ok(overloaded instanceof Anthropic.APIError);
    assert.match(overloaded.message, /overloaded_error|Overloaded/);
    const reset = await rejection(anthropic().messages.stream(ARGS).finalMessage());
    assert.ok(reset instanceof Error);
  });

  test('reports a refusal as stop_reason refusal', T, async () => {
    await fake.script([{ fault: 'content_filter' }]);
    const msg = await anthropic().messages.create(ARGS);
    assert.equal(msg.stop_reason, 'refusal');
  });
});

describe('Google GenAI SDK', () => {
  const CONTENTS = 'Say hello to the fake vendor please';

  test('parses generateContent with usageMetadata', T, async () => {
    await fake.script([{ reply: { text: 'Hello from Gemini' } }]);
    const res = await gemini().models.generateContent({ model: 'gemini-2.5-flash', contents: CONTENTS });
    assert.equal(res.text, 'Hello from Gemini');
    assert.equal(res.candidates[0].finishReason, 'STOP');
    assert.equal(res.usageMetadata.promptTokenCount, 7);
    assert.equal(res.usageMetadata.candidatesTokenCount, 3);
    assert.equal(res.usageMetadata.totalTokenCount, 10);
    const [recorded] = await fake.requests();
    assert.equal(recorded.target, '/v1beta/models/gemini-2.5-flash:generateContent');
    assert.equal(recorded.headers['x-goog-api-key'], KEYS.gemini);
  });

  test('streams generateContentStream over SSE', T, async () => {
    await fake.script([{ reply: { text: 'red green blue' } }]);
    const stream = await gemini().models.generateContentStream({
      model: 'gemini-2.5-flash', contents: CONTENTS,
    });
    let text = '';
    let last;
    for await (const chunk of stream) {
      text += chunk.text ?? '';
      last = chunk;
    }
    assert.equal(text, 'red green blue');
    assert.equal(last.candidates[0].finishReason, 'STOP');
    assert.equal(last.usageMetadata.candidatesTokenCount, 3);
    const [recorded] = await fake.requests();
    assert.equal(recorded.target, '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
  });

  test('returns function calls', T, async () => {
    await fake.script([TOOL_REPLY]);
    const res = await gemini().models.generateContent({
      model: 'gemini-2.5-flash', contents: CONTENTS,
      config: { tools: [{ functionDeclarations: [{ name: 'get_weather', parameters: { type: 'OBJECT' } }] }] },
    });
    assert.equal(res.functionCalls.length, 1);
    assert.equal(res.functionCalls[0].name, 'get_weather');
    assert.deepEqual(res.functionCalls[0].args, { city: 'Paris', unit: 'celsius' });
  });

  test('surfaces a wrong key as 400 API_KEY_INVALID', T, async () => {
    const err = await rejection(gemini('wrong').models.generateContent({ model: 'gemini-2.5-flash', contents: CONTENTS }));
    assert.equal(err.name, 'ApiError');
    assert.equal(err.status, 400);
    assert.match(err.message, /API_KEY_INVALID|API key not valid/);
  });

  test('surfaces 429 RESOURCE_EXHAUSTED', T, async () => {
    await fake.script([{ fault: 'status', status: 429 }]);
    const err = await rejection(gemini().models.generateContent({ model: 'gemini-2.5-flash', contents: CONTENTS }));
    assert.equal(err.status, 429);
    assert.match(err.message, /RESOURCE_EXHAUSTED/);
  });

  test('fails a stream on an in-stream error', T, async () => {
    await fake.script([{ fault: 'stream_error', chunks_before: 1 }]);
    const err = await rejection((async () => {
      const stream = await gemini().models.generateContentStream({ model: 'gemini-2.5-flash', contents: CONTENTS });
      for await (const _ of stream) { /* drain */ }
    })());
    assert.match(err.message, /INTERNAL|internal error/);
  });

  test('reports a safety block as finishReason SAFETY', T, async () => {
    await fake.script([{ fault: 'content_filter' }]);
    const res = await gemini().models.generateContent({ model: 'gemini-2.5-flash', contents: CONTENTS });
    assert.equal(res.candidates[0].finishReason, 'SAFETY');
    assert.equal(res.text, undefined);
  });
});

// The child's exit status, or null if it is still running after `ms`.
function exitWithin(child, ms) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), ms);
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code }); });
  });
}

describe('fake_vendor process', () => {
  test('exits when its stdin closes', T, async () => {
    const other = await startFakeVendor();
    other.child.stdin.end();
    const result = await exitWithin(other.child, 5000);
    if (result === null) await other.stop();
    assert.deepEqual(result, { code: 0 });
  });

  test('exits after its maximum lifetime', T, async () => {
    const other = await startFakeVendor({ lifetimeMs: 200 });
    const result = await exitWithin(other.child, 5000);
    if (result === null) await other.stop();
    assert.deepEqual(result, { code: 0 });
  });
});
