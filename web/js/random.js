// Seeded random codes, the GMM prior and latent paths: the explorer's math, no DOM.
// The generator is this file's own (mulberry32 + Box-Muller): a seed gives the same codes in every browser, not the
// codes torch gives for that seed (the Python side never needs to match it; tests feed fixed codes instead).

/** A uniform generator in [0, 1) from a 32-bit seed (mulberry32, Tommy Ettinger's public-domain generator). */
export function uniforms(seed) {
  let state = (seed ^ 0x9e3779b9) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** n x d standard normal values (Float32Array, row-major) and, drawn afterwards from the same stream, n uniforms
 * (for the GMM's component choice, as vaegan_core.prior draws eps first, then the components). */
export function seededNoise(seed, n, d) {
  const next = uniforms(seed);
  const eps = new Float32Array(n * d);
  for (let i = 0; i < eps.length; i += 2) {  // Box-Muller: two normals from two uniforms
    const u1 = 1 - next(), u2 = next();  // u1 in (0, 1]: log(u1) is finite
    const radius = Math.sqrt(-2 * Math.log(u1));
    eps[i] = radius * Math.cos(2 * Math.PI * u2);
    if (i + 1 < eps.length) eps[i + 1] = radius * Math.sin(2 * Math.PI * u2);
  }
  const picks = new Float64Array(n);
  for (let i = 0; i < n; i++) picks[i] = next();
  return { eps, picks };
}

/** Codes of the prior N(0, T^2 I): z = T eps. */
export function normalCodes(noise, temperature) {
  return noise.eps.map((value) => value * temperature);
}

/** Codes of a Gaussian mixture {weights K, means K x d, cholesky K x d x d}: z = mean_k + T L_k eps, with k the
 * component whose cumulative weight first exceeds the row's uniform pick. */
export function gmmCodes(gmm, noise, temperature, d) {
  const { weights, means, cholesky } = gmm;
  const n = noise.picks.length;
  const codes = new Float32Array(n * d);
  const cumulative = [];
  let total = 0;
  for (const weight of weights) cumulative.push((total += weight));
  for (let row = 0; row < n; row++) {
    const target = noise.picks[row] * total;
    let k = cumulative.findIndex((value) => value > target);
    if (k < 0) k = weights.length - 1;
    for (let i = 0; i < d; i++) {
      let sum = 0;
      for (let j = 0; j <= i; j++) sum += cholesky[(k * d + i) * d + j] * noise.eps[row * d + j];
      codes[row * d + i] = means[k * d + i] + temperature * sum;
    }
  }
  return codes;
}

/** The code at t in [0, 1] on the path from z0 to z1: lerp, a straight line, or slerp, the great circle with the
 * norm interpolated linearly (White 2016), as vaegan_core.latent.interpolate. */
export function pathPoint(z0, z1, t, method) {
  const d = z0.length;
  const out = new Float32Array(d);
  const norm = (z) => Math.sqrt(z.reduce((sum, value) => sum + value * value, 0));
  const n0 = norm(z0), n1 = norm(z1);
  if (method === "lerp" || n0 < 1e-8 || n1 < 1e-8) {
    for (let i = 0; i < d; i++) out[i] = (1 - t) * z0[i] + t * z1[i];
    return out;
  }
  let dot = 0;
  for (let i = 0; i < d; i++) dot += (z0[i] / n0) * (z1[i] / n1);
  const omega = Math.acos(Math.min(1, Math.max(-1, dot)));
  const radius = (1 - t) * n0 + t * n1;
  for (let i = 0; i < d; i++) {
    const u0 = z0[i] / n0, u1 = z1[i] / n1;
    const direction = Math.abs(omega) < 1e-4 ? (1 - t) * u0 + t * u1
      : (Math.sin((1 - t) * omega) * u0 + Math.sin(t * omega) * u1) / Math.sin(omega);
    out[i] = direction * radius;
  }
  return out;
}

/** steps points from t = 0 to 1, both ends included. */
export function path(z0, z1, steps, method) {
  const d = z0.length;
  const codes = new Float32Array(steps * d);
  for (let s = 0; s < steps; s++) codes.set(pathPoint(z0, z1, steps === 1 ? 0 : s / (steps - 1), method), s * d);
  return codes;
}
