// Starts build/fake_vendor as a child process and talks to its control API.
// Shared by fake_vendor_sdks.test.mjs and record_sdk_requests.mjs.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const KEYS = {
  openai: 'sk-fake-openai-key',
  anthropic: 'sk-ant-fake-anthropic-key',
  gemini: 'AIzaFakeGeminiKey',
  azure: 'fake-azure-key',
};

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

function fakeVendorBin() {
  return process.env.FAKE_VENDOR_BIN ?? path.join(REPO_ROOT, 'build', 'fake_vendor');
}

// Resolves to a handle once the fake printed its "listening on" line (within startMs).
export async function startFakeVendor({ startMs = 5000, lifetimeMs = 110000 } = {}) {
  const args = [
    '--port', '0',
    '--key-openai', KEYS.openai,
    '--key-anthropic', KEYS.anthropic,
    '--key-gemini', KEYS.gemini,
    '--key-azure', KEYS.azure,
    '--max-lifetime-ms', String(lifetimeMs),
  ];
  const child = spawn(fakeVendorBin(), args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const lines = createInterface({ input: child.stdout });
  const origin = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('fake_vendor did not start in time')), startMs);
    child.once('error', (err) => { clearTimeout(timer); reject(err); });
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`fake_vendor exited: ${code}`)); });
    lines.once('line', (line) => {
      clearTimeout(timer);
      const match = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line.trim());
      if (match) resolve(match[1]); else reject(new Error(`unexpected first line: ${line}`));
    });
  });
  lines.on('line', () => {});  // keep draining stdout

  const control = async (method, route, body) => {
    const res = await fetch(`${origin}/_fake/${route}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    if (!res.ok) throw new Error(`control ${route}: ${res.status} ${await res.text()}`);
    return res.json();
  };

  return {
    origin,
    port: Number(new URL(origin).port),
    child,
    script: (scripts) => control('POST', 'script', scripts),
    requests: () => control('GET', 'requests'),
    reset: () => control('POST', 'reset', {}),
    // SIGTERM, then SIGKILL if it has not exited within killMs.
    async stop(killMs = 3000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), killMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
  };
}
