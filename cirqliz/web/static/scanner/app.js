/**
 * The scanner PWA (page /scan): zone choice, camera, typed serial or pasted pass text, offline verdict, check
 * records uploaded when online, trust bundle sync. Works with no network once the page, its
 * modules, the zxing .wasm (service worker cache), the root key and a bundle (IndexedDB) are held.
 */

import { message, parsePassText, verifyFederated } from './verifier.js';
import { TrustStore, uploadChecks } from './sync.js';
import { getValue, pendingChecks, setValue, addCheck } from './store.js';
import { CameraScanner, prepareDecoder } from './camera.js';
import { clockOffset, clockWarning, offsetForUpload, settleLastSeen } from './clock.js';
import { firstReadable, readEntry } from './entry.js';
import { placesAt } from './geo.js';
import { onSignOutPending, signOutWaiting } from './signout.js';
import {
  authoritiesOf, authorityStatus, fill, formatAge, formatDateTime, formatDuration, formatPeriod, formatRestriction, formatWindow,
  groupSerial, hexBytes, readablePlate, refusalReason, resolveZone, signal, unlockAudio, zoneGroups,
} from './view.js';

const $ = (selector) => document.querySelector(selector);
const config = JSON.parse($('#scanner-config').textContent);
const L = JSON.parse($('#scanner-labels').textContent);
const ZONE_KEY = 'cirqliz.scanner.zone';
const DEVICE_KEY = 'cirqliz.scanner.device';
const SKEW = 300;
const CLOCK_WARNING = config.clockWarning ?? 600; // seconds of difference with the server before the agent is told
const CLOCK_OFFSET_LIMIT = config.clockOffsetLimit ?? 2_000_000_000;
const trust = new TrustStore(config);
let lastSeen = 0;
// Seconds this phone's clock was ahead of the server's at the last online sync (kept across reloads).
let offset = null;
let scanner = null;
let busy = false;
let ageTimer = null;

const nowEpoch = () => Math.floor(Date.now() / 1000);

function deviceId() {
  let id = localStorage.getItem(DEVICE_KEY);
  if (!id) {
    id = crypto.randomUUID();
    localStorage.setItem(DEVICE_KEY, id);
  }
  return id;
}

function show(screen) {
  for (const id of ['home', 'scan', 'verdict']) $(`#${id}`).hidden = id !== screen;
  document.body.dataset.screen = screen;
  window.scrollTo(0, 0);
}

function say(text, tone = 'info') {
  const el = $('#message');
  el.textContent = text;
  el.dataset.tone = tone;
}

// ---- bundle age, zones, pending checks --------------------------------------------------------

function renderBundleAge() {
  const el = $('#bundle-age');
  const bundle = trust.bundle;
  if (!bundle) {
    el.textContent = L.noBundle;
    el.dataset.state = 'none';
    document.body.dataset.bundleSeq = '0';
    document.body.dataset.partnerSeqs = '';
    return;
  }
  const now = nowEpoch();
  const { issuedAt, maxAge, seq } = bundle.content;
  const issued = Number(issuedAt);
  const stale = now > issued + Number(maxAge);
  const suspect = now + SKEW < Math.max(issued, lastSeen);
  const authorities = authoritiesOf(trust.trust, config.authorityName);
  if (authorities.length > 1) {
    // With partners, one part per authority: 'Ville de Lyon : n° 12, il y a 3 min · Métropole : n° 4, il y a 1 h'.
    const parts = [];
    for (const authority of authorities) {
      const status = authorityStatus(authority, now, L);
      const part = document.createElement('span');
      part.textContent = status.text;
      part.dataset.iss = authority.iss;
      part.dataset.state = status.stale ? 'stale' : 'ok';
      if (parts.length) parts.push(' · ');
      parts.push(part);
    }
    if (suspect) parts.push(` · ${L.clockSuspect}`);
    el.replaceChildren(...parts);
  } else {
    const parts = [fill(L.bundleOf, { seq, date: formatDateTime(issued, 'Europe/Paris', L.lang) }),
      stale ? L.stale : formatAge(now - issued, L)];
    if (suspect) parts.push(L.clockSuspect);
    el.textContent = parts.join(' · ');
  }
  el.dataset.state = stale || suspect ? 'stale' : 'ok';
  document.body.dataset.bundleSeq = String(seq);
  document.body.dataset.partnerSeqs = authorities.slice(1).map((a) => `${a.iss}:${a.bundle.seq}`).join(',');
}

/** Refused partner bundles, each on its own line: 'Paquet de Métropole refusé : signature invalide ; l'ancien est conservé'. */
function renderRefusals() {
  const el = $('#partner-refusals');
  const names = new Map(trust.listedPartners().map((p) => [p.iss, p.name]));
  const lines = [];
  for (const [iss, err] of trust.refusals) {
    const held = trust.trust?.partners.has(iss);
    const li = document.createElement('li');
    li.dataset.iss = iss;
    li.dataset.code = err.code ?? '';
    li.textContent = fill(held ? L.partnerRefused : L.partnerRefusedNone,
      { name: trust.trust?.nameOf?.(iss) ?? names.get(iss) ?? iss, reason: refusalReason(err.code, L) });
    lines.push(li);
  }
  el.replaceChildren(...lines);
  el.hidden = !lines.length;
  document.body.dataset.partnerRefusals = [...trust.refusals.keys()].join(',');
}

function renderZones() {
  const select = $('#zone');
  const chosen = select.value || localStorage.getItem(ZONE_KEY) || '';
  const groups = zoneGroups(trust.trust, config.authorityName);
  select.replaceChildren(select.options[0]);
  const option = ({ ref, zone }) => {
    const restriction = formatRestriction(zone, L);
    return new Option(`${zone.code} — ${zone.name}${restriction ? ` (${restriction})` : ''}`, ref);
  };
  if (groups.length > 1) {
    // Several authorities: one group each (<optgroup label="Métropole de Lyon">), the home one first.
    for (const group of groups) {
      const optgroup = document.createElement('optgroup');
      optgroup.label = group.name;
      optgroup.dataset.iss = group.iss;
      for (const place of group.zones) optgroup.append(option(place));
      select.append(optgroup);
    }
  } else {
    for (const place of groups[0]?.zones ?? []) select.add(option(place));
  }
  if (resolveZone(trust.trust, chosen)) select.value = resolveZone(trust.trust, chosen).ref;
}

/** The chosen checkpoint: {iss, name, bundle, zone, ref} or null. */
function checkpointChosen() {
  return resolveZone(trust.trust, $('#zone').value, config.authorityName);
}

async function renderPending() {
  const n = (await pendingChecks()).length;
  $('#pending').textContent = n ? fill(L.pending, { n }) : L.allSent;
  document.body.dataset.pending = String(n);
}

function renderNet() {
  const el = $('#net');
  el.textContent = navigator.onLine ? L.online : L.offline;
  el.dataset.online = String(navigator.onLine);
}

// ---- sync ------------------------------------------------------------------------------------

async function upload() {
  try {
    await uploadChecks(config);
  } catch (err) {
    if (!(err instanceof TypeError)) say(fill(L.syncFailed, { error: err.message }), 'error');
  }
  await renderPending();
}

/** After a sync: bring back a `lastSeen` left in the future, and tell the agent when the phone's clock is off. */
async function checkClock(serverNow) {
  if (serverNow === null) return;
  const settled = settleLastSeen(lastSeen, serverNow, SKEW);
  if (settled !== lastSeen) {
    lastSeen = settled;
    await setValue('lastSeen', lastSeen);
  }
  offset = clockOffset(nowEpoch(), serverNow);
  await setValue('clockOffset', offset);
  document.body.dataset.clockOffset = String(offset);
  if (Math.abs(offset) > CLOCK_WARNING) say(fill(L.clockOff, { minutes: Math.round(Math.abs(offset) / 60) }), 'error');
}

let syncing = null;

/** Sync the bundles and upload the checks; a sync asked while one runs joins it. */
function doSync() {
  syncing = syncing ?? runSync().finally(() => {
    syncing = null;
    document.body.dataset.syncing = '0';
    document.body.dataset.syncs = String(Number(document.body.dataset.syncs ?? 0) + 1);
  });
  document.body.dataset.syncing = '1';
  return syncing;
}

async function runSync() {
  renderNet();
  if (navigator.onLine) say(L.syncing);
  const result = await trust.sync();
  document.body.dataset.syncStatus = result.status;
  document.body.dataset.syncCode = result.code ?? '';
  document.body.dataset.partnerSync = (result.partners ?? []).map((p) => `${p.iss}:${p.status}`).join(',');
  const seq = trust.bundle?.seq ?? 0;
  const texts = {
    updated: [fill(L.syncOk, { seq }), 'ok'],
    current: [fill(L.syncUpToDate, { seq }), 'ok'],
    offline: [L.syncOffline, 'info'],
    refused: [fill(L.syncRefused, { code: result.code, seq }), 'error'],
    failed: [fill(L.syncFailed, { error: result.error }), 'error'],
  };
  say(...texts[result.status]);
  await checkClock(result.serverNow ?? null);
  renderZones();
  renderBundleAge();
  renderRefusals();
  await upload();
  return result;
}

// ---- verdicts --------------------------------------------------------------------------------

/** The pass's zones by code, looked up in the bundle of the authority that issued it. */
function zoneCodes(refs, issuer) {
  const bundle = (issuer && trust.trust?.bundleOf?.(issuer)) || trust.bundle;
  return refs.map((ref) => bundle?.zone(ref)?.code ?? `#${ref}`).join(', ');
}

/** An authority's name by its code (its bundle's name, the partner entry's, or the code). */
function authorityName(iss) {
  if (!iss) return null;
  return authoritiesOf(trust.trust, config.authorityName).find((a) => a.iss === iss)?.name ?? iss;
}

function statusTitle(status) {
  return { VALID: L.valid, REFUSED: L.refused, UNCERTAIN: L.uncertain }[status];
}

/** Fill and show the full-screen verdict. `v`: {status, reason, text?, claims?, zone?, checkedAt}. */
function showVerdict(v, { serial = null, plate = null, zones = null, hours = null, validity = null, timing = {} } = {}) {
  const screen = $('#verdict');
  screen.dataset.status = v.status;
  screen.dataset.reason = v.reason;
  for (const [key, value] of Object.entries(timing)) screen.dataset[key] = String(Math.round(value * 100) / 100);
  $('#v-status').textContent = statusTitle(v.status);
  $('#v-reason').textContent = v.text ?? message(v.reason, L.lang);
  // The verdict is the phone's: with its clock off, validity and hours were judged at the wrong time.
  const warning = clockWarning(offset, CLOCK_WARNING);
  $('#v-clock').hidden = warning === null;
  $('#v-clock').textContent = warning
    ? fill(warning.ahead ? L.clockAhead : L.clockBehind, { duration: formatDuration(warning.seconds, L) }) : '';
  screen.dataset.clockWarning = warning ? String(offset) : '';
  const claims = v.claims;
  $('#v-plate').textContent = readablePlate(plate ?? claims?.plate ?? '—');
  $('#v-zones').textContent = zones ?? (claims ? zoneCodes(claims.zones, v.issuer) : '—');
  const issuer = v.issuerName ?? authorityName(v.issuer);
  $('#v-issuer').textContent = issuer ? (issuer === v.issuer ? issuer : `${issuer} (${v.issuer})`) : '—';
  screen.dataset.issuer = v.issuer ?? '';
  const chosen = checkpointChosen();
  const checkpoint = chosen?.zone ?? null;
  screen.dataset.zoneAuthority = chosen?.iss ?? '';
  let hoursText = hours;
  // Outside the restriction the hours that matter are the restriction's own.
  if (hoursText === null && v.reason === 'NOT_RESTRICTED') hoursText = formatRestriction(checkpoint, L);
  if (hoursText === null && claims?.windows?.length) hoursText = claims.windows.map((w) => formatWindow(w, L)).join(' ; ');
  if (hoursText === null && checkpoint?.windows.length) hoursText = checkpoint.windows.map((w) => formatWindow(w, L)).join(' ; ');
  $('#v-hours').textContent = hoursText ?? L.allDay;
  const tz = checkpoint?.tz ?? 'Europe/Paris';
  $('#v-validity').textContent = validity
    ?? (claims ? formatPeriod(claims.nbf, claims.exp, tz, L.lang) : '—');
  $('#v-serial').textContent = groupSerial(serial ?? claims?.serial ?? '') || '—';
  const where = chosen ? fill(L.zoneOf, { zone: chosen.zone.code, authority: chosen.name }) : $('#zone').value;
  $('#v-checkpoint').textContent = `${where} · ${formatDateTime(v.checkedAt ?? nowEpoch(), tz, L.lang)}`;
  show('verdict');
  document.body.dataset.verdicts = String(Number(document.body.dataset.verdicts ?? 0) + 1);
  signal(v.status);
  $('#next').focus();
}

async function record(v, serial, issuer = v.issuer ?? null) {
  const deviceNow = nowEpoch();
  if (deviceNow > lastSeen) {
    lastSeen = deviceNow;
    await setValue('lastSeen', lastSeen);
  }
  await addCheck({
    id: crypto.randomUUID(),
    checked_at: Number(v.checkedAt ?? deviceNow),
    verdict: v.status,
    reason: v.reason,
    serial,
    zone: $('#zone').value || null,
    issuer,
    plate_seen: null,
    device_id: deviceId(),
    clock_offset_s: offsetForUpload(offset, CLOCK_OFFSET_LIMIT),
  });
  await renderPending();
  upload(); // in the background: nothing waits for the network
}

/** Verify a pass text offline, show the verdict and record the check: a scanned code or a pasted text alike. */
async function verifyText(text, source, timing = null) {
  const started = performance.now();
  const v = await verifyFederated(text, trust.trust, { zone: $('#zone').value, now: nowEpoch(), lastSeen: lastSeen || null });
  const verified = performance.now();
  const measured = { verifyMs: verified - started };
  if (timing) {
    Object.assign(measured, {
      decodeMs: timing.decodedAt - timing.frameAt,
      frameToVerdictMs: performance.now() - timing.frameAt,
      frames: timing.frames,
    });
  }
  $('#verdict').dataset.source = source;
  showVerdict(v, { timing: measured });
  await record(v, v.claims?.serial ?? null);
  renderBundleAge();
}

async function onScanned(text, timing) {
  stopCamera();
  await verifyText(text, 'camera', timing);
}

// ---- camera ----------------------------------------------------------------------------------

function ready() {
  if (!trust.bundle || !trust.trust) {
    say(L.noBundle, 'error');
    return false;
  }
  if (!$('#zone').value) {
    say(L.noZone, 'error');
    $('#zone').focus();
    return false;
  }
  return true;
}

async function startCamera() {
  unlockAudio();
  if (!ready()) return;
  show('scan');
  $('#scan-hint').textContent = L.aim;
  scanner = new CameraScanner($('#video'), {
    wasmUrl: config.wasmUrl,
    onText: (text, timing) => onScanned(text, timing),
    onError: (err) => {
      stopCamera();
      show('home');
      say(fill(L.cameraFailed, { error: err.message ?? err }), 'error');
    },
  });
  try {
    await scanner.start();
    $('#torch').hidden = !scanner.torchSupported;
  } catch (err) {
    stopCamera();
    show('home');
    say(fill(L.cameraFailed, { error: err.message ?? err.name }), 'error');
    $('#serial').focus();
  }
}

function stopCamera() {
  if (scanner) scanner.stop();
  scanner = null;
}

// ---- typed serial or pasted pass text ----------------------------------------------------------

function serialVerdict(status, reason, text, t) {
  return { status, reason, text, claims: null, checkedAt: t };
}

async function lookupOnline(serial, t) {
  const response = await fetch(`${config.serialUrl}${serial}`, { credentials: 'same-origin', headers: { Accept: 'application/json' } });
  if (response.status === 404) return { v: serialVerdict('REFUSED', 'UNKNOWN_SERIAL', L.serialUnknown, t) };
  if (!response.ok) return null;
  const data = await response.json();
  const extra = {
    plate: data.plate,
    zones: data.zones.join(', '),
    validity: formatPeriod(data.not_before, data.expires_at, 'Europe/Paris', L.lang),
    hours: data.windows?.length ? data.windows.map((w) => formatWindow(w, L)).join(' ; ') : null,
  };
  const chosen = checkpointChosen();
  const checkpoint = chosen?.zone ?? null;
  // A typed serial is one of the home authority's passes: it never covers a partner's zone.
  const foreign = chosen !== null && chosen.iss !== trust.bundle.iss;
  let v;
  // The status word in the page's language (the API answers the code: 'revoked', 'expired'…).
  const status = (code) => fill(L.serialStatus, { status: L.statusWords?.[code] ?? code });
  if (data.status === 'revoked' || data.status === 'suspended') v = serialVerdict('REFUSED', 'REVOKED', status(data.status), t);
  else if (data.status !== 'active' || t >= data.expires_at + SKEW) v = serialVerdict('REFUSED', 'EXPIRED', status(data.status === 'active' ? 'expired' : data.status), t);
  else if (t < data.not_before - SKEW) v = serialVerdict('REFUSED', 'NOT_YET_VALID', message('NOT_YET_VALID', L.lang), t);
  else if (foreign || (checkpoint && !data.zone_refs.includes(checkpoint.ref))) v = serialVerdict('REFUSED', 'WRONG_ZONE', message('WRONG_ZONE', L.lang), t);
  else v = serialVerdict('VALID', 'SERIAL_ONLINE', L.serialOnline, t);
  return { v, extra };
}

async function checkEntry(event) {
  event.preventDefault();
  unlockAudio();
  const entry = readEntry($('#serial').value);
  if (entry.kind === 'pass') return checkPastedPass(entry.texts);
  if (entry.kind !== 'serial') {
    say(L.serialBad, 'error');
    $('#serial').focus();
    return;
  }
  const { serial } = entry;
  if (!ready() || busy) return;
  $('#verdict').dataset.source = 'serial';
  busy = true;
  try {
    const t = Math.max(nowEpoch(), Number(trust.bundle.content.issuedAt), lastSeen);
    const revoked = await trust.bundle.isRevoked(trust.bundle.iss, hexBytes(serial));
    let result = null;
    if (revoked) result = { v: serialVerdict('REFUSED', 'REVOKED', L.serialRevoked, t) };
    else if (navigator.onLine) {
      try {
        result = await lookupOnline(serial, t);
      } catch (err) {
        if (!(err instanceof TypeError)) throw err; // no network after all: offline answer below
      }
    }
    result = result ?? { v: serialVerdict('UNCERTAIN', 'SERIAL_NOT_REVOKED', L.serialOfflineOk, t) };
    // Known to the home authority's server, or on its revocation list: a home pass.
    const issuer = result.extra || result.v.reason === 'REVOKED' ? trust.bundle.iss : null;
    showVerdict({ ...result.v, issuer }, { serial, ...(result.extra ?? {}) });
    $('#serial').value = '';
    await record(result.v, serial, issuer);
  } finally {
    busy = false;
  }
}

/** A pasted pass: verified offline exactly like a scanned code; a text cut or altered is not a verdict. */
async function checkPastedPass(texts) {
  if (!ready() || busy) return;
  const text = firstReadable(texts, parsePassText);
  if (text === null) {
    say(L.pasteUnreadable, 'error');
    $('#serial').focus();
    return;
  }
  busy = true;
  try {
    await verifyText(text, 'paste');
    $('#serial').value = '';
  } finally {
    busy = false;
  }
}

// ---- location --------------------------------------------------------------------------------

function locate() {
  const out = $('#located');
  if (!trust.trust) return say(L.noBundle, 'error');
  if (!navigator.geolocation) return (out.textContent = fill(L.locateFailed, { error: '—' }));
  out.textContent = L.locating;
  navigator.geolocation.getCurrentPosition((position) => {
    // Every authority's zones at once: the smallest zone containing the position wins, whoever's it is.
    const places = zoneGroups(trust.trust, config.authorityName).flatMap((g) => g.zones.map((p) => ({ ...p, name: g.name })));
    const hits = placesAt(position.coords.longitude, position.coords.latitude, places);
    if (!hits.length) {
      out.textContent = L.locatedNone;
      return;
    }
    $('#zone').value = hits[0].ref;
    localStorage.setItem(ZONE_KEY, hits[0].ref);
    const several = places.some((p) => p.name !== places[0].name);
    out.textContent = fill(L.locatedIn, {
      zones: hits.map((p) => (several ? fill(L.zoneOf, { zone: p.zone.code, authority: p.name }) : p.zone.code)).join(', '),
    });
  }, (err) => {
    out.textContent = fill(L.locateFailed, { error: err.message });
  }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
}

// ---- start -----------------------------------------------------------------------------------

async function init() {
  onSignOutPending(stop);
  show('home');
  renderNet();
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register(config.swUrl, { scope: '/scan' }).catch((err) => {
      say(`Service worker : ${err.message}`, 'error');
    });
  }
  lastSeen = Number((await getValue('lastSeen')) ?? 0);
  offset = (await getValue('clockOffset')) ?? null;
  try {
    await trust.load();
  } catch (err) {
    say(fill(L.syncFailed, { error: err.message }), 'error');
  }
  renderZones();
  renderBundleAge();
  renderRefusals();
  await renderPending();

  $('#zone').addEventListener('change', () => localStorage.setItem(ZONE_KEY, $('#zone').value));
  $('#start').addEventListener('click', startCamera);
  $('#cancel').addEventListener('click', () => {
    stopCamera();
    show('home');
  });
  $('#torch').addEventListener('click', async () => {
    const on = await scanner?.toggleTorch();
    $('#torch').setAttribute('aria-pressed', String(Boolean(on)));
  });
  $('#next').addEventListener('click', startCamera);
  $('#back').addEventListener('click', () => show('home'));
  $('#serial-form').addEventListener('submit', checkEntry);
  $('#serial').addEventListener('keydown', (event) => {
    // A text area, for pasted texts that span lines; Enter still checks, as in the one-line field it replaced.
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $('#serial-form').requestSubmit();
    }
  });
  $('#locate').addEventListener('click', locate);
  $('#sync').addEventListener('click', doSync);
  window.addEventListener('online', doSync);
  window.addEventListener('offline', renderNet);
  ageTimer = setInterval(renderBundleAge, 30000);

  await doSync();
  document.body.dataset.ready = '1';
  try {
    await prepareDecoder(config.wasmUrl, { now: true }); // compile the decoder before the first scan
  } catch {
    // offline with nothing cached yet: the first scan will say so
  }
}

/** Signed out here with no network (signout.js): nothing more is synced, shown or scanned. */
function stop() {
  stopCamera();
  clearInterval(ageTimer);
  window.removeEventListener('online', doSync);
  window.removeEventListener('offline', renderNet);
}

// A sign-out waiting on this phone: no scanner, not even its service worker (it would cache this page again).
if (!signOutWaiting()) init();
