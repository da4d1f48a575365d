// The committed labeled sets under tests/data/pii are what scripts/gen_pii_labels.mjs makes
// now: rerun it into a temporary folder and compare byte by byte, then check the labels'
// invariants (spans inside the text, restricted = a restricted-level entity present).

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const DATA_DIR = path.join(REPO_ROOT, 'tests', 'data', 'pii');
const FILES = ['fit.jsonl', 'held_out.jsonl'];

test('committed PII labeled sets match the generator', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'pii-labels-'));
  try {
    execFileSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'gen_pii_labels.mjs'), dir],
      { stdio: 'pipe', timeout: 30_000 });
    for (const f of FILES) {
      assert.ok(readFileSync(path.join(dir, f)).equals(readFileSync(path.join(DATA_DIR, f))),
        `${f} is stale: run node scripts/gen_pii_labels.mjs`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('labels are consistent with their texts', () => {
  const restrictedTypes = new Set(['payment_card', 'iban', 'us_ssn', 'national_id', 'secret']);
  const ids = new Set();
  for (const f of FILES) {
    const text = readFileSync(path.join(DATA_DIR, f), 'utf8');
    const rows = text.trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(rows.length >= 900, `${f} has ${rows.length} rows`);
    for (const r of rows) {
      assert.ok(!ids.has(r.id), `id ${r.id} in both splits`);
      ids.add(r.id);
      const bytes = Buffer.byteLength(r.text);
      for (const s of [...r.entities, ...r.negatives]) {
        assert.ok(s.start < s.end && s.end <= bytes, `row ${r.id}: bad span`);
        const value = Buffer.from(r.text).subarray(s.start, s.end).toString();
        assert.equal(value.trim(), value, `row ${r.id}: blanks at a span's edges`);
      }
      const restricted = r.entities.some((e) => restrictedTypes.has(e.type));
      assert.equal(r.restricted, restricted, `row ${r.id}`);
    }
  }
});
