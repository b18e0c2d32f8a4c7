// Settings in the URL (?seed=3&prior=normal...): parameter names as the Streamlit app's linked controls where the
// two overlap (dataset, kinds, seed, prior, compare-grid, compare-t, interp-*, write, conditional-t, present). A value
// that does not parse falls back to the default with a notice, as the app does.

export const MAX_SEED = 2 ** 31 - 1;
export const VIEWS = ["compare", "latent", "interpolation", "map", "draw", "conditional"];
export const MAP_LIMIT = 1000;  // map-x and map-y: PCA coordinates
export const GRID_SIDES = [3, 4, 5, 6, 8, 10];
export const BETWEEN = ["two test images", "two random codes"];
export const LATENT_LIMIT = 4;  // the sliders' range: +-4 standard deviations
export const MAX_TEXT = 40;  // glyphs in one written line (vaegan_core.models.conditional.MAX_TEXT)
export const SPACE = -1;  // a gap between words in a written line (conditional.SPACE)

/** A string of class digits as glyphs, "20 26" -> [2, 0, SPACE, 2, 6], as vaegan_core.models.conditional.parse_text:
 * a run of spaces between digits is one gap, spaces at the ends are dropped; an Error with one sentence otherwise. */
export function parseText(text, classes) {
  const words = text.split(/\s+/).filter(Boolean);
  const glyphs = words.join("");
  if (!glyphs) throw new Error(`the text is empty; type class digits, e.g. 2026 (0 to ${classes - 1})`);
  if (glyphs.length > MAX_TEXT) throw new Error(`the text has ${glyphs.length} characters; at most ${MAX_TEXT} fit`);
  const bad = [...new Set(glyphs)].filter((c) => !/^[0-9]$/.test(c) || Number(c) >= classes).sort().join("");
  if (bad) {
    throw new Error(`the text may hold only the class digits 0 to ${classes - 1}; ${JSON.stringify(bad.slice(0, 10))} ` +
      `${bad.length === 1 ? "is" : "are"} not`);
  }
  return words.flatMap((word, index) => [...(index ? [SPACE] : []), ...[...word].map(Number)]);
}

const oneOf = (options, cast = String) => (text) => {
  const value = cast(text);
  if (!options.includes(value)) throw new Error(`not one of ${options.join(", ")}`);
  return value;
};
const number = (low, high, integer) => (text) => {
  const value = Number(text);
  if (text.trim() === "" || !Number.isFinite(value) || (integer && !Number.isInteger(value))) {
    throw new Error(`expected ${integer ? "an integer" : "a number"}`);
  }
  if (value < low || value > high) throw new Error(`not in ${low}-${high}`);
  return value;
};
const manyOf = (options) => (text) => {
  const values = text.split(",").filter(Boolean);
  if (!values.length || values.some((value) => !options.includes(value))) {
    throw new Error(`choose from ${options.join(", ")}`);
  }
  return options.filter((option) => values.includes(option));
};
/** latent-edit: "dim:value,dim:value", each dim below d, each value within +-LATENT_LIMIT. */
const edits = (d) => (text) => {
  const found = {};
  for (const part of text.split(",").filter(Boolean)) {
    const [dim, value] = part.split(":");
    const index = number(0, d - 1, true)(dim ?? "");
    found[index] = number(-LATENT_LIMIT, LATENT_LIMIT, false)(value ?? "");
  }
  return found;
};

/** name -> [default, parse] for one dataset (its test images, models and latent size). */
export function specs(catalogue, manifest) {
  const kinds = Object.keys(manifest.models);
  const encoders = kinds.filter((kind) => manifest.models[kind].codes);
  const last = manifest.count - 1;
  const d = Math.max(...Object.values(manifest.models).map((model) => model.latent_dim));
  const classes = Math.min(10, manifest.class_names?.length ?? 10);
  const digits = (manifest.class_names || []).every((name, index) => name === String(index));
  const text = (value) => (parseText(value, classes), value);
  const example = digits ? "2026" : "0178";  // the app's: a year, or four garments (T-shirt, trouser, sneaker, bag)
  return {
    view: ["compare", oneOf(VIEWS)],
    dataset: [catalogue[0], oneOf(catalogue)],
    kinds: [kinds, manyOf(kinds)],
    seed: [0, number(0, MAX_SEED, true)],
    prior: ["gmm", oneOf(["normal", "gmm"])],
    "compare-grid": [4, oneOf(GRID_SIDES, Number)],
    "compare-t": [1.0, number(0.1, 1.5, false)],
    "latent-source": [encoders.length ? "image" : "seed", oneOf(encoders.length ? ["image", "seed"] : ["seed"])],
    "latent-index": [0, number(0, last, true)],
    "latent-model": [encoders[encoders.length - 1] ?? "", oneOf(encoders.length ? encoders : [""])],
    "latent-edit": [{}, edits(d)],
    "interp-between": [encoders.length ? BETWEEN[0] : BETWEEN[1], oneOf(encoders.length ? BETWEEN : [BETWEEN[1]])],
    "interp-path": ["slerp", oneOf(["slerp", "lerp"])],
    "interp-steps": [10, number(2, 16, true)],
    "interp-a": [0, number(0, last, true)],
    "interp-b": [Math.min(1, last), number(0, last, true)],
    "interp-t": [0.5, number(0, 1, false)],
    "map-model": [encoders[encoders.length - 1] ?? "", oneOf(encoders.length ? encoders : [""])],
    "map-x": [0, number(-MAP_LIMIT, MAP_LIMIT, false)],
    "map-y": [0, number(-MAP_LIMIT, MAP_LIMIT, false)],
    write: [[...example].every((digit) => Number(digit) < classes) ? example : "0", text],
    "conditional-t": [1.0, number(0.3, 1.5, false)],
    present: [0, oneOf([0, 1], Number)],
    embed: [0, oneOf([0, 1], Number)],  // inside a Streamlit page (demo/ui_browser.py): the view alone
  };
}

export function asText(value) {
  if (Array.isArray(value)) return value.join(",");
  if (value && typeof value === "object") return Object.entries(value).map(([k, v]) => `${k}:${v}`).join(",");
  return String(value);
}

/** The settings the URL asks for: {settings, problems}; each problem is a sentence for the notice. */
export function readSettings(search, spec, previous = {}) {
  const query = new URLSearchParams(search);
  const settings = {}, problems = [];
  for (const [name, [fallback, parse]] of Object.entries(spec)) {
    const text = query.get(name);
    const keep = name in previous ? previous[name] : fallback;
    let value = keep;
    if (text !== null) {
      try {
        value = parse(text);
      } catch (error) {
        problems.push(`The link's ${name}=${JSON.stringify(text)} is not usable (${error.message}); ` +
          `${name in previous ? "keeping the current value" : "showing the default"}.`);
      }
    } else if (name in previous) {
      try { parse(asText(previous[name])); } catch { value = fallback; }  // no longer fits this dataset
    }
    settings[name] = value;
  }
  return { settings, problems };
}

/** The URL's query for settings: only the values that differ from their defaults. */
export function query(settings, spec) {
  const params = new URLSearchParams();
  for (const [name, [fallback]] of Object.entries(spec)) {
    const text = asText(settings[name]);
    if (text !== asText(fallback)) params.set(name, text);
  }
  const text = params.toString();
  return text ? `?${text}` : "";
}
