// Conditional: type a number and the class-conditional models write it, every glyph decoded from one style code z
// (the seed, scaled by a temperature) with its own class y: what is drawn apart from how it is drawn, as
// vaegan_core.models.conditional.write.
import { drawLine, element } from "./draw.js";
import { MAX_TEXT, SPACE, parseText } from "./params.js";
import { seededNoise } from "./random.js";
import { button, eachModel, range, scoresTable } from "./ui.js";
import { decodeLabelled } from "./models.js";

let rows = {}, field = null, problem = null, reading = null;

const classesOf = (app) => Math.min(10, app.dataset.manifest.class_names?.length ?? 10);

/** The conditional models shown: those of the kinds ticked in the header (a kind with no unconditional model is
 * always shown: it has no box to tick). */
function shown(app) {
  return Object.values(app.dataset.conditional)
    .filter((model) => app.settings.kinds.includes(model.kind) || !app.dataset.models[model.kind]);
}

/** The style code of a model: z = T eps, eps the seed's first standard normal draw (the Compare view's first code
 * under N(0, I)), the same for every glyph of the line. */
export function styleCode(app, d) {
  return seededNoise(app.settings.seed, 1, d).eps.map((value) => value * app.settings["conditional-t"]);
}

function typed(app) {  // the text box: a usable text redraws; any other shows why under the box and waits
  try {
    parseText(field.value, classesOf(app));
  } catch (error) {
    field.setAttribute("aria-invalid", "true");
    problem.textContent = `${error.message}.`;
    return;
  }
  field.setAttribute("aria-invalid", "false");
  problem.textContent = "";
  app.set("write", field.value);
}

function edit(app, change) {  // a key of the on-page keypad (touch screens): change the text as typing would
  field.value = change(field.value);
  typed(app);
}

function keypad(app) {
  const names = app.dataset.manifest.class_names || [];
  const pad = element("div", { class: "keypad", role: "group", "aria-label": "classes: each key adds its digit" });
  for (let index = 0; index < classesOf(app); index++) {
    const name = names[index] ?? String(index);
    const text = name === String(index) ? name : `${index} ${name}`;
    pad.append(button(text, () => edit(app, (value) => value + index), { "aria-label": `add ${text}` }));
  }
  pad.append(button("space", () => edit(app, (value) => `${value} `), { "aria-label": "add a space" }),
             button("⌫", () => edit(app, (value) => value.trimEnd().slice(0, -1)),
                    { "aria-label": "delete the last digit" }));
  return pad;
}

export function build(section, app) {
  const models = shown(app);
  const lead = element("p", { class: "lead", text: "A conditional model is given the class y beside the code z, so " +
    "z is free to hold the style: slant, thickness, width. Type class digits (a space leaves a gap): every model " +
    "writes them in one style, the same z for every glyph. A new seed is a new style; the temperature scales z." });
  rows = {};
  field = null;
  if (!Object.keys(app.dataset.conditional).length) {
    section.replaceChildren(lead, element("p", { class: "unavailable", text: "This export has no conditional model " +
      `of ${app.dataset.manifest.label}: export one beside the others (\`vaegan export-web DIR ... --out SITE\`, ` +
      "a checkpoint trained with `vaegan train --conditional`)." }));
    return;
  }
  field = element("input", { type: "text", id: "write", name: "write", value: app.settings.write, autocomplete: "off",
                             spellcheck: "false", inputmode: "numeric", maxlength: 4 * MAX_TEXT,
                             "aria-describedby": "write-problem write-reading" });
  field.addEventListener("input", () => typed(app));
  problem = element("p", { class: "problem", id: "write-problem", "aria-live": "polite" });
  reading = element("p", { class: "caption", id: "write-reading" });
  const controls = element("div", { class: "controls" },
    element("div", { class: "control" }, element("label", { for: "write", text: "Text (class digits " +
      `0-${classesOf(app) - 1}, up to ${MAX_TEXT})` }), field),
    range(app, "conditional-t", "Temperature T", 0.3, 1.5, 0.1, (value) => value.toFixed(1)),
    button("New style", () => app.set("seed", Math.floor(Math.random() * 100_000)), { class: "new-style" }));
  const lines = element("div", { class: "lines" });
  const scores = element("div", { class: "scores-list" });
  for (const model of models) {
    const canvas = element("canvas", { class: "line", "data-kind": model.kind, role: "img",
                                       "aria-label": `${model.label}: the text written` });
    const note = element("span", { class: "caption" });
    lines.append(element("figure", { class: "model", "data-kind": model.kind },
      element("figcaption", {}, element("strong", { text: model.label }), note), canvas));
    rows[model.kind] = { canvas, note };
    scores.append(scoresTable(model));
  }
  if (!models.length) lines.append(element("p", { class: "unavailable", text: "Tick a model above that has a " +
    `conditional twin (${Object.values(app.dataset.conditional).map((model) => model.label).join(", ")}).` }));
  section.replaceChildren(lead, controls, keypad(app), problem, reading, lines, scores);
}

export async function render(app) {
  if (!field) return;
  const names = app.dataset.manifest.class_names || [];
  const glyphs = parseText(app.settings.write, classesOf(app));  // the settings hold a usable text only
  const labels = glyphs.filter((glyph) => glyph !== SPACE);
  const read = glyphs.map((glyph) => (glyph === SPACE ? "␣" : names[glyph] ?? glyph)).join(", ");
  reading.textContent = `Reads: ${read} · style: seed ${app.settings.seed}, T = ${app.settings["conditional-t"]}`;
  app.lastStyles = {};
  const results = await eachModel(shown(app), async (model) => {
    const z = styleCode(app, model.d);
    const codes = new Float32Array(labels.length * model.d);
    for (let i = 0; i < labels.length; i++) codes.set(z, i * model.d);
    return { z, pixels: await decodeLabelled(model, codes, labels, labels.length) };
  });
  for (const { model, z, pixels, why } of results) {
    const target = rows[model.kind];
    if (!target) continue;
    target.note.textContent = why ? ` · ${why}` : "";
    target.canvas.hidden = Boolean(why);
    if (why) continue;
    drawLine(target.canvas, pixels, glyphs, SPACE, app.dataset.manifest);
    target.canvas.style.setProperty("--glyphs", labels.length + (glyphs.length - labels.length) / 2);
    app.lastStyles[model.kind] = z;  // the code each glyph was decoded from (tests decode it with torch)
  }
}
