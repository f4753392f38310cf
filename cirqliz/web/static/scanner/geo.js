/**
 * "Me localiser": which zones of the bundle contain a position. Bundle geometries are arrays of
 * polygons, each an array of rings (first the outline, then holes), each a flat integer array
 * lon, lat, lon, lat… in 1e-6 degrees (docs/pass-format.md §3).
 */

const SCALE = 1e6;

/** Even-odd ray casting of point (x, y) against one flat ring. */
export function inRing(x, y, ring) {
  let inside = false;
  const n = ring.length / 2;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const xi = Number(ring[2 * i]);
    const yi = Number(ring[2 * i + 1]);
    const xj = Number(ring[2 * j]);
    const yj = Number(ring[2 * j + 1]);
    if ((yi > y) !== (yj > y) && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Whether a polygon (outline and holes) contains the point. */
export function inPolygon(x, y, rings) {
  if (!rings.length || !inRing(x, y, rings[0])) return false;
  return !rings.slice(1).some((hole) => inRing(x, y, hole));
}

/** Area of a flat ring (shoelace), in squared 1e-6 degrees (to prefer the smallest zone). */
export function ringArea(ring) {
  let sum = 0;
  const n = ring.length / 2;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    sum += Number(ring[2 * j]) * Number(ring[2 * i + 1]) - Number(ring[2 * i]) * Number(ring[2 * j + 1]);
  }
  return Math.abs(sum) / 2;
}

/**
 * The zones containing (lon, lat) in degrees, the smallest first (the most specific checkpoint).
 * @param {number} lon
 * @param {number} lat
 * @param {Array<{code: string, geometry: Array|null}>} zones
 */
export function zonesAt(lon, lat, zones) {
  const x = Math.round(lon * SCALE);
  const y = Math.round(lat * SCALE);
  const hits = [];
  for (const zone of zones) {
    if (!zone.geometry) continue;
    const polygons = zone.geometry.filter((rings) => inPolygon(x, y, rings));
    if (polygons.length) hits.push({ zone, area: Math.min(...polygons.map((rings) => ringArea(rings[0]))) });
  }
  return hits.sort((a, b) => a.area - b.area).map((h) => h.zone);
}

/**
 * The checkpoints containing (lon, lat) across several authorities, the smallest zone first,
 * whichever authority it belongs to. `places`: [{ref, zone, ...}] (e.g. zoneGroups() flattened);
 * returns the matching places.
 */
export function placesAt(lon, lat, places) {
  const byZone = new Map(places.map((place) => [place.zone, place]));
  return zonesAt(lon, lat, places.map((place) => place.zone)).map((zone) => byZone.get(zone));
}
