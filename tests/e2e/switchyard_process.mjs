// Starts build/switchyard serve on 127.0.0.1:0 with a given YAML config (null: none, the
// embedded default) and reads the bound address from its first stdout line. Shared by the
// gateway's end-to-end tests.

import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './fake_vendor_process.mjs';

function switchyardBin() {
  return process.env.SWITCHYARD_BIN ?? path.join(REPO_ROOT, 'build', 'switchyard');
}

export async function startSwitchyard(configYaml, { startMs = 10000, env = {}, args = [], cwd } = {}) {
  const dir = mkdtempSync(path.join(tmpdir(), 'switchyard-e2e-'));
  const configArgs = [];
  if (configYaml !== null) {
    const configPath = path.join(dir, 'switchyard.yaml');
    writeFileSync(configPath, configYaml);
    configArgs.push('--config', configPath);
  }
  const child = spawn(switchyardBin(),
    ['serve', ...configArgs, '--listen', '127.0.0.1:0', '--data-dir', dir, '--log-level', 'warn', ...args],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env }, cwd });
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const lines = createInterface({ input: child.stdout });
  const origin = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('switchyard did not start in time')), startMs);
    child.once('exit', (code) => { clearTimeout(timer); reject(new Error(`switchyard exited: ${code}`)); });
    lines.once('line', (line) => {
      clearTimeout(timer);
      const match = /^listening on (http:\/\/127\.0\.0\.1:\d+)$/.exec(line.trim());
      if (match) resolve(match[1]); else reject(new Error(`unexpected first line: ${line}`));
    });
  });
  lines.on('line', () => {});
  return {
    origin,
    child,
    exited,
    async stop(killMs = 5000) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), killMs);
        await exited;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
      return exited;
    },
  };
}
