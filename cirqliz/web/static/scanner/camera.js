/**
 * Camera scanning: the environment camera through getUserMedia, frames decoded by the native
 * BarcodeDetector when the browser has one, and by zxing-wasm (the zxing-cpp engine) otherwise or
 * as a second chance (inverted codes, low contrast: tryInvert, tryHarder, two binarizers).
 * The zxing .wasm is served by this site under /vendor (never from a CDN).
 */

import { prepareZXingModule, readBarcodes } from '/vendor/zxing-wasm/dist/es/reader/index.js';

const BINARIZERS = ['LocalAverage', 'GlobalHistogram'];
let overrides = null;

/**
 * Point zxing-wasm at the local .wasm before the first decode (the same overrides object every
 * time, so the module is instantiated once); `now` fetches and compiles it at once.
 */
export function prepareDecoder(wasmUrl, { now = false } = {}) {
  if (!overrides) {
    overrides = { locateFile: (path, prefix) => (path.endsWith('.wasm') ? wasmUrl : prefix + path) };
  }
  return prepareZXingModule({ overrides, fireImmediately: now });
}

async function nativeDetector() {
  if (!('BarcodeDetector' in globalThis)) return null;
  try {
    const formats = await globalThis.BarcodeDetector.getSupportedFormats();
    return formats.includes('qr_code') ? new globalThis.BarcodeDetector({ formats: ['qr_code'] }) : null;
  } catch {
    return null;
  }
}

/**
 * Decode one image (ImageData) with zxing-wasm; the text of the first QR code, or null.
 * @param {ImageData} image
 * @param {number} [attempt] alternates the binarizer between frames
 */
export async function decodeImage(image, attempt = 0) {
  const results = await readBarcodes(image, {
    formats: ['QRCode'],
    tryHarder: true,
    tryInvert: true,
    tryRotate: true,
    tryDownscale: true,
    binarizer: BINARIZERS[attempt % BINARIZERS.length],
    maxNumberOfSymbols: 1,
  });
  const found = results.find((r) => r.isValid && r.text);
  return found ? found.text : null;
}

/** A running camera: call start(), then stop(); `onText(text, timing)` gets the first code read. */
export class CameraScanner {
  constructor(video, { wasmUrl, onText, onError }) {
    this.video = video;
    this.wasmUrl = wasmUrl;
    this.onText = onText;
    this.onError = onError;
    this.stream = null;
    this.running = false;
    this.canvas = document.createElement('canvas');
    this.detector = null;
    this.frame = 0;
    this.torch = false;
  }

  /** Open the environment camera and scan until a code is read or stop() is called. */
  async start() {
    prepareDecoder(this.wasmUrl);
    this.stream = await navigator.mediaDevices.getUserMedia({
      audio: false,
      video: { facingMode: { ideal: 'environment' }, width: { ideal: 1280 }, height: { ideal: 720 } },
    });
    this.video.srcObject = this.stream;
    await this.video.play();
    this.detector = await nativeDetector();
    this.running = true;
    this.frame = 0;
    this._next();
  }

  /** Whether the camera track can switch a torch on. */
  get torchSupported() {
    const track = this.stream?.getVideoTracks()[0];
    const caps = track?.getCapabilities ? track.getCapabilities() : {};
    return Boolean(caps.torch);
  }

  /** Toggle the torch; returns its new state. */
  async toggleTorch() {
    const track = this.stream?.getVideoTracks()[0];
    if (!track) return false;
    this.torch = !this.torch;
    await track.applyConstraints({ advanced: [{ torch: this.torch }] });
    return this.torch;
  }

  stop() {
    this.running = false;
    if (this.stream) for (const track of this.stream.getTracks()) track.stop();
    this.stream = null;
    this.video.srcObject = null;
  }

  _next() {
    if (this.running) setTimeout(() => this._tick(), this.frame ? 40 : 0);
  }

  _grab() {
    const { videoWidth: w, videoHeight: h } = this.video;
    if (!w || !h) return null;
    this.canvas.width = w;
    this.canvas.height = h;
    const ctx = this.canvas.getContext('2d', { willReadFrequently: true });
    ctx.drawImage(this.video, 0, 0, w, h);
    return ctx.getImageData(0, 0, w, h);
  }

  async _tick() {
    if (!this.running) return;
    const frameAt = performance.now();
    try {
      const image = this._grab();
      let text = null;
      if (image) {
        if (this.detector) {
          const codes = await this.detector.detect(this.canvas);
          text = codes.length ? codes[0].rawValue : null;
        }
        // zxing on every frame without a native detector, as a second chance every third frame with one
        if (!text && (!this.detector || this.frame % 3 === 2)) text = await decodeImage(image, this.frame);
      }
      this.frame += 1;
      if (text && this.running) {
        this.running = false;
        this.onText(text, { frameAt, decodedAt: performance.now(), frames: this.frame });
        return;
      }
    } catch (err) {
      this.running = false;
      this.onError?.(err);
      return;
    }
    this._next();
  }
}
