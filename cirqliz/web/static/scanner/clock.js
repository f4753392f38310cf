/**
 * The device clock against the server's, told by `X-Server-Time` on every bundle download.
 *
 * `lastSeen` (the latest time the device has seen) stops an offline device whose clock is turned
 * back from reviving expired passes. If the clock was once set ahead and then corrected, `lastSeen`
 * stays in the future and every scan would be CLOCK_SUSPECT until that date: the next online sync
 * brings it back to the server's time.
 */

/** The server time (epoch seconds) a bundle response announces, or null. */
export function serverTime(response) {
  const value = Number(response.headers.get('X-Server-Time'));
  return Number.isFinite(value) && value > 0 ? value : null;
}

/** `lastSeen` after a sync: the server's time when `lastSeen` is ahead of it by more than `skew`. */
export function settleLastSeen(lastSeen, serverNow, skew) {
  if (serverNow === null || serverNow === undefined) return lastSeen;
  return lastSeen > serverNow + skew ? serverNow : lastSeen;
}

/** Seconds the device clock is ahead of the server's (negative: behind); null without a server time. */
export function clockOffset(deviceNow, serverNow) {
  if (serverNow === null || serverNow === undefined) return null;
  return deviceNow - serverNow;
}

/**
 * The offset to warn about on a verdict, or null: beyond `threshold` seconds either way.
 * @returns {{ahead: boolean, seconds: number}|null}
 */
export function clockWarning(offset, threshold) {
  if (offset === null || offset === undefined || !Number.isFinite(offset)) return null;
  return Math.abs(offset) > threshold ? { ahead: offset > 0, seconds: Math.abs(offset) } : null;
}

/** The offset sent with a check: a whole number within ±`limit` seconds (the server refuses others), or null. */
export function offsetForUpload(offset, limit) {
  if (offset === null || offset === undefined || !Number.isFinite(offset)) return null;
  return Math.max(-limit, Math.min(limit, Math.round(offset)));
}
