// Generates the labeled sets the sensitivity detectors are measured on (bench_classifiers'
// --sensitivity mode): short texts (sentences, emails, log lines, tickets, code) carrying PII
// made by an independent generator (@faker-js/faker, seeded, several locales), published
// specification examples (test card numbers, IBAN registry examples, national ID examples),
// checksum-invalid variants of valid values, and look-alike negatives (order numbers,
// timestamps, UUIDs, hashes, versions, tracking numbers).
//
// Each line of the output is {"id", "locale", "kind", "text", "entities": [{type, start, end,
// checksum}], "negatives": [{kind, type, start, end}], "restricted"}: spans are UTF-8 byte
// offsets; `type` is the FindingType name the classifier reports; `checksum` says whether the
// value's validity rests on a check digit/checksum (and it holds); `negatives` are look-alikes
// that no detector should report (checksum-invalid variants name the type they imitate);
// `restricted` follows the default level mapping (payment_card, iban, us_ssn, national_id,
// secret -> restricted). Validity is decided here by this script's own implementations of
// the published algorithms, never by the code under test.
//
// Usage: node scripts/gen_pii_labels.mjs [OUT_DIR=tests/data/pii]
// Writes fit.jsonl and held_out.jsonl (deterministic: the same bytes on every run).

import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Faker, base, en, en_US, en_GB, de, fr, es, it, nl } from '@faker-js/faker';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT_DIR = path.resolve(process.argv[2] ?? path.join(REPO_ROOT, 'tests', 'data', 'pii'));
const TEXT_COUNT = 2000;
const DOB_TEXT_COUNT = 200;
const SEED = 20261124;

const LOCALES = {
  en_US: [en_US, en, base],
  en_GB: [en_GB, en, base],
  de: [de, en, base],
  fr: [fr, en, base],
  es: [es, en, base],
  it: [it, en, base],
  nl: [nl, en, base],
};
const fakers = Object.fromEntries(
  Object.entries(LOCALES).map(([name, locale], i) => {
    const f = new Faker({ locale });
    f.seed(SEED + i);
    f.setDefaultRefDate('2026-01-01T00:00:00Z');  // dates must not depend on the clock
    return [name, f];
  }),
);
// One generator for the choices that are not locale data (templates, slots, flips).
const rng = new Faker({ locale: [en, base] });
rng.seed(SEED);
const pick = (xs) => xs[rng.number.int({ min: 0, max: xs.length - 1 })];
const chance = (p) => rng.number.float({ min: 0, max: 1 }) < p;
const digits = (n) => rng.string.numeric({ length: n, allowLeadingZeros: true });

// ---- checksum algorithms (from the published specifications) ----

function luhnValid(num) {
  const d = num.replace(/\D/g, '');
  let sum = 0;
  for (let i = 0; i < d.length; i++) {
    let v = d.charCodeAt(d.length - 1 - i) - 48;
    if (i % 2 === 1) v = v * 2 > 9 ? v * 2 - 9 : v * 2;
    sum += v;
  }
  return d.length > 0 && sum % 10 === 0;
}
function luhnComplete(prefix) {
  for (let c = 0; c < 10; c++) if (luhnValid(prefix + c)) return prefix + c;
  throw new Error('unreachable');
}
// ISO 13616: move the first four characters to the end, letters -> 10..35, mod 97 == 1.
function ibanValid(iban) {
  const s = iban.replace(/ /g, '').toUpperCase();
  const r = s.slice(4) + s.slice(0, 4);
  let rem = 0;
  for (const ch of r) {
    const v = /[0-9]/.test(ch) ? ch : String(ch.charCodeAt(0) - 55);
    for (const c of v) rem = (rem * 10 + (c.charCodeAt(0) - 48)) % 97;
  }
  return rem === 1;
}
function nhsValid(d) {
  if (!/^\d{10}$/.test(d)) return false;
  let sum = 0;
  for (let i = 0; i < 9; i++) sum += (d.charCodeAt(i) - 48) * (10 - i);
  const check = 11 - (sum % 11);
  const c = check === 11 ? 0 : check;
  return c !== 10 && c === d.charCodeAt(9) - 48;
}
const NIF_LETTERS = 'TRWAGMYFPDXBNJZSQVHLCKE';
const nifLetter = (n) => NIF_LETTERS[n % 23];
// Verhoeff (Aadhaar's check digit).
const V_D = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
  [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
  [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
  [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]];
const V_P = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
  [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
  [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]];
const V_INV = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];
function verhoeffValid(d) {
  let c = 0;
  for (let i = 0; i < d.length; i++) c = V_D[c][V_P[i % 8][d.charCodeAt(d.length - 1 - i) - 48]];
  return c === 0;
}
function verhoeffComplete(d) {
  let c = 0;
  for (let i = 0; i < d.length; i++) {
    c = V_D[c][V_P[(i + 1) % 8][d.charCodeAt(d.length - 1 - i) - 48]];
  }
  return d + V_INV[c];
}
const B58 = '123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz';
function b58decode(s) {
  let n = 0n;
  for (const ch of s) {
    const v = B58.indexOf(ch);
    if (v < 0) return null;
    n = n * 58n + BigInt(v);
  }
  const bytes = [];
  while (n > 0n) { bytes.unshift(Number(n % 256n)); n /= 256n; }
  for (const ch of s) { if (ch !== '1') break; bytes.unshift(0); }
  return Buffer.from(bytes);
}
function b58encode(buf) {
  let n = BigInt('0x' + (buf.toString('hex') || '0'));
  let out = '';
  while (n > 0n) { out = B58[Number(n % 58n)] + out; n /= 58n; }
  for (const b of buf) { if (b !== 0) break; out = '1' + out; }
  return out;
}
const sha256 = (b) => createHash('sha256').update(b).digest();
const sha256d = (b) => sha256(sha256(b));
function base58checkValid(s) {
  const b = b58decode(s);
  if (!b || b.length !== 25) return false;
  return sha256d(b.subarray(0, 21)).subarray(0, 4).equals(b.subarray(21));
}
// BIP 173 / BIP 350.
const B32 = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
function bech32Polymod(values) {
  const G = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = (((chk & 0x1ffffff) << 5) ^ v) >>> 0;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk = (chk ^ G[i]) >>> 0;
  }
  return chk;
}
function bech32Valid(s) {
  const pos = s.lastIndexOf('1');
  if (pos < 1 || s.length - pos < 7) return false;
  const hrp = s.slice(0, pos);
  const data = [...s.slice(pos + 1)].map((c) => B32.indexOf(c));
  if (data.some((v) => v < 0)) return false;
  const exp = [...hrp].map((c) => c.charCodeAt(0) >> 5)
    .concat([0], [...hrp].map((c) => c.charCodeAt(0) & 31));
  const p = bech32Polymod(exp.concat(data));
  return p === 1 || p === 0x2bc830a3;
}
function ukNinoValid(n) {
  const s = n.replace(/ /g, '');
  if (!/^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]$/.test(s)) return false;
  return !['BG', 'GB', 'KN', 'NK', 'NT', 'TN', 'ZZ'].includes(s.slice(0, 2));
}
// Flips one digit so that a single-substitution-detecting checksum fails.
function flipDigit(value, valid) {
  for (let tries = 0; tries < 50; tries++) {
    const idx = [...value].map((c, i) => (/\d/.test(c) ? i : -1)).filter((i) => i >= 0);
    const i = pick(idx);
    const old = value.charCodeAt(i) - 48;
    const nd = (old + rng.number.int({ min: 1, max: 9 })) % 10;
    const out = value.slice(0, i) + nd + value.slice(i + 1);
    if (!valid(out)) return out;
  }
  throw new Error(`could not invalidate ${value}`);
}
// A look-alike number must not be a valid card number by chance (1 in 10 would be).
const notLuhn = (v) => (luhnValid(v) ? flipDigit(v, luhnValid) : v);
const group = (s, n, sep = ' ') => s.match(new RegExp(`.{1,${n}}`, 'g')).join(sep);

// ---- published examples ----
// Card test numbers published by card networks and processors for sandbox use.
const TEST_CARDS = ['4111111111111111', '4012888888881881', '5555555555554444',
  '5105105105105100', '378282246310005', '371449635398431', '6011111111111117',
  '3530111333300000', '30569309025904', '4242424242424242', '2223003122003222'];
// Examples from the IBAN registry (one per country).
const REGISTRY_IBANS = ['DE89370400440532013000', 'GB29NWBK60161331926819',
  'FR1420041010050500013M02606', 'ES9121000418450200051332', 'IT60X0542811101000000123456',
  'NL91ABNA0417164300', 'BE68539007547034', 'AT611904300234573201', 'CH9300762011623852957',
  'IE29AIBK93115212345678', 'PL61109010140000071219812874', 'SE4550000000058398257466',
  'DK5000400440116243', 'NO9386011117947', 'FI2112345600000785', 'PT50000201231234567890154',
  'LU280019400644750000', 'CZ6508000000192000145399'];
const EXAMPLE_IDS = {
  uk_nino: ['AB123456C', 'JG103759A', 'CE123456D'],
  uk_nhs: ['9434765919', '4010232137'],
  de_tax_id: ['86095742719', '47036892816', '65929970489', '57549285017', '25768131411'],
  es_nif: ['12345678Z'],
  es_nie: ['X1234567L', 'Y0000000Z'],
  it_codice_fiscale: ['RSSMRA85T10A562S', 'MRTMTT25D09F205Z'],
  in_aadhaar: ['234123412346', '499118665246'],
  ca_sin: ['046454286'],
};

// ---- slot makers: each returns {value, type?, checksum?, neg?} ----
const ENTITY = (type, value, checksum = false) => ({ value, type, checksum });
const NEG = (kind, value, type = null) => ({ value, neg: kind, negType: type });

function card(f) {
  let num;
  if (chance(0.2)) num = pick(TEST_CARDS);
  else {
    const issuer = pick(['visa', 'mastercard', 'amex', 'discover']);
    num = f.finance.creditCardNumber({ issuer }).replace(/\D/g, '');
  }
  if (!luhnValid(num)) num = luhnComplete(num.slice(0, -1));
  return num;
}
function formatCard(num) {
  const style = rng.number.int({ min: 0, max: 2 });
  if (style === 0) return num;
  const sep = style === 1 ? ' ' : '-';
  if (num.length === 15) return `${num.slice(0, 4)}${sep}${num.slice(4, 10)}${sep}${num.slice(10)}`;
  return group(num, 4, sep);
}
function iban(f) {
  let v = chance(0.25) ? pick(REGISTRY_IBANS) : f.finance.iban();
  if (!ibanValid(v)) throw new Error(`faker iban not valid: ${v}`);
  return v;
}
const formatIban = (v) => (chance(0.5) ? group(v, 4) : v);

function nationalId(f) {
  const kind = pick(Object.keys(EXAMPLE_IDS));
  let v;
  if (chance(0.3)) v = pick(EXAMPLE_IDS[kind]);
  else if (kind === 'uk_nino') {
    const letters = [...'ABCEGHJKLMNPRSTWXYZ'];
    do v = pick(letters) + pick(letters) + digits(6) + pick([...'ABCD']);
    while (!ukNinoValid(v));
  } else if (kind === 'uk_nhs') {
    for (v = null; !v;) {
      const head = digits(9);
      const c = [...'0123456789'].find((x) => nhsValid(head + x));
      if (c) v = head + c;
    }
  } else if (kind === 'es_nif') {
    const n = digits(8); v = n + nifLetter(Number(n));
  } else if (kind === 'es_nie') {
    const p = pick(['X', 'Y', 'Z']); const n = digits(7);
    v = p + n + nifLetter(Number('XYZ'.indexOf(p) + n));
  } else if (kind === 'in_aadhaar') {
    v = verhoeffComplete(String(rng.number.int({ min: 2, max: 9 })) + digits(10));
    if (!verhoeffValid(v)) throw new Error(`verhoeff: ${v}`);
  } else if (kind === 'ca_sin') {
    v = luhnComplete(String(rng.number.int({ min: 1, max: 7 })) + digits(7));
  } else v = pick(EXAMPLE_IDS[kind]);  // de_tax_id, it_codice_fiscale: published examples only
  const context = {
    uk_nino: ['National Insurance number', 'NINO', 'NI number'],
    uk_nhs: ['NHS number', 'NHS no', 'NHS'],
    de_tax_id: ['Steuer-ID', 'Steueridentifikationsnummer', 'tax ID', 'IdNr'],
    es_nif: ['NIF', 'DNI'],
    es_nie: ['NIE'],
    it_codice_fiscale: ['codice fiscale', 'CF'],
    in_aadhaar: ['Aadhaar', 'Aadhaar number'],
    ca_sin: ['SIN', 'social insurance number'],
  }[kind];
  let shown = v;
  if (kind === 'uk_nhs' && chance(0.6)) shown = `${v.slice(0, 3)} ${v.slice(3, 6)} ${v.slice(6)}`;
  if (kind === 'in_aadhaar' && chance(0.6)) shown = group(v, 4);
  if (kind === 'ca_sin' && chance(0.5)) shown = group(v, 3);
  if (kind === 'uk_nino' && chance(0.4)) {
    shown = `${v.slice(0, 2)} ${v.slice(2, 4)} ${v.slice(4, 6)} ${v.slice(6, 8)} ${v[8]}`;
  }
  const validators = {
    uk_nino: null, uk_nhs: (x) => nhsValid(x.replace(/\D/g, '')),
    de_tax_id: null, es_nif: (x) => x.slice(-1) === nifLetter(Number(x.replace(/\D/g, ''))),
    es_nie: null, it_codice_fiscale: null, in_aadhaar: (x) => verhoeffValid(x.replace(/\D/g, '')),
    ca_sin: luhnValid,
  };
  return {
    kind, shown, context: pick(context), checked: kind !== 'uk_nino', invalidate: validators[kind],
  };
}
function ssn() {
  let area;
  do area = rng.number.int({ min: 1, max: 899 }); while (area === 666);
  const g = rng.number.int({ min: 1, max: 99 });
  const s = rng.number.int({ min: 1, max: 9999 });
  const pad = (x, n) => String(x).padStart(n, '0');
  return `${pad(area, 3)}-${pad(g, 2)}-${pad(s, 4)}`;
}
function base58Address() {
  const version = pick([0x00, 0x05, 0x30]);
  const hash160 = Buffer.from(rng.string.hexadecimal({ length: 40, prefix: '' }), 'hex');
  const payload = Buffer.concat([Buffer.from([version]), hash160]);
  return b58encode(Buffer.concat([payload, sha256d(payload).subarray(0, 4)]));
}
function secret() {
  const kind = pick(['aws', 'github', 'stripe', 'slack']);
  if (kind === 'aws') return 'AKIA' + rng.string.alphanumeric({ length: 16, casing: 'upper' });
  if (kind === 'github') return 'ghp_' + rng.string.alphanumeric({ length: 36 });
  if (kind === 'stripe') return 'sk_live_' + rng.string.alphanumeric({ length: 24 });
  return 'xoxb-' + digits(12) + '-' + digits(13) + '-' + rng.string.alphanumeric({ length: 24 });
}

// Slot name -> maker. A maker returns one piece or an array of pieces (context + value).
function makeSlot(name, f, locale) {
  switch (name) {
    case 'dob': return [pick(DOB_CUES[locale]), ENTITY('date_of_birth', birthDate(f))];
    case 'date': return NEG('other_date', birthDate(f), 'date_of_birth');
    case 'name': return ENTITY('person_name', f.person.fullName());
    case 'email': return ENTITY('email', f.internet.email());
    case 'phone': {
      const style = pick(['human', 'national', 'international']);
      return ENTITY('phone', f.phone.number({ style }));
    }
    case 'address': return ENTITY('street_address', f.location.streetAddress());
    case 'ip': return ENTITY('ip_address', chance(0.8) ? f.internet.ipv4() : f.internet.ipv6());
    case 'mac': return ENTITY('mac_address', f.internet.mac(pick([':', '-'])));
    case 'card': return ENTITY('payment_card', formatCard(card(f)), true);
    case 'card_bad':
      return NEG('checksum_invalid', formatCard(flipDigit(card(f), luhnValid)), 'payment_card');
    case 'iban': return ENTITY('iban', formatIban(iban(f)), true);
    case 'iban_bad': return NEG('checksum_invalid', formatIban(flipDigit(iban(f), ibanValid)), 'iban');
    case 'ssn': return ['SSN ', ENTITY('us_ssn', ssn())];
    case 'ssn_bad': {
      const area = pick(['000', '666', '912', '987']);
      const g = digits(2).replace(/^00$/, '12');
      const serial = String(rng.number.int({ min: 1, max: 9999 })).padStart(4, '0');
      return ['SSN ', NEG('invalid_area', `${area}-${g}-${serial}`, 'us_ssn')];
    }
    case 'natid': {
      const id = nationalId(f);
      return [`${id.context} `, ENTITY('national_id', id.shown, id.checked)];
    }
    case 'natid_bad': {
      let id;
      do id = nationalId(f); while (!id.invalidate);
      const bad = flipDigit(id.shown, id.invalidate);
      return [`${id.context} `, NEG('checksum_invalid', bad, 'national_id')];
    }
    case 'crypto': {
      if (chance(0.5)) return ENTITY('crypto_address', base58Address(), true);
      // faker's addresses are random characters: label them by what their checksum says.
      const a = chance(0.5) ? f.finance.bitcoinAddress() : f.finance.litecoinAddress();
      const ok = a.startsWith('bc1') || a.startsWith('ltc1') ? bech32Valid(a) : base58checkValid(a);
      return ok ? ENTITY('crypto_address', a, true) : NEG('checksum_invalid', a, 'crypto_address');
    }
    case 'secret': return ENTITY('secret', secret());
    // Look-alikes.
    case 'order': {
      const forms = [`#${digits(8)}`, `ORD-${digits(10)}`, digits(16),
        `${digits(4)}-${digits(4)}-${digits(4)}`];
      return NEG('order_number', notLuhn(pick(forms)));
    }
    case 'timestamp': {
      const forms = [f.date.anytime().toISOString(), String(f.date.anytime().getTime()),
        f.date.anytime().toUTCString()];
      return NEG('timestamp', pick(forms));
    }
    case 'uuid': return NEG('uuid', f.string.uuid());
    case 'hash': {
      const forms = [f.git.commitSha(), f.git.commitSha({ length: 7 }),
        rng.string.hexadecimal({ length: 64, prefix: '', casing: 'lower' })];
      return NEG('hash', pick(forms));
    }
    case 'version': {
      const forms = [f.system.semver(), `v${f.system.semver()}`, `${f.system.semver()}.${digits(4)}`];
      return NEG('version', pick(forms));
    }
    case 'tracking': {
      const forms = [`1Z${rng.string.alphanumeric({ length: 16, casing: 'upper' })}`,
        notLuhn(digits(12)), digits(22)];
      return NEG('tracking_number', pick(forms));
    }
    case 'amount': {
      const symbol = pick(['$', '€', '£']);
      return NEG('amount', f.finance.amount({ min: 10, max: 99999, dec: 2, symbol }));
    }
    default: throw new Error(name);
  }
}

// Templates by kind; {slot} is filled by makeSlot.
const TEMPLATES = {
  sentence: [
    'Please update the record for {name}, who moved to {address}.',
    'My card {card} was charged twice for order {order}.',
    'Transfer the refund to {iban} by Friday, thanks.',
    'You can reach {name} at {phone} or {email}.',
    'The customer says the card number {card_bad} keeps getting rejected.',
    'Wire the deposit to IBAN {iban_bad} (the client typed it from memory).',
    'Attached is the form with {natid}.',
    'The applicant listed {ssn} on the form.',
    'Our release {version} shipped on {timestamp}.',
    'Send 0.01 BTC to {crypto} to confirm the wallet.',
    'Ticket {tracking} was delivered; order {order} is closed.',
    'Summarise the changes between {version} and {version} for the changelog.',
    'Invoice total {amount}, paid with {card}.',
    'The form had {natid_bad}, which the system rejected.',
    'Her old {ssn_bad} looks wrong.',
  ],
  email: [
    'Hi {name},\n\nthanks for your order {order}. We will debit {iban} on {timestamp}.\n\nBest,\n{name}',
    'Subject: account change\n\nPlease use my new account {iban} from next month. {name}, {address}',
    'Hello,\nI was charged {amount} on card {card}. Call me on {phone}.\nRegards,\n{name}',
    'Dear team,\nthe build {version} ({hash}) is ready for review.\n{email}',
    'Hi,\nfor payroll, my {natid}. My address is {address}.\nThanks',
  ],
  log: [
    '{timestamp} INFO request_id={uuid} client={ip} status=200',
    '{timestamp} WARN payment failed card={card_bad} order={order}',
    '{timestamp} DEBUG device {mac} joined from {ip}',
    '{timestamp} ERROR commit {hash} version={version} trace={uuid}',
    '{timestamp} INFO charge ok card={card} amount={amount}',
    '{timestamp} INFO user={email} login from {ip}',
  ],
  ticket: [
    'Ticket {order}: customer {name} ({email}) reports the card {card} is blocked.',
    'Support case: shipment {tracking} to {address} never arrived. Contact {phone}.',
    'Case {uuid}: please verify {natid} before reopening the account.',
    'Case {order}: refund to {iban_bad} bounced; check with {name}.',
    'Bug: app {version} crashes on {timestamp}; build {hash}.',
  ],
  code: [
    'const config = { apiKey: "{secret}", region: "eu-west-1" };',
    'curl -H "Authorization: Bearer {secret}" https://api.example.com/v1/items/{uuid}',
    'assert checkout("{card}") == "ok"  # order {order}',
    'ALLOWED_HOSTS = ["{ip}", "localhost"]  # {version}',
    'payout = Payout(iban="{iban}", amount="{amount}")',
    'wallet = "{crypto}"  # {hash}',
    'print("version {version}", "{timestamp}")',
  ],
};

function generate(i, templates = TEMPLATES) {
  const locale = Object.keys(LOCALES)[i % Object.keys(LOCALES).length];
  const f = fakers[locale];
  const kind = pick(Object.keys(templates));
  const template = pick(templates[kind]);
  let text = '';
  const entities = [];
  const negatives = [];
  const add = (piece) => {
    if (typeof piece === 'string') { text += piece; return; }
    const start = Buffer.byteLength(text);
    text += piece.value;
    const end = Buffer.byteLength(text);
    if (piece.type) entities.push({ type: piece.type, start, end, checksum: piece.checksum });
    else negatives.push({ kind: piece.neg, type: piece.negType, start, end });
  };
  for (const part of template.split(/(\{[a-z_]+\})/)) {
    if (!part) continue;
    const m = /^\{([a-z_]+)\}$/.exec(part);
    if (!m) { text += part; continue; }
    const slot = makeSlot(m[1], f, locale);
    for (const p of Array.isArray(slot) ? slot : [slot]) add(p);
  }
  const RESTRICTED = new Set(['payment_card', 'iban', 'us_ssn', 'national_id', 'secret']);
  const restricted = entities.some((e) => RESTRICTED.has(e.type));
  return { id: i, locale, kind, text, entities, negatives, restricted };
}

// Dates of birth, in a pass of their own after the texts above (which stay byte for byte as
// they were): a birth date from faker in the locale's usual forms, after the words people
// write before one in the locale's language (some of which no detector keyword covers: they
// measure recall honestly), and dates that are not birth dates (deadlines, shipping dates)
// as look-alikes.
const MONTHS_EN = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August',
  'September', 'October', 'November', 'December'];
function birthDate(f) {
  const d = f.date.birthdate({ mode: 'age', min: 18, max: 90 });
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + 1;
  const day = d.getUTCDate();
  const p2 = (x) => String(x).padStart(2, '0');
  return pick([`${y}-${p2(m)}-${p2(day)}`, `${p2(day)}/${p2(m)}/${y}`, `${p2(m)}/${p2(day)}/${y}`,
    `${p2(day)}.${p2(m)}.${y}`, `${day} ${MONTHS_EN[m - 1]} ${y}`, `${MONTHS_EN[m - 1]} ${day}, ${y}`]);
}
const DOB_CUES = {
  en_US: ['Date of birth: ', 'DOB ', 'born on ', 'Birthday: '],
  en_GB: ['Date of birth ', 'D.O.B. ', 'born on ', 'birth date: '],
  de: ['Geburtsdatum: ', 'geboren am '],
  fr: ['Date de naissance : ', 'né le '],
  es: ['Fecha de nacimiento: ', 'nacido el '],
  it: ['Data di nascita: ', 'nato il '],
  nl: ['Geboortedatum: ', 'geboren op '],
};
const DOB_TEMPLATES = { dob: [
  'Patient {name}, {dob}, was admitted this morning.',
  'Applicant: {name}\n{dob}\nAddress: {address}',
  'Please verify the account holder ({dob}) before the refund.',
  '{name} ({dob}) asked us to update the phone number to {phone}.',
  'The renewal is due on {date} and the card expires on {date}.',
  'Shipped on {date}; expected delivery {date}.',
] };
const rows = [];
for (let i = 0; i < TEXT_COUNT; i++) rows.push(generate(i));
for (let i = TEXT_COUNT; i < TEXT_COUNT + DOB_TEXT_COUNT; i++) rows.push(generate(i, DOB_TEMPLATES));
mkdirSync(OUT_DIR, { recursive: true });
// Deterministic split: even ids fit, odd ids held out.
const line = (r) => `${JSON.stringify(r)}\n`;
const split = (parity) => rows.filter((r) => r.id % 2 === parity).map(line).join('');
writeFileSync(path.join(OUT_DIR, 'fit.jsonl'), split(0));
writeFileSync(path.join(OUT_DIR, 'held_out.jsonl'), split(1));
console.log(`wrote ${rows.length} texts to ${OUT_DIR}`);
