// Replays a key lifecycle drill recorded by tests/drill/test_key_lifecycle.py through the scanner's
// JavaScript verifier (the twin of cirqliz/verify): one device that syncs bundles and scans passes.
// Usage: node tests/drill/twin.mjs DRILL.json  -> prints one JSON result per step on stdout.
//
// DRILL.json: {"root": base64 SPKI, "bundles": {name: base64}, "steps": [
//   {"op": "sync", "bundle": name} | {"op": "check", "text": "CQ1:…", "zone": code, "at": epoch}
//   | {"op": "new_device"}]}   (new_device: another agent, with no bundle and no time seen)

import { readFileSync } from 'node:fs';

import { BundleError, openBundle, verifyPass } from '../../cirqliz/web/static/scanner/verifier.js';

const drill = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const bytes = (b64) => new Uint8Array(Buffer.from(b64, 'base64'));
const roots = [bytes(drill.root)];
let held = null;
let lastSeen = 0;
const results = [];
for (const step of drill.steps) {
  if (step.op === 'new_device') {
    held = null;
    lastSeen = 0;
  } else if (step.op === 'sync') {
    try {
      held = await openBundle(bytes(drill.bundles[step.bundle]), roots, { current: held });
      results.push({ op: 'sync', ok: true, seq: Number(held.seq) });
    } catch (err) {
      if (!(err instanceof BundleError)) throw err;
      results.push({ op: 'sync', ok: false, code: err.code, seq: Number(held?.seq ?? 0) });
    }
  } else {
    const v = await verifyPass(step.text, held, { zone: step.zone, now: step.at, lastSeen: lastSeen || null });
    if (v.checkedAt > lastSeen) lastSeen = Number(v.checkedAt);
    results.push({ op: 'check', status: v.status, reason: v.reason });
  }
}
process.stdout.write(JSON.stringify(results));
