// Latent sliders: one code (a test image's, from an encoder, or a seeded draw), one slider per dimension; dragging
// any of them redraws every model from the edited code.
import { drawGrid, element, testImage } from "./draw.js";
import { LATENT_LIMIT } from "./params.js";
import { seededNoise } from "./random.js";
import { button, choice, decodeIntoColumns, integer, modelColumn, radios } from "./ui.js";

let canvases = {}, sliders = [], original = null;

/** The code before edits: the chosen encoder's code of the test image, or the first seeded draw. */
function baseCode(app) {
  const { settings, dataset } = app;
  const encoder = dataset.models[settings["latent-model"]];
  if (settings["latent-source"] === "image" && encoder && encoder.codes) {
    const d = encoder.d, index = settings["latent-index"];
    return encoder.codes.slice(index * d, (index + 1) * d);
  }
  const d = Math.max(...app.workingModels().map((model) => model.d), 1);
  return seededNoise(settings.seed, 1, d).eps;
}

export function code(app) {
  const z = baseCode(app);
  for (const [dim, value] of Object.entries(app.settings["latent-edit"])) if (dim < z.length) z[dim] = value;
  return z;
}

function syncSliders(app) {
  const z = code(app);
  sliders.forEach(({ input, shown }, dim) => {
    input.value = z[dim];
    shown.textContent = z[dim].toFixed(2);
    input.classList.toggle("edited", dim in app.settings["latent-edit"]);
  });
}

export function build(section, app) {
  const { manifest, models } = app.dataset;
  const encoders = Object.values(models).filter((model) => model.codes);
  const controls = element("div", { class: "controls" });
  if (encoders.length) {
    controls.append(
      radios(app, "latent-source", "Code", [["image", "a test image's"], ["seed", "a random draw (the seed)"]]),
      integer(app, "latent-index", `Test image (0-${manifest.count - 1})`, 0, manifest.count - 1),
      choice(app, "latent-model", "Encoded by", encoders.map((model) => [model.kind, model.label])));
  }
  controls.append(button("Reset the sliders", () => app.set("latent-edit", {}), { class: "reset" }));
  original = element("canvas", { class: "single", "aria-label": "the test image" });
  const columns = element("div", { class: "columns" },
    element("figure", { class: "model original" }, element("figcaption", { text: "Test image" }), original));
  canvases = {};
  for (const model of app.shownModels()) {
    const { column, canvas } = modelColumn(model, "", "single");
    canvases[model.kind] = { canvas, caption: column.querySelector(".caption") };
    columns.append(column);
  }
  const grid = element("div", { class: "sliders", role: "group", "aria-label": "latent dimensions" });
  sliders = [];
  const d = code(app).length;
  for (let dim = 0; dim < d; dim++) {
    const input = element("input", { type: "range", min: -LATENT_LIMIT, max: LATENT_LIMIT, step: 0.05,
                                     id: `latent-dim-${dim}`, "data-dim": dim });
    const shown = element("output", { for: input.id });
    input.addEventListener("input", () => {
      shown.textContent = Number(input.value).toFixed(2);
      app.set("latent-edit", { ...app.settings["latent-edit"], [dim]: Number(input.value) });
    });
    sliders.push({ input, shown });
    grid.append(element("div", { class: "slider" }, element("label", { for: input.id, text: `z${dim}` }), input, shown));
  }
  section.replaceChildren(
    element("p", { class: "lead", text: "Pick a code, then drag any latent dimension: every model decodes the same " +
      "edited code, live. A test image's code comes from the chosen encoder; the GAN, which has none, decodes it too." }),
    controls, columns, grid);
}

export async function render(app) {
  const z = code(app);
  syncSliders(app);
  const { manifest } = app.dataset;
  const fromImage = app.settings["latent-source"] === "image" && app.dataset.models[app.settings["latent-model"]]?.codes;
  original.parentElement.hidden = !fromImage;
  if (fromImage) drawGrid(original, testImage(app.dataset, app.settings["latent-index"]), 1, 1, manifest);
  await decodeIntoColumns(app, canvases, z);
}
