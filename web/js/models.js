// The exported files: explorer.json, a dataset's manifest, test images, and each model's decoder (ONNX Runtime
// Web, wasm) with its codes and GMM prior. A model whose files are missing or broken carries `error` (one sentence)
// and the others work on.
import * as ort from "../ort/ort.wasm.min.mjs";

// ONNX Runtime uses one thread unless the page is cross-origin isolated (`vaegan web` sends COOP/COEP). Isolated, it
// would pick half the cores (one of two); a visitor's grid is the only work on the page, so it gets every core (at
// most 4). Without isolation, asking for more only logs a warning.
ort.env.wasm.numThreads = self.crossOriginIsolated ? Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)) : 1;
ort.env.logLevel = "error";

// The runtime's wasm binary ships gzipped (web_export.ORT_BINARY: 13.6 MB -> 3.5 MB, the folder's largest file) and
// is unpacked here by the browser's own DecompressionStream, once, before the first session is created; a server
// that unpacked it already (Content-Encoding: gzip) hands over the plain binary, which is taken as it is. ONNX Runtime
// gets it as a blob URL (wasmPaths.wasm): it compiles it streaming, and the bytes are let go once it has started.
const RUNTIME = "ort-wasm-simd-threaded.wasm.gz";
const GLUE = new URL("../ort/ort-wasm-simd-threaded.mjs", import.meta.url).href;
let runtimeReady = null, runtimeURL = null;

/** What is loaded so far: networks (one ONNX Runtime session each); the benchmark reads it (explorer.loaded). */
export const loaded = { networks: 0 };

async function session(bytes) {
  const created = await ort.InferenceSession.create(bytes, { executionProviders: ["wasm"] });
  loaded.networks += 1;
  if (runtimeURL) {  // the runtime is compiled and running: its bytes are no longer needed
    URL.revokeObjectURL(runtimeURL);
    runtimeURL = null;
  }
  return created;
}

async function unpack(bytes) {
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  if (typeof DecompressionStream === "undefined") {
    throw new Error("this browser cannot unpack it (no DecompressionStream): open the page in a current Chrome, " +
                    "Edge, Firefox or Safari");
  }
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/** Resolves once the runtime's binary is ready for the first session; rejects with one sentence (the same for every
 * model: the page shows it once; `error.runtime` is true) and tries again on the next call (a network that came
 * back). */
function runtime() {
  runtimeReady ??= (async () => {
    const url = new URL(`../ort/${RUNTIME}`, import.meta.url);
    const plain = await unpack(await fetchBytes(url.href, `ort/${RUNTIME}`));
    if (plain[0] !== 0x00 || plain[1] !== 0x61 || plain[2] !== 0x73 || plain[3] !== 0x6d) {
      throw new Error("not a WebAssembly binary once unpacked");
    }
    runtimeURL = URL.createObjectURL(new Blob([plain], { type: "application/wasm" }));
    ort.env.wasm.wasmPaths = { mjs: GLUE, wasm: runtimeURL };
  })().catch((error) => {
    runtimeReady = null;
    const failure = new Error(`ONNX Runtime Web could not be loaded from ort/${RUNTIME} (${String(error.message ||
      error).slice(0, 160)}), so no model can run; reload the page, or run \`vaegan export-web\` again to repair it.`);
    failure.runtime = true;
    throw failure;
  });
  return runtimeReady;
}

async function fetchBytes(url, shown = url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${shown} could not be loaded (HTTP ${response.status})`);
  return new Uint8Array(await response.arrayBuffer());
}

export async function fetchJSON(url) {
  const bytes = await fetchBytes(url);
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new Error(`${url} is not valid JSON`);
  }
}

function floats(bytes, count, url) {
  if (bytes.byteLength !== count * 4) {
    throw new Error(`${url} holds ${bytes.byteLength} bytes, expected ${count * 4}`);
  }
  return new Float32Array(bytes.buffer, bytes.byteOffset, count);
}

/** One model: {kind, label, d, session, codes (Float32Array count x d or null), gmm, gmmNote, scores, error}. */
async function loadModel(base, entry, count) {
  const model = { kind: entry.kind, label: entry.label, d: entry.latent_dim, session: null, codes: null,
                  pca: entry.pca || null, encoderFile: entry.encoder ? base + entry.encoder : null, encoder: null,
                  gmm: null, gmmNote: entry.gmm_note, scores: entry.scores || [], epochs: entry.epochs, error: null };
  try {
    await runtime();
  } catch (error) {
    model.error = error.message;
    return model;
  }
  let current = entry.decoder;
  try {
    const decoder = await fetchBytes(base + entry.decoder);
    try {
      model.session = await session(decoder);
    } catch (error) {
      throw new Error(`${base + entry.decoder} is not a readable ONNX model (${String(error.message || error).slice(0, 120)})`);
    }
    if (entry.codes) {
      current = entry.codes;
      model.codes = floats(await fetchBytes(base + entry.codes), count * model.d, base + entry.codes);
    }
    if (entry.gmm) {
      current = entry.gmm.file;
      const K = entry.gmm.components, d = model.d;
      const all = floats(await fetchBytes(base + entry.gmm.file), K + K * d + K * d * d, base + entry.gmm.file);
      model.gmm = { weights: all.subarray(0, K), means: all.subarray(K, K + K * d), cholesky: all.subarray(K + K * d) };
    }
  } catch (error) {
    model.session = null;
    model.error = `${entry.label}: ${error.message || error}; the other models work on. Run \`vaegan export-web\` ` +
      `again to repair ${current}.`;
  }
  return model;
}

/** A dataset: {manifest, images (Uint8Array count x C x H x W), models: {kind: model}, conditional: {kind: model}}. */
export async function loadDataset(entry) {
  runtime().catch(() => {});  // fetched beside the manifest and the images (its failure is each model's to report)
  const base = new URL(entry.manifest, document.baseURI).href.replace(/manifest\.json$/, "");
  const manifest = await fetchJSON(entry.manifest);
  const { count, channels, height, width } = manifest;
  const images = await fetchBytes(base + manifest.images);
  if (images.byteLength !== count * channels * height * width) {
    throw new Error(`${base + manifest.images} holds ${images.byteLength} bytes, expected ${count * channels * height * width}`);
  }
  const models = {};
  // one after the other: sessions are created by one wasm instance anyway, and the first model is usable sooner
  for (const [kind, model] of Object.entries(manifest.models)) models[kind] = await loadModel(base, model, count);
  const conditional = {};  // the Conditional view's models: their decoders load when the view first needs them
  for (const [kind, entry] of Object.entries(manifest.conditional || {})) {
    conditional[kind] = { kind, label: entry.label, d: entry.latent_dim, classes: entry.num_classes,
                          decoderFile: base + entry.decoder, decoder: null, scores: entry.scores || [] };
  }
  return { manifest, images, models, conditional };
}

// Runs are queued: a session serves one run at a time, and the wasm backend is one instance.
let queue = Promise.resolve();

/** Decode n codes (Float32Array n x d) with a model: Float32Array n x C x H x W in [0, 1]. */
export function decode(model, codes, n) {
  const run = queue.then(async () => {
    const feeds = { [model.session.inputNames[0]]: new ort.Tensor("float32", codes, [n, model.d]) };
    const output = await model.session.run(feeds);
    return output[model.session.outputNames[0]].data;
  });
  queue = run.catch(() => {});
  return run;
}

/** A session of the ONNX file `url`, created on first use and kept in `holder[key]`; an Error with one sentence
 * (naming the model and the file) when the file is missing or broken. */
function lazySession(holder, key, url, label) {
  holder[key] ??= runtime().then(() => fetchBytes(url).then(session).catch((error) => {
    throw new Error(`${label}: ${url} could not be loaded (${String(error.message || error).slice(0, 120)}); run ` +
      "`vaegan export-web` again to repair it");
  })).catch((error) => {
    if (error.runtime) delete holder[key];  // not this file's fault: the next use tries again
    throw error;
  });
  return holder[key];
}

/** The model's encoder session, loaded on first use (the Draw view): null when the model has none; an Error with
 * one sentence when its file is missing or broken. */
export async function encoderOf(model) {
  if (!model.encoderFile) return null;
  return lazySession(model, "encoder", model.encoderFile, model.label);
}

/** Decode n codes (Float32Array n x d), each with its class (labels: n integers), with a conditional model (loaded
 * on first use): Float32Array n x C x H x W in [0, 1]. */
export async function decodeLabelled(model, codes, labels, n) {
  const session = await lazySession(model, "decoder", model.decoderFile, model.label);
  const run = queue.then(async () => {
    const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", codes, [n, model.d]),
                    [session.inputNames[1]]: new ort.Tensor("int64", BigInt64Array.from(labels, BigInt), [n]) };
    const output = await session.run(feeds);
    return output[session.outputNames[0]].data;
  });
  queue = run.catch(() => {});
  return run;
}

/** Encode n images (Float32Array n x C x H x W in [0, 1]) with a model's encoder: mu, Float32Array n x d. */
export async function encode(model, images, n, shape) {
  const session = await encoderOf(model);
  const run = queue.then(async () => {
    const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", images, [n, shape.channels, shape.height,
                                                                              shape.width]) };
    const output = await session.run(feeds);
    return output[session.outputNames[0]].data;
  });
  queue = run.catch(() => {});
  return run;
}
