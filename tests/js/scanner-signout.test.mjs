// Sign-out on a shared phone (cirqliz/web/static/scanner/signout.js): unsent checks are sent first,
// the agent is asked before unsent ones are erased, and the device is forgotten whatever fails.
// The browser side (caches, service worker, IndexedDB) is in tests/e2e/test_scanner_signout_e2e.py.

import { test } from 'node:test';
import assert from 'node:assert/strict';

import { beforeSignOut } from '../../cirqliz/web/static/scanner/signout.js';
import { unsentChecksMessage } from '../../cirqliz/web/static/scanner/messages.js';

/** Fake steps: `pending` checks, an upload that sends them (or fails), and what happened. */
function steps({ pending = 0, uploadSends = true, answer = true, forgetFails = false } = {}) {
  const seen = { uploads: 0, questions: [], forgotten: 0 };
  let unsent = pending;
  return {
    seen,
    pendingCount: async () => unsent,
    upload: async () => {
      seen.uploads += 1;
      if (!uploadSends) throw new TypeError('Failed to fetch');
      unsent = 0;
    },
    confirm: (question) => {
      seen.questions.push(question);
      return answer;
    },
    forget: async () => {
      seen.forgotten += 1;
      if (forgetFails) throw new Error('QuotaExceededError');
    },
  };
}

test('nothing unsent: no upload, no question, the device is forgotten', async () => {
  const s = steps();
  assert.equal(await beforeSignOut(s), true);
  assert.deepEqual(s.seen, { uploads: 0, questions: [], forgotten: 1 });
});

test('unsent checks that can be sent are sent, then the device is forgotten without a question', async () => {
  const s = steps({ pending: 3 });
  assert.equal(await beforeSignOut(s), true);
  assert.deepEqual(s.seen, { uploads: 1, questions: [], forgotten: 1 });
});

test('offline: the agent is asked in French; yes signs out and erases them', async () => {
  const s = steps({ pending: 3, uploadSends: false });
  assert.equal(await beforeSignOut(s), true);
  assert.deepEqual(s.seen.questions,
    ['3 contrôles ne sont pas encore envoyés. Se déconnecter quand même les effacera de ce téléphone.']);
  assert.equal(s.seen.forgotten, 1);
});

test('offline: no keeps the checks and the session', async () => {
  const s = steps({ pending: 1, uploadSends: false, answer: false });
  assert.equal(await beforeSignOut(s), false);
  assert.deepEqual(s.seen.questions,
    ["1 contrôle n'est pas encore envoyé. Se déconnecter quand même l'effacera de ce téléphone."]);
  assert.equal(s.seen.forgotten, 0);
});

test('a device that cannot be cleaned still signs out (the session must end)', async () => {
  const s = steps({ forgetFails: true });
  assert.equal(await beforeSignOut(s), true);
  const broken = { ...steps(), pendingCount: async () => { throw new Error('IndexedDB blocked'); } };
  assert.equal(await beforeSignOut(broken), true);
});

test('the question in English when the page is', () => {
  assert.equal(unsentChecksMessage(2, 'en'),
    '2 checks have not been sent yet. Signing out anyway will erase them from this phone.');
});
