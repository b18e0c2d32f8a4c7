// Controls bound to a setting: each shows the setting's value and calls app.set(name, value) on every input, so a
// drag redraws while it goes on. Native inputs only: every one works from the keyboard.
import { drawGrid, element } from "./draw.js";
import { decode } from "./models.js";

let counter = 0;
const id = (name) => `control-${name}-${++counter}`;

export function range(app, name, label, min, max, step, format = String) {
  const input = element("input", { type: "range", id: id(name), name, min, max, step, value: app.settings[name] });
  const shown = element("output", { for: input.id, text: format(app.settings[name]) });
  input.addEventListener("input", () => {
    shown.textContent = format(Number(input.value));
    app.set(name, Number(input.value));
  });
  return element("div", { class: "control" }, element("label", { for: input.id, text: label }), input, shown);
}

export function integer(app, name, label, min, max) {
  const input = element("input", { type: "number", id: id(name), name, min, max, step: 1, value: app.settings[name],
                                    inputmode: "numeric" });
  input.addEventListener("input", () => {
    const value = Number(input.value);
    const valid = input.value.trim() !== "" && Number.isInteger(value) && value >= min && value <= max;
    input.setAttribute("aria-invalid", String(!valid));
    if (valid) app.set(name, value);
  });
  return element("div", { class: "control" }, element("label", { for: input.id, text: label }), input);
}

export function choice(app, name, label, options, cast = String) {
  const select = element("select", { id: id(name), name });
  for (const [value, text] of options) {
    select.append(element("option", { value, text, selected: String(value) === String(app.settings[name]) }));
  }
  select.addEventListener("change", () => app.set(name, cast(select.value)));
  return element("div", { class: "control" }, element("label", { for: select.id, text: label }), select);
}

export function radios(app, name, label, options) {
  const group = element("fieldset", { class: "control radios" }, element("legend", { text: label }));
  for (const [value, text] of options) {
    const input = element("input", { type: "radio", id: id(name), name, value, checked: value === app.settings[name] });
    input.addEventListener("change", () => input.checked && app.set(name, value));
    group.append(element("label", { for: input.id }, input, ` ${text}`));
  }
  return group;
}

export function button(text, onClick, attributes = {}) {
  const node = element("button", { type: "button", text, ...attributes });
  node.addEventListener("click", onClick);
  return node;
}

/** A column per model: its name, a caption, and a canvas (data-kind tells tests and styles which model). */
export function modelColumn(model, caption, canvasClass = "grid") {
  const canvas = element("canvas", { class: canvasClass, "data-kind": model.kind, role: "img",
                                     "aria-label": `${model.label} images` });
  const column = element("figure", { class: "model", "data-kind": model.kind },
    element("figcaption", {}, element("strong", { text: model.label }), element("span", { class: "caption", text: caption })));
  if (model.error) {
    column.append(element("p", { class: "unavailable", text: "Not available (see the message above)." }));
  } else {
    column.append(canvas);
  }
  return { column, canvas };
}

/** metrics.json's headline figures (zoo.scores_table rows) as a small table. */
export function scoresTable(model) {
  if (!model.scores.length) return element("p", { class: "caption", text: "No scores stored (vaegan eval)." });
  const columns = Object.keys(model.scores[0]).filter((key) => key !== "measure");
  const head = element("tr", {}, element("th", { text: "measure" }), ...columns.map((c) => element("th", { text: c })));
  const rows = model.scores.map((row) => element("tr", {}, element("th", { text: row.measure }),
    ...columns.map((c) => element("td", { text: row[c] === null || row[c] === undefined ? "-" : String(row[c]) }))));
  return element("details", { class: "scores" }, element("summary", { text: `${model.label}: scores (metrics.json)` }),
    element("table", {}, element("thead", {}, head), element("tbody", {}, ...rows)));
}

/** Run `work(model)` for every model at once: each result is {model, ...what work gave}, or {model, why} where it
 * failed (a missing or corrupt network: one message in that model's place while the others draw). */
export async function eachModel(models, work) {
  return Promise.all(models.map(async (model) => {
    try {
      return { model, ...(await work(model)) };
    } catch (error) {  // a runtime that cannot load is said once, above every view (main.js): not again per model
      return { model, why: error.runtime ? "not available: ONNX Runtime Web could not be loaded (see the message " +
        "above)" : error.message || String(error) };
    }
  }));
}

/** Decode one code `z` in every working model into its column of `columns` (kind -> {canvas, caption}, made by
 * modelColumn); a model whose code has another size says so in its caption. Records each model's code in
 * app.lastCodes (null where it was not decoded). Shared by the latent sliders and the latent map. */
export async function decodeIntoColumns(app, columns, z) {
  const work = app.workingModels().map(async (model) => (model.d === z.length
    ? { model, pixels: await decode(model, z, 1) } : { model, pixels: null }));
  for (const { model, pixels } of await Promise.all(work)) {
    const target = columns[model.kind];
    if (!target) continue;
    target.caption.textContent = pixels ? "" : ` · takes ${model.d} dimensions, the code has ${z.length}`;
    if (pixels) drawGrid(target.canvas, pixels, 1, 1, app.dataset.manifest);
    app.lastCodes[model.kind] = pixels ? z : null;
  }
}
