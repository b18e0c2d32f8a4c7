// Latent map: the test images' codes of one encoder, projected on the two leading principal axes of those codes
// (the PCA `vaegan export-web` computes), coloured by class. Pointing at the map (a click, a drag, a finger, or the
// arrow keys on the focused map) maps the spot back to a code, mean + x * axis 1 + y * axis 2, which every model
// decodes live.
import { element } from "./draw.js";
import { MAP_LIMIT } from "./params.js";
import { choice, decodeIntoColumns, modelColumn } from "./ui.js";

const SIDE = 360;  // the map's canvas, in its own pixels
let canvases = {}, map = null, points = null, bounds = null, where = null;

const mapModel = (app) => app.dataset.models[app.settings["map-model"]];

/** The code at map point (x, y): mean + x * components[0] + y * components[1] (Float32Array d). */
export function codeAt(pca, x, y) {
  const [first, second] = pca.components;
  return Float32Array.from(pca.mean, (mean, i) => mean + x * first[i] + y * second[i]);
}

/** Every test code's (x, y) on the map: ((code - mean) . axis 1, (code - mean) . axis 2). */
function project(model) {
  const { d, codes, pca } = model, n = codes.length / d, found = new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < 2; k++) {
      let sum = 0;
      for (let j = 0; j < d; j++) sum += (codes[i * d + j] - pca.mean[j]) * pca.components[k][j];
      found[2 * i + k] = sum;
    }
  }
  return found;
}

function boundsOf(found) {
  const xs = found.filter((_, i) => i % 2 === 0), ys = found.filter((_, i) => i % 2 === 1);
  const span = (values) => {
    const low = Math.min(...values), high = Math.max(...values), margin = 0.08 * (high - low || 1);
    return [low - margin, high + margin];
  };
  return [...span(xs), ...span(ys)];
}

const toPixel = (x, y) => [(x - bounds[0]) / (bounds[1] - bounds[0]) * SIDE,
                            (bounds[3] - y) / (bounds[3] - bounds[2]) * SIDE];

function pointTo(app, clientX, clientY) {
  const rect = map.getBoundingClientRect();
  const fx = Math.min(1, Math.max(0, (clientX - rect.left) / rect.width));
  const fy = Math.min(1, Math.max(0, (clientY - rect.top) / rect.height));
  moveTo(app, bounds[0] + fx * (bounds[1] - bounds[0]), bounds[3] - fy * (bounds[3] - bounds[2]));
}

function moveTo(app, x, y) {
  const clip = (value) => Math.min(MAP_LIMIT, Math.max(-MAP_LIMIT, Math.round(value * 1000) / 1000));
  app.settings["map-x"] = clip(x);  // both first, then one redraw
  app.set("map-y", clip(y));
}

function listen(app) {
  map.addEventListener("pointerdown", (event) => {
    map.setPointerCapture(event.pointerId);
    map.focus();
    pointTo(app, event.clientX, event.clientY);
  });
  map.addEventListener("pointermove", (event) => event.buttons && pointTo(app, event.clientX, event.clientY));
  map.addEventListener("keydown", (event) => {
    const step = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, 1], ArrowDown: [0, -1] }[event.key];
    if (!step) return;
    event.preventDefault();
    const fraction = event.shiftKey ? 0.1 : 0.02;
    moveTo(app, app.settings["map-x"] + step[0] * fraction * (bounds[1] - bounds[0]),
           app.settings["map-y"] + step[1] * fraction * (bounds[3] - bounds[2]));
  });
}

function legend(manifest) {
  const names = manifest.class_names || manifest.class_colours.map((_, i) => String(i));
  const colours = manifest.class_colours;
  return element("ul", { class: "legend", "aria-label": "classes" }, ...names.map((name, i) => element("li", {},
    element("span", { class: "swatch", style: `background:${colours[i % colours.length]}` }), ` ${name}`)));
}

export function build(section, app) {
  const { manifest, models } = app.dataset;
  const encoders = Object.values(models).filter((model) => model.codes && model.pca);
  const lead = element("p", { class: "lead", text: "The test images' codes on the two leading principal axes of " +
    "the chosen encoder's codes (PCA), coloured by class. Click or drag on the map (or focus it and use the arrow " +
    "keys, Shift for larger steps): the spot maps back to a code, mean + x · axis 1 + y · axis 2, and every model " +
    "decodes it." });
  canvases = {};
  if (!encoders.length || !mapModel(app)?.pca) {
    map = null;
    section.replaceChildren(lead, element("p", { class: "unavailable", text: "No model with an encoder and codes: " +
      "the map needs one (export a VAE or a VAE-GAN)." }));
    return;
  }
  const model = mapModel(app);
  points = project(model);
  bounds = boundsOf(points);
  map = element("canvas", { class: "map", width: SIDE, height: SIDE, tabindex: 0, role: "img", "data-bounds":
    bounds.join(","), "aria-label": `latent map of the ${model.label}'s codes: click, drag or use the arrow keys` });
  listen(app);
  const explained = model.pca.explained.map((value) => `${(100 * value).toFixed(0)}%`).join(" and ");
  const columns = element("div", { class: "columns" });
  for (const shown of app.shownModels()) {
    const { column, canvas } = modelColumn(shown, "", "single");
    canvases[shown.kind] = { canvas, caption: column.querySelector(".caption") };
    columns.append(column);
  }
  section.replaceChildren(lead,
    element("div", { class: "controls" },
      choice(app, "map-model", "Codes of", encoders.map((entry) => [entry.kind, entry.label])),
      element("p", { class: "caption", text: `Axes: PCA of ${manifest.count} test codes (${explained} of the ` +
                                             "variance)." }),
      where = element("output", { class: "caption", "aria-live": "polite" })),
    element("div", { class: "map-row" }, element("figure", {}, map, legend(manifest)), columns));
}

function drawMap(app) {
  const context = map.getContext("2d");
  const { labels, class_colours: colours } = app.dataset.manifest;
  context.fillStyle = "#ffffff";
  context.fillRect(0, 0, SIDE, SIDE);
  for (let i = 0; i < points.length / 2; i++) {
    const [px, py] = toPixel(points[2 * i], points[2 * i + 1]);
    context.fillStyle = colours[labels[i] % colours.length];
    context.beginPath();
    context.arc(px, py, 3, 0, 2 * Math.PI);
    context.fill();
  }
  const [mx, my] = toPixel(app.settings["map-x"], app.settings["map-y"]);
  context.strokeStyle = "#4b3fd1";
  context.lineWidth = 2;
  context.strokeRect(mx - 6, my - 6, 12, 12);
  context.beginPath();
  context.moveTo(mx - 12, my); context.lineTo(mx + 12, my); context.moveTo(mx, my - 12); context.lineTo(mx, my + 12);
  context.stroke();
}

export async function render(app) {
  if (!map) return;
  drawMap(app);
  where.textContent = `Point: x ${app.settings["map-x"].toFixed(2)}, y ${app.settings["map-y"].toFixed(2)}.`;
  const z = codeAt(mapModel(app).pca, app.settings["map-x"], app.settings["map-y"]);
  await decodeIntoColumns(app, canvases, z);
}
