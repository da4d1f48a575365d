// Records what each official SDK sends for a fixed set of calls, as JSON fixtures under
// tests/fixtures/sdk_requests/<vendor>_<case>.json: method, path, the headers that matter
// (secrets redacted; user-agent, x-stainless-* and transport headers dropped) and the body.
// Our translators' requests are compared against these.
// Run: FAKE_VENDOR_BIN=$PWD/build/fake_vendor node tests/e2e/record_sdk_requests.mjs

import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import OpenAI, { AzureOpenAI } from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';

import { KEYS, REPO_ROOT, startFakeVendor } from './fake_vendor_process.mjs';

const OUT_DIR = path.join(REPO_ROOT, 'tests', 'fixtures', 'sdk_requests');
const SECRET_HEADERS = new Set(['authorization', 'api-key', 'x-api-key', 'x-goog-api-key']);
const VOLATILE_HEADERS = new Set([
  'user-agent', 'host', 'content-length', 'connection', 'accept-encoding', 'accept-language',
  'sec-fetch-mode', 'x-goog-api-client',
]);

function sanitizeHeaders(headers) {
  const out = {};
  for (const name of Object.keys(headers).sort()) {
    if (VOLATILE_HEADERS.has(name) || name.startsWith('x-stainless-')) continue;
    if (SECRET_HEADERS.has(name)) {
      out[name] = headers[name].startsWith('Bearer ') ? 'Bearer <redacted>' : '<redacted>';
    } else {
      out[name] = headers[name];
    }
  }
  return out;
}

const SYSTEM = 'You are a terse assistant.';
const QUESTION = 'What is the capital of France?';
const TOOL_REPLY = {
  reply: { tool_calls: [{ name: 'get_weather', arguments: { city: 'Paris' } }] },
};
const WEATHER_SCHEMA = {
  type: 'object', properties: { city: { type: 'string' } }, required: ['city'],
};

// A 1x1 transparent PNG.
const PNG_BASE64 =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==';
const ANSWER_SCHEMA = {
  type: 'object', properties: { answer: { type: 'string' } }, required: ['answer'],
  additionalProperties: false,
};

const fake = await startFakeVendor();
const openai = new OpenAI({ apiKey: KEYS.openai, baseURL: `${fake.origin}/v1`, maxRetries: 0 });
const azure = new AzureOpenAI({
  endpoint: fake.origin, apiKey: KEYS.azure, apiVersion: '2024-10-21', deployment: 'gpt-4o-prod',
  maxRetries: 0,
});
const anthropic = new Anthropic({ apiKey: KEYS.anthropic, baseURL: fake.origin, maxRetries: 0 });
const gemini = new GoogleGenAI({ apiKey: KEYS.gemini, httpOptions: { baseUrl: fake.origin } });

async function drain(stream) {
  for await (const _ of stream) { /* the request is what matters */ }
}

const CASES = {
  openai_chat_basic: () => openai.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'system', content: SYSTEM }, { role: 'user', content: QUESTION }],
    temperature: 0.2, max_completion_tokens: 64,
  }),
  openai_chat_stream: async () => drain(await openai.chat.completions.create({
    model: 'gpt-4o-mini', messages: [{ role: 'user', content: QUESTION }],
    stream: true, stream_options: { include_usage: true },
  })),
  openai_chat_tools: () => openai.chat.completions.create({
    model: 'gpt-4o',
    messages: [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: null, tool_calls: [{
        id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' },
      }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp_c":18}' },
    ],
    tools: [{ type: 'function', function: {
      name: 'get_weather', description: 'Weather for a city', parameters: WEATHER_SCHEMA,
    } }],
    tool_choice: 'auto',
  }),
  openai_chat_json_schema: () => openai.chat.completions.create({
    model: 'gpt-4o-mini', messages: [{ role: 'user', content: QUESTION }],
    response_format: {
      type: 'json_schema', json_schema: { name: 'answer', strict: true, schema: ANSWER_SCHEMA },
    },
  }),
  openai_chat_image: () => openai.chat.completions.create({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: [
      { type: 'text', text: 'What is in this image?' },
      { type: 'image_url', image_url: { url: `data:image/png;base64,${PNG_BASE64}` } },
    ] }],
  }),
  openai_completions: () => openai.completions.create({
    model: 'gpt-3.5-turbo-instruct', prompt: 'Once upon a time', max_tokens: 16,
  }),
  openai_models: async () => { for await (const _ of openai.models.list()) { /* paging */ } },
  azure_chat: () => azure.chat.completions.create({
    model: 'gpt-4o', messages: [{ role: 'user', content: QUESTION }], max_tokens: 64,
  }),
  azure_chat_stream: async () => drain(await azure.chat.completions.create({
    model: 'gpt-4o', messages: [{ role: 'user', content: QUESTION }], stream: true,
  })),
  anthropic_messages_basic: () => anthropic.messages.create({
    model: 'claude-haiku-4-5', max_tokens: 64, system: SYSTEM, temperature: 0.2,
    messages: [{ role: 'user', content: QUESTION }],
  }),
  anthropic_messages_stream: () => anthropic.messages.stream({
    model: 'claude-haiku-4-5', max_tokens: 64, messages: [{ role: 'user', content: QUESTION }],
  }).finalMessage(),
  anthropic_messages_tools: () => anthropic.messages.create({
    model: 'claude-haiku-4-5', max_tokens: 256,
    messages: [
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: [
        { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Paris' } },
      ] },
      { role: 'user', content: [
        { type: 'tool_result', tool_use_id: 'toolu_1', content: '{"temp_c":18}' },
      ] },
    ],
    tools: [{ name: 'get_weather', description: 'Weather for a city', input_schema: WEATHER_SCHEMA }],
    tool_choice: { type: 'auto' },
  }),
  anthropic_messages_image: () => anthropic.messages.create({
    model: 'claude-haiku-4-5', max_tokens: 64,
    messages: [{ role: 'user', content: [
      { type: 'image', source: { type: 'base64', media_type: 'image/png', data: PNG_BASE64 } },
      { type: 'text', text: 'What is in this image?' },
    ] }],
  }),
  gemini_generate_basic: () => gemini.models.generateContent({
    model: 'gemini-2.5-flash', contents: QUESTION,
    config: { systemInstruction: SYSTEM, temperature: 0.2, maxOutputTokens: 64 },
  }),
  gemini_generate_json_schema: () => gemini.models.generateContent({
    model: 'gemini-2.5-flash', contents: QUESTION,
    config: { responseMimeType: 'application/json', responseJsonSchema: ANSWER_SCHEMA },
  }),
  gemini_generate_image: () => gemini.models.generateContent({
    model: 'gemini-2.5-flash',
    contents: [{ role: 'user', parts: [
      { text: 'What is in this image?' },
      { inlineData: { mimeType: 'image/png', data: PNG_BASE64 } },
    ] }],
  }),
  gemini_generate_stream: async () => drain(await gemini.models.generateContentStream({
    model: 'gemini-2.5-flash', contents: QUESTION,
  })),
  gemini_generate_tools: () => gemini.models.generateContent({
    model: 'gemini-2.5-flash',
    contents: [
      { role: 'user', parts: [{ text: 'Weather in Paris?' }] },
      { role: 'model', parts: [{ functionCall: { name: 'get_weather', args: { city: 'Paris' } } }] },
      { role: 'user', parts: [{ functionResponse: { name: 'get_weather', response: { temp_c: 18 } } }] },
    ],
    config: { tools: [{ functionDeclarations: [{
      name: 'get_weather', description: 'Weather for a city', parametersJsonSchema: WEATHER_SCHEMA,
    }] }] },
  }),
};

let failed = false;
try {
  mkdirSync(OUT_DIR, { recursive: true });
  for (const [name, call] of Object.entries(CASES)) {
    await fake.reset();
    if (name.endsWith('_tools')) await fake.script([TOOL_REPLY]);
    await call();
    const requests = await fake.requests();
    if (requests.length !== 1) throw new Error(`${name}: expected 1 request, got ${requests.length}`);
    const [request] = requests;
    const fixture = {
      vendor: request.vendor,
      case: name,
      method: request.method,
      target: request.target,
      headers: sanitizeHeaders(request.headers),
      body: request.body === '' ? null : JSON.parse(request.body),
    };
    writeFileSync(path.join(OUT_DIR, `${name}.json`), `${JSON.stringify(fixture, null, 2)}\n`);
    console.log(`recorded ${name}`);
  }
} catch (err) {
  failed = true;
  console.error(err);
} finally {
  await fake.stop();
}
process.exitCode = failed ? 1 : 0;
