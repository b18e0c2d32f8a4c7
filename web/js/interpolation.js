// Interpolation: the path between two codes (lerp or slerp) as a strip, and one image per model at the scrubbed
// point t, which Play sweeps back and forth.
import { drawGrid, element, testImage } from "./draw.js";
import { BETWEEN } from "./params.js";
import { path, pathPoint, seededNoise } from "./random.js";
import { button, integer, radios, range } from "./ui.js";
import { decode } from "./models.js";

let rows = {}, ends = [], playing = null, playButton = null, scrub = null, seedCaption = null;

/** The two end codes of a model, or a sentence saying why it has none. */
function endsOf(app, model) {
  const { settings } = app;
  if (settings["interp-between"] === BETWEEN[1]) {
    return [seededNoise(settings.seed, 1, model.d).eps, seededNoise(settings.seed + 1, 1, model.d).eps];
  }
  if (!model.codes) return "has no encoder, so no codes of test images: choose two random codes";
  const d = model.d, a = settings["interp-a"], b = settings["interp-b"];
  return [model.codes.slice(a * d, (a + 1) * d), model.codes.slice(b * d, (b + 1) * d)];
}

export function build(section, app) {
  const { manifest } = app.dataset;
  const encoders = Object.values(app.dataset.models).some((model) => model.codes);
  const last = manifest.count - 1;
  scrub = range(app, "interp-t", "Position t", 0, 1, 0.01, (value) => value.toFixed(2));
  playButton = button("Play", () => toggle(app), { "aria-pressed": "false", class: "play" });
  const controls = element("div", { class: "controls" },
    radios(app, "interp-between", "Between", (encoders ? BETWEEN : BETWEEN.slice(1)).map((mode) => [mode, mode])),
    radios(app, "interp-path", "Path", [["slerp", "slerp"], ["lerp", "lerp"]]),
    range(app, "interp-steps", "Steps", 2, 16, 1));
  if (app.settings["interp-between"] === BETWEEN[0]) {
    controls.append(integer(app, "interp-a", `First image (0-${last})`, 0, last),
                    integer(app, "interp-b", `Second image (0-${last})`, 0, last));
  } else {
    seedCaption = element("p", { class: "caption" });
    controls.append(seedCaption);
  }
  ends = [element("canvas", { class: "single", "aria-label": "first image" }),
          element("canvas", { class: "single", "aria-label": "second image" })];
  const endFigure = element("figure", { class: "ends" }, element("figcaption", { text: "Ends" }), ...ends);
  endFigure.hidden = app.settings["interp-between"] !== BETWEEN[0];
  const table = element("div", { class: "paths" });
  rows = {};
  for (const model of app.shownModels()) {
    const strip = element("canvas", { class: "strip", "data-kind": model.kind, "aria-label": `${model.label} path` });
    const point = element("canvas", { class: "single", "data-kind": model.kind, "aria-label": `${model.label} at t` });
    const note = element("span", { class: "caption" });
    const body = model.error ? element("p", { class: "unavailable", text: "Not available (see the message above)." })
      : element("div", { class: "path-row" }, point, strip);
    table.append(element("figure", { class: "model", "data-kind": model.kind },
      element("figcaption", {}, element("strong", { text: model.label }), note), body));
    rows[model.kind] = { strip, point, note };
  }
  section.replaceChildren(
    element("p", { class: "lead", text: "Decode the codes on the path between two points of latent space. Between " +
      "two test images each model with an encoder starts from its own codes of them; between two random codes all " +
      "models walk the same path. slerp follows the sphere where Gaussian codes live; lerp cuts through its centre." }),
    controls, element("div", { class: "controls" }, scrub, playButton), endFigure, table);
}

export async function render(app) {
  const { settings } = app, { manifest } = app.dataset;
  const steps = settings["interp-steps"], t = settings["interp-t"], method = settings["interp-path"];
  if (settings["interp-between"] === BETWEEN[1]) {
    seedCaption.textContent = `Codes: two draws with seeds ${settings.seed} and ${settings.seed + 1} (the seed above).`;
  } else {
    ends.forEach((canvas, i) => drawGrid(canvas, testImage(app.dataset, settings[i ? "interp-b" : "interp-a"]), 1, 1, manifest));
  }
  const work = app.workingModels().map(async (model) => {
    const found = endsOf(app, model);
    if (typeof found === "string") return { model, why: found };
    const codes = new Float32Array((steps + 1) * model.d);
    codes.set(path(found[0], found[1], steps, method));
    codes.set(pathPoint(found[0], found[1], t, method), steps * model.d);
    return { model, codes, pixels: await decode(model, codes, steps + 1) };
  });
  const size = manifest.channels * manifest.height * manifest.width;
  for (const { model, why, codes, pixels } of await Promise.all(work)) {
    const row = rows[model.kind];
    if (!row) continue;
    row.note.textContent = why ? ` · ${why}` : "";
    row.point.hidden = row.strip.hidden = Boolean(why);
    app.lastCodes[model.kind] = codes || null;
    if (why) continue;
    drawGrid(row.strip, pixels, steps, steps, manifest);
    drawGrid(row.point, pixels.subarray(steps * size), 1, 1, manifest);
  }
}

/** Play: sweep t back and forth, one step per drawn frame, until paused (or the view or dataset changes). */
export function toggle(app) {
  if (playing) {
    playing.stop = true;
    playing = null;
    playButton.textContent = "Play";
    playButton.setAttribute("aria-pressed", "false");
    return;
  }
  const state = { stop: false, direction: 1 };
  playing = state;
  playButton.textContent = "Pause";
  playButton.setAttribute("aria-pressed", "true");
  const input = scrub.querySelector("input"), shown = scrub.querySelector("output");
  const step = async () => {
    if (state.stop || !playButton.isConnected) return;
    let t = app.settings["interp-t"] + 0.02 * state.direction;
    if (t >= 1 || t <= 0) { state.direction *= -1; t = Math.min(1, Math.max(0, t)); }
    t = Math.round(t * 100) / 100;
    input.value = t;
    shown.textContent = t.toFixed(2);
    const before = app.started;
    app.set("interp-t", t);
    await app.drawn(before);
    requestAnimationFrame(step);
  };
  requestAnimationFrame(step);
}

export function stop() {
  if (playing) playing.stop = true;
  playing = null;
}
