// Every `detail` the scanner's verifier gives on the golden vectors (passes and federation, bundle
// refusals included) is French, and is worded as the Python verifier words the same case: the
// Python side comes from tests/js/vector_details.py, run with the project's venv when it exists.

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import {
  BundleError, decodeSign1, openBundle, openTrustSet, verifyFederated, verifyPass,
} from '../../cirqliz/web/static/scanner/verifier.js';

const load = (name) => JSON.parse(readFileSync(new URL(`../vectors/${name}`, import.meta.url), 'utf8'));
const PASSES = load('passes.json');
const FED = load('federation.json');
const fromB64 = (s) => new Uint8Array(Buffer.from(s, 'base64'));
const rawOf = (vectors) => Object.fromEntries(Object.entries(vectors.bundles).map(([k, v]) => [k, fromB64(v)]));

async function chain(raw, names, root) {
  let bundle = null;
  for (const name of [].concat(names)) bundle = await openBundle(raw[name], [root], { current: bundle });
  return bundle;
}

/** {cases: {name: detail}, bundle_cases: {name: message|null}} of passes.json, as vector_details.py. */
async function passDetails() {
  const raw = rawOf(PASSES);
  const root = fromB64(PASSES.root_spki);
  const cases = {};
  for (const c of PASSES.cases) {
    const v = await verifyPass(c.text, await chain(raw, c.bundle, root), {
      zone: c.zone, now: c.at, plate: c.plate, lastSeen: c.last_seen, skew: PASSES.skew,
    });
    cases[c.name] = v.detail;
  }
  const bundles = {};
  for (const c of PASSES.bundle_cases) {
    try {
      await chain(raw, c.chain, root);
      bundles[c.name] = null;
    } catch (err) {
      if (!(err instanceof BundleError)) throw err;
      bundles[c.name] = err.message;
    }
  }
  return { cases, bundle_cases: bundles };
}

/** {cases: {name: detail}, bundle_cases: {name: {iss: message}}} of federation.json. */
async function federationDetails() {
  const raw = rawOf(FED);
  const root = fromB64(FED.home_root_spki);
  const byName = (names) => new Map(Object.entries(names).map(([iss, name]) => [iss, raw[name]]));
  const trustOf = async (c) => {
    const home = [].concat(c.home);
    const held = c.held ? (await openTrustSet(await chain(raw, home[0], root), byName(c.held))).trust : null;
    return openTrustSet(await chain(raw, home, root), byName(c.partners), { current: held });
  };
  const cases = {};
  for (const c of FED.cases) {
    const { trust } = await trustOf(c);
    const v = await verifyFederated(c.text, trust, {
      zone: c.zone, now: c.at, plate: c.plate, lastSeen: c.last_seen, skew: FED.skew,
    });
    cases[c.name] = v.detail;
  }
  const bundles = {};
  for (const c of FED.bundle_cases) {
    const { refusals } = await trustOf(c);
    bundles[c.name] = Object.fromEntries([...refusals].map(([iss, err]) => [iss, err.message]));
  }
  return { cases, bundle_cases: bundles };
}

const DETAILS = { passes: await passDetails(), federation: await federationDetails() };

/** Every text a person may read from the vectors: verdict details and bundle refusals. */
function texts(details) {
  const out = [];
  for (const [file, { cases, bundle_cases: bundles }] of Object.entries(details)) {
    for (const [name, detail] of Object.entries(cases)) out.push([`${file} ${name}`, detail]);
    for (const [name, refusal] of Object.entries(bundles)) {
      if (typeof refusal === 'string') out.push([`${file} bundle ${name}`, refusal]);
      else if (refusal) for (const [iss, text] of Object.entries(refusal)) out.push([`${file} bundle ${name} ${iss}`, text]);
    }
  }
  return out;
}

// English words of the old details that are not French words too ("signature", "message", "zone",
// "type", "local", "force", "restriction", "longer", "but"… are both, so they are not listed).
// Words inside quotes (a zone code, an authority as the scanner was given it) are not checked.
const ENGLISH = new Set([
  'does', 'not', 'expected', 'invalid', 'unknown', 'missing', 'must', 'is', 'was', 'are', 'the', 'of', 'in',
  'bundle', 'key', 'pass', 'issued', 'issuer', 'refused', 'expired', 'valid', 'from', 'at', 'old', 'behind',
  'clock', 'device', 'hours', 'time', 'serial', 'revoked', 'withdrawn', 'header', 'bytes', 'byte', 'character',
  'length', 'error', 'verifier', 'trusted', 'authority', 'checkpoint', 'belongs', 'no', 'yet', 'for', 'these',
  'when', 'signed', 'may', 'wrong', 'unsupported', 'unreadable', 'array', 'map', 'string', 'text', 'with',
  'and', 'says', 'tag', 'out', 'range', 'field', 'fields', 'sorted', 'without', 'repeats', 'older', 'held',
  'fetch', 'full', 'delta', 'applies', 'rollback', 'tampered', 'pinned', 'root', 'partner', 'resync', 'found',
]);

/** The first English word of `text` outside quoted values, or null. */
export function englishWord(text) {
  // A quoted value starts after a space or bracket and ends before one (an apostrophe, as in
  // "l'octet", does not open a quote).
  const unquoted = text.replace(/(^|[\s([,])('[^']*'|"[^"]*")(?=$|[\s)\],:;.])/g, '$1');
  return unquoted.split(/[^\p{L}]+/u).find((word) => ENGLISH.has(word.toLowerCase())) ?? null;
}

describe('verifier details are French', () => {
  test('the English-word check catches the old wording and lets French through', () => {
    for (const old of ['signature does not verify', 'kid 0011 is not in bundle 7', 'expired at 1777878000',
      'pass issued by FR-TEST; checkpoint zone belongs to VILLE', 'restriction not in force; local time Mon 21:00']) {
      assert.ok(englishWord(old), old);
    }
    for (const fr of ['signature invalide', "zone 'NOT IN FORCE' absente du paquet de confiance n° 7",
      'laissez-passer établi pour AB123CD', 'le message annonce ES256 mais la clé est EdDSA']) {
      assert.equal(englishWord(fr), null, fr);
    }
  });

  test('every detail and bundle refusal of the golden vectors is French', () => {
    const all = texts(DETAILS);
    assert.ok(all.length > 100, `${all.length} texts`);
    const english = all.filter(([, text]) => englishWord(text)).map(([where, text]) => `${where}: ${text}`);
    assert.deepEqual(english, []);
  });

  test('a refused verdict always says why', () => {
    for (const [file, { cases }] of Object.entries(DETAILS)) {
      const vectors = file === 'passes' ? PASSES : FED;
      for (const c of vectors.cases) {
        if (c.status !== 'VALID') assert.ok(cases[c.name], `${file} ${c.name}`);
      }
    }
  });

  test('a pass that is not even text is refused in French', async () => {
    const bundle = await openBundle(rawOf(PASSES).main, [fromB64(PASSES.root_spki)]);
    for (const text of [42, 'CQ1:' + 'A'.repeat(2001), 'CQ1:%%%', 'CQ1:']) {
      const v = await verifyPass(text, bundle, { zone: 'PARIS-CENTRE', now: 1777878000 });
      assert.equal(v.reason, 'MALFORMED');
      assert.equal(englishWord(v.detail), null, v.detail);
    }
    assert.throws(() => decodeSign1(new Uint8Array([0x83, 0x40, 0xa0, 0x40])), (err) => !englishWord(err.message));
  });
});

const PYTHON = fileURLToPath(new URL('../../.venv/bin/python', import.meta.url));

// The modules whose messages reach a verdict's detail or a bundle refusal.
const MODULES = ['base45', 'bundle', 'cbor', 'claims', 'cose', 'federation', 'keys', 'verifier', 'windows'];
// A message is the first argument of these calls; `${…}` parts are values, not words.
const CALL = /\b(?:new \w*Error|bad|refused|verdict|note|Hard)\(\s*(?:'[A-Z_]+',\s*)?(`(?:[^`\\]|\\.)*`|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")/g;

test('every message written in the verifier modules is French, the unreachable ones too', () => {
  const english = [];
  let count = 0;
  for (const name of MODULES) {
    const source = readFileSync(new URL(`../../cirqliz/web/static/scanner/${name}.js`, import.meta.url), 'utf8');
    for (const [, literal] of source.matchAll(CALL)) {
      if (/^.[a-z_]+.$/i.test(literal)) continue; // a code ('WRONG_ZONE', 'bad_cbor'), not a message
      count += 1;
      const words = literal.slice(1, -1).replace(/\$\{[^}]*\}/g, ' ');
      if (englishWord(words)) english.push(`${name}.js: ${literal}`);
    }
  }
  assert.ok(count > 120, `${count} messages`);
  assert.deepEqual(english, []);
});

describe('the JavaScript and Python verifiers word each vector alike', { skip: !existsSync(PYTHON) && 'no .venv' }, () => {
  const python = existsSync(PYTHON)
    ? JSON.parse(execFileSync(PYTHON, [fileURLToPath(new URL('vector_details.py', import.meta.url))], {
      cwd: fileURLToPath(new URL('../..', import.meta.url)), encoding: 'utf8',
    }))
    : null;
  for (const file of ['passes', 'federation']) {
    for (const part of ['cases', 'bundle_cases']) {
      test(`${file} ${part}`, () => {
        assert.deepEqual(DETAILS[file][part], python[file][part]);
      });
    }
  }
});
