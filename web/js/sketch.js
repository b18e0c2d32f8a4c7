// Draw: a pad for the mouse, a finger or a pen (pointer events; or the keyboard: arrows move the pen, Space lifts or
// lowers it). The drawing goes through read_drawing's preprocessing (preprocess.js) and each model with an encoder
// reconstructs it (encoder, then decoder), once per animation frame while the strokes go on.
import { drawGrid, element } from "./draw.js";
import { inkOf, preprocess } from "./preprocess.js";
import { button, eachModel, modelColumn } from "./ui.js";
import { decode, encode } from "./models.js";

const SIDE = 280, LINE = 18, KEY_STEP = 10;  // the pad's pixels (10 x 28), the stroke width, an arrow key's move
let pad = null, input = null, status = null, canvases = {}, saved = null, last = null, pen = null, frame = 0;

const styleOf = (app) => (app.dataset.manifest.dataset === "fashion-mnist" ? "fashion" : "mnist");
const encoders = (app) => app.shownModels().filter((model) => model.encoderFile);

function schedule(app) {  // at most one redraw per animation frame; main.js folds a redraw asked for while one runs
  if (frame) return;
  frame = requestAnimationFrame(() => { frame = 0; app.redraw(); });
}

function line(app, from, to) {
  const context = pad.getContext("2d");
  context.strokeStyle = "#ffffff";
  context.lineWidth = LINE;
  context.lineCap = context.lineJoin = "round";
  context.fillStyle = "#ffffff";
  context.beginPath();
  context.arc(...from, LINE / 2, 0, 2 * Math.PI);  // a tap is a dot (a zero-length line draws nothing)
  context.fill();
  context.beginPath();
  context.moveTo(...from);
  context.lineTo(...to);
  context.stroke();
  saved = context.getImageData(0, 0, SIDE, SIDE);
  schedule(app);
}

function at(event) {
  const rect = pad.getBoundingClientRect();
  return [(event.clientX - rect.left) / rect.width * SIDE, (event.clientY - rect.top) / rect.height * SIDE];
}

export function clear(app) {
  const context = pad.getContext("2d");
  context.fillStyle = "#000000";
  context.fillRect(0, 0, SIDE, SIDE);
  saved = null;
  schedule(app);
}

function listen(app) {
  pad.addEventListener("pointerdown", (event) => {
    pad.setPointerCapture(event.pointerId);
    last = at(event);
    line(app, last, last);
  });
  pad.addEventListener("pointermove", (event) => {
    if (!last || !event.buttons) return;
    const point = at(event);
    line(app, last, point);
    last = point;
  });
  for (const name of ["pointerup", "pointercancel"]) pad.addEventListener(name, () => { last = null; });
  pad.addEventListener("keydown", (event) => {
    const step = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[event.key];
    if (event.key === " " || event.key === "Enter") {
      pen = pen?.down ? { ...pen, down: false } : { at: pen?.at ?? [SIDE / 2, SIDE / 2], down: true };
      if (pen.down) line(app, pen.at, pen.at);
    } else if (event.key === "Delete" || event.key === "Backspace") {
      clear(app);
    } else if (step) {
      pen ??= { at: [SIDE / 2, SIDE / 2], down: false };
      const next = pen.at.map((value, i) => Math.min(SIDE, Math.max(0, value + step[i] * KEY_STEP)));
      if (pen.down) line(app, pen.at, next);
      pen.at = next;
    } else return;
    event.preventDefault();
    status.textContent = `Pen ${pen?.down ? "down" : "up"} at ${pen ? pen.at.map(Math.round).join(", ") : "-"}.`;
  });
}

export function build(section, app) {
  const { manifest } = app.dataset;
  const lead = element("p", { class: "lead", text: "Draw a " + (styleOf(app) === "fashion" ? "piece of clothing" :
    "digit") + " with the mouse, a finger or a pen (or focus the pad: the arrow keys move the pen, Space lowers and " +
    "lifts it, Delete clears). The drawing is prepared as the Python side's read_drawing does " +
    (styleOf(app) === "fashion" ? "(the whole picture fitted into 28 x 28)" : "(cropped to the ink, fitted into " +
    "20 x 20 and centred by its mass in 28 x 28, as MNIST was made)") + "; each model with an encoder encodes it " +
    "and decodes its code, live." });
  canvases = {};
  if (manifest.channels !== 1 || manifest.height !== 28 || manifest.width !== 28 || !encoders(app).length) {
    pad = null;
    section.replaceChildren(lead, element("p", { class: "unavailable", text: "Drawing needs 28 x 28 grey images " +
      "and a shown model with an encoder (a VAE or a VAE-GAN)." }));
    return;
  }
  pad = element("canvas", { class: "pad", width: SIDE, height: SIDE, tabindex: 0, role: "img",
                            "aria-label": "drawing pad: draw with the pointer, or the arrow keys and Space" });
  const previous = saved;  // the drawing survives a rebuild (another model shown, the view left and opened again)
  clear(app);
  if (previous) pad.getContext("2d").putImageData(saved = previous, 0, 0);
  listen(app);
  input = element("canvas", { class: "single input", "aria-label": "what the models see (28 x 28)" });
  status = element("p", { class: "caption", "aria-live": "polite" });
  const columns = element("div", { class: "columns" },
    element("figure", { class: "model original" }, element("figcaption", { text: "Model input" }), input));
  for (const model of encoders(app)) {
    const { column, canvas } = modelColumn(model, "", "single");
    canvases[model.kind] = { canvas, caption: column.querySelector(".caption") };
    columns.append(column);
  }
  section.replaceChildren(lead, element("div", { class: "controls" },
    button("Clear", () => clear(app), { class: "clear" }), status),
    element("div", { class: "map-row" }, element("figure", {}, pad), columns));
}

export async function render(app) {
  if (!pad) return;
  const image = pad.getContext("2d").getImageData(0, 0, SIDE, SIDE);
  const fitted = preprocess(inkOf(image.data, SIDE, SIDE), SIDE, SIDE, styleOf(app));
  input.parentElement.hidden = !fitted;
  for (const target of Object.values(canvases)) target.canvas.hidden = !fitted;
  app.lastInput = fitted;
  if (!fitted) {
    status.textContent = "Draw in the black box: the pad is empty.";
    return;
  }
  drawGrid(input, fitted, 1, 1, app.dataset.manifest);
  if (status.textContent.startsWith("Draw in")) status.textContent = "";
  const results = await eachModel(encoders(app).filter((model) => !model.error), async (model) => {
    const mu = await encode(model, fitted, 1, app.dataset.manifest);
    return { mu, pixels: await decode(model, mu, 1) };
  });
  for (const { model, mu, pixels, why } of results) {
    const target = canvases[model.kind];
    if (!target) continue;
    target.caption.textContent = why ? ` · ${why}` : "";
    target.canvas.hidden = Boolean(why);
    app.lastCodes[model.kind] = mu || null;
    if (pixels) drawGrid(target.canvas, pixels, 1, 1, app.dataset.manifest);
  }
}
