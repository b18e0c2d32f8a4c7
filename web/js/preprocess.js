// A drawing -> the model's 28 x 28 input, as vaegan_core/uploads.py read_drawing makes it: the ink (brightest
// channel times alpha), then for MNIST cropped to the ink (> 0.1), fitted into 20 x 20 keeping the aspect ratio and
// placed in 28 x 28 by its centre of mass (LeCun et al.); for Fashion-MNIST the whole picture fitted into 28 x 28.
// The resize is Pillow's LANCZOS on 8-bit pixels (its fixed-point arithmetic), and Python's round (half to even),
// so the page gives the pixels the Python side gives. Tests call `preprocess` through window.explorer.preprocess.

const PRECISION_BITS = 32 - 8 - 2;  // Pillow's Resample.c, 8 bits per channel
const ONE = 2 ** PRECISION_BITS;

/** Python's round(): halves go to the even neighbour. */
export function roundHalfEven(value) {
  const floor = Math.floor(value), rest = value - floor;
  if (rest !== 0.5) return Math.round(value);
  return floor % 2 === 0 ? floor : floor + 1;
}

const sinc = (x) => (x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x));
const lanczos = (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0);

/** Pillow's precompute_coeffs for LANCZOS, normalised to fixed point: [{min, weights}] per output pixel. */
function coefficients(inSize, outSize) {
  const scale = inSize / outSize, filterScale = Math.max(scale, 1), support = 3 * filterScale;
  const found = [];
  for (let out = 0; out < outSize; out++) {
    const centre = (out + 0.5) * scale;
    const min = Math.max(0, Math.trunc(centre - support + 0.5));
    const max = Math.min(inSize, Math.trunc(centre + support + 0.5)) - min;
    const raw = [];
    let total = 0;
    for (let x = 0; x < max; x++) {
      const w = lanczos((x + min - centre + 0.5) / filterScale);
      raw.push(w);
      total += w;
    }
    const weights = raw.map((w) => {
      const k = total !== 0 ? w / total : w;
      return k < 0 ? Math.trunc(-0.5 + k * ONE) : Math.trunc(0.5 + k * ONE);
    });
    found.push({ min, weights });
  }
  return found;
}

/** One pass of Pillow's 8-bit resample along rows (horizontal) or columns: uint8 in, uint8 out. */
function pass(pixels, width, height, outSize, horizontal) {
  const coeffs = coefficients(horizontal ? width : height, outSize);
  const outW = horizontal ? outSize : width, outH = horizontal ? height : outSize;
  const out = new Uint8Array(outW * outH);
  for (let y = 0; y < outH; y++) {
    for (let x = 0; x < outW; x++) {
      const { min, weights } = coeffs[horizontal ? x : y];
      let sum = ONE / 2;
      for (let i = 0; i < weights.length; i++) {
        sum += weights[i] * (horizontal ? pixels[y * width + min + i] : pixels[(min + i) * width + x]);
      }
      out[y * outW + x] = Math.min(255, Math.max(0, Math.floor(sum / ONE)));
    }
  }
  return out;
}

/** uploads._resize: float [0, 1] -> 8 bits -> Pillow LANCZOS to outW x outH -> float [0, 1]. */
function resize(values, width, height, outW, outH) {
  outW = Math.max(1, outW);
  outH = Math.max(1, outH);
  let bytes = Uint8Array.from(values, (v) => roundHalfEven(v * 255));
  if (outW !== width) bytes = pass(bytes, width, height, outW, true);
  if (outH !== height) bytes = pass(bytes, outW, height, outH, false);
  return Float32Array.from(bytes, (b) => b / 255);
}

/** numpy's pairwise sum (blocks of 8 partial sums up to 128 values, halves above), rounding every step with
 * `round` (Math.fround: float32 arithmetic, as small.sum() of a float32 array): the same total to the last bit. */
function pairwise(values, round, start = 0, n = values.length) {
  if (n < 8) {
    let sum = 0;
    for (let i = start; i < start + n; i++) sum = round(sum + values[i]);
    return sum;
  }
  if (n <= 128) {
    const r = Array.from({ length: 8 }, (_, j) => values[start + j]);
    let i = 8;
    for (; i < n - (n % 8); i += 8) for (let j = 0; j < 8; j++) r[j] = round(r[j] + values[start + i + j]);
    let sum = round(round(round(r[0] + r[1]) + round(r[2] + r[3])) + round(round(r[4] + r[5]) + round(r[6] + r[7])));
    for (; i < n; i++) sum = round(sum + values[start + i]);
    return sum;
  }
  let half = Math.floor(n / 2);
  half -= half % 8;
  return round(pairwise(values, round, start, half) + pairwise(values, round, start + half, n - half));
}

function place(small, w, h, top, left) {
  const canvas = new Float32Array(28 * 28);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) canvas[(top + y) * 28 + left + x] = small[y * w + x];
  return canvas;
}

function fitWhole(ink, width, height) {
  const scale = 28 / Math.max(width, height);
  const w = Math.max(1, roundHalfEven(width * scale)), h = Math.max(1, roundHalfEven(height * scale));
  return place(resize(ink, width, height, w, h), w, h, Math.floor((28 - h) / 2), Math.floor((28 - w) / 2));
}

function fitMnist(ink, width, height) {
  let top = height, bottom = -1, left = width, right = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x] > 0.1) {
        top = Math.min(top, y); bottom = Math.max(bottom, y); left = Math.min(left, x); right = Math.max(right, x);
      }
    }
  }
  if (bottom < 0) return fitWhole(ink, width, height);
  const cw = right - left + 1, ch = bottom - top + 1;
  const crop = new Float32Array(cw * ch);
  for (let y = 0; y < ch; y++) crop.set(ink.subarray((top + y) * width + left, (top + y) * width + left + cw), y * cw);
  const scale = 20 / Math.max(cw, ch);
  const w = Math.max(1, roundHalfEven(cw * scale)), h = Math.max(1, roundHalfEven(ch * scale));
  const small = resize(crop, cw, ch, w, h);
  // uploads._fit_mnist's centre of mass: total in float32, the weighted sums in float64, as numpy sums them
  const same = (value) => value;
  const total = pairwise(small, Math.fround);
  const sy = pairwise(Float64Array.from(small, (v, i) => Math.floor(i / w) * v), same);
  const sx = pairwise(Float64Array.from(small, (v, i) => (i % w) * v), same);
  const cy = total > 0 ? sy / total : h / 2, cx = total > 0 ? sx / total : w / 2;
  const clip = (v, high) => Math.min(Math.max(v, 0), high);
  return place(small, w, h, clip(roundHalfEven(14 - cy), 28 - h), clip(roundHalfEven(14 - cx), 28 - w));
}

/** The ink of RGBA bytes (width x height x 4, as getImageData gives): max(R, G, B) / 255 * A / 255. */
export function inkOf(rgba, width, height) {
  const ink = new Float32Array(width * height);
  for (let i = 0; i < width * height; i++) {
    const r = rgba[4 * i], g = rgba[4 * i + 1], b = rgba[4 * i + 2], a = rgba[4 * i + 3];
    ink[i] = (Math.max(r, g, b) / 255) * (a / 255);
  }
  return ink;
}

/** ink (float [0, 1], height x width, any array) -> Float32Array 28 x 28 in [0, 1], or null for an empty drawing
 * (no ink above 0.1). style: "mnist" or "fashion", as read_drawing's. */
export function preprocess(ink, width, height, style = "mnist") {
  const values = Float32Array.from(ink, (v) => Math.min(1, Math.max(0, v)));
  if (!values.some((v) => v >= 0.1)) return null;
  return style === "mnist" ? fitMnist(values, width, height) : fitWhole(values, width, height);
}
