// Compare: the models side by side from the same seeded noise; seed, temperature and prior redraw while they move.
import { drawGrid, element } from "./draw.js";
import { GRID_SIDES } from "./params.js";
import { gmmCodes, normalCodes, seededNoise } from "./random.js";
import { choice, modelColumn, radios, range, scoresTable } from "./ui.js";
import { decode } from "./models.js";

let canvases = {};

export function build(section, app) {
  const priors = app.dataset.manifest.priors;
  section.replaceChildren(
    element("p", { class: "lead", text: "Each model decodes codes from the same seeded noise. With the GMM prior the " +
      "VAE and the VAE-GAN send that noise through a Gaussian mixture fitted to their training codes; with N(0, I) " +
      "all three decode the very same codes. Temperature T < 1 trades variety for typical-looking samples." }),
    element("div", { class: "controls" },
      choice(app, "compare-grid", "Grid", GRID_SIDES.map((side) => [side, `${side} x ${side}`]), Number),
      range(app, "compare-t", "Temperature T", 0.1, 1.5, 0.05, (value) => value.toFixed(2)),
      radios(app, "prior", "Prior", [["gmm", priors.gmm], ["normal", priors.normal]])),
  );
  const columns = element("div", { class: "columns" });
  const scores = element("div", { class: "scores-list" });
  canvases = {};
  for (const model of app.shownModels()) {
    const { column, canvas } = modelColumn(model, "");
    canvases[model.kind] = { canvas, caption: column.querySelector(".caption") };
    columns.append(column);
    scores.append(scoresTable(model));
  }
  section.append(columns, scores);
}

export async function render(app) {
  const { settings } = app;
  const side = settings["compare-grid"], n = side * side, temperature = settings["compare-t"];
  const noise = {};  // per latent size: the same seed gives every model the same noise
  const work = app.workingModels().map(async (model) => {
    noise[model.d] ??= seededNoise(settings.seed, n, model.d);
    const useGmm = settings.prior === "gmm" && model.gmm;
    const codes = useGmm ? gmmCodes(model.gmm, noise[model.d], temperature, model.d)
      : normalCodes(noise[model.d], temperature);
    const note = settings.prior === "gmm" && !model.gmm ? ` (${model.gmmNote})` : "";
    return { model, codes, note, label: useGmm ? app.dataset.manifest.priors.gmm : "N(0, I)",
             pixels: await decode(model, codes, n) };
  });
  for (const { model, codes, pixels, label, note } of await Promise.all(work)) {
    const target = canvases[model.kind];
    if (!target) continue;
    drawGrid(target.canvas, pixels, n, side, app.dataset.manifest);
    target.caption.textContent = ` · ${label}${note}`;
    app.lastCodes[model.kind] = codes;
  }
}
