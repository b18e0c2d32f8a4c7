// The explorer: reads explorer.json and the URL, loads a dataset's models, builds the open view and redraws it on
// every change. A redraw asked for while one runs is folded into one more, with the latest settings: dragging a
// control never queues stale frames.
import { element } from "./draw.js";
import { loadDataset, fetchJSON, loaded } from "./models.js";
import { MAX_SEED, VIEWS, query, readSettings, specs } from "./params.js";
import * as compare from "./compare.js";
import * as latent from "./latent.js";
import * as interpolation from "./interpolation.js";
import * as map from "./map.js";
import * as draw from "./sketch.js";
import * as conditional from "./conditional.js";
import { preprocess } from "./preprocess.js";

const views = { compare, latent, interpolation, map, draw, conditional };
const VIEW_LABELS = { compare: "Compare", latent: "Latent sliders", interpolation: "Interpolation", map: "Latent map",
                      draw: "Draw", conditional: "Conditional" };
// controls that change the layout
const REBUILD = new Set(["kinds", "interp-between", "latent-source", "latent-model", "map-model"]);

const app = {
  catalogue: [], datasets: {}, dataset: null, spec: null, settings: {}, lastCodes: {},
  started: 0, finished: 0, waiters: [], readyAt: null, loaded,
  shownModels() {
    return this.settings.kinds.map((kind) => this.dataset.models[kind]).filter(Boolean);
  },
  workingModels() {
    return this.shownModels().filter((model) => !model.error);
  },
  set(name, value) {
    this.settings[name] = value;
    writeLink();
    if (name === "dataset") return openDataset(value);
    if (name === "view") return openView();
    if (name === "present") return present();
    if (REBUILD.has(name)) build();
    if (name === "seed" && Number(seedInput.value) !== value) seedInput.value = value;
    requestRender();
  },
  /** A promise of the end of the first redraw numbered above `after` (by default: the first that starts after this
   * call). Take `explorer.started` before a change and pass it, since a change starts its redraw at once. */
  drawn(after = this.started) {
    if (this.finished > after) return Promise.resolve(this.finished);
    return new Promise((resolve) => this.waiters.push({ after, resolve }));
  },
};
app.redraw = () => requestRender();  // the Draw view's strokes (no setting changes)
app.preprocess = preprocess;  // read_drawing's preprocessing, reachable for tests: explorer.preprocess(ink, w, h, style)
window.explorer = app;

const $ = (selector) => document.querySelector(selector);
let seedInput, linkTimer = null, running = false, again = false;

function writeLink() {  // history.replaceState is rate-limited: write after the drag pauses
  clearTimeout(linkTimer);
  linkTimer = setTimeout(() => history.replaceState(null, "", query(app.settings, app.spec) || location.pathname), 150);
}

function notice(text, kind = "notice") {
  const node = element("p", { class: kind, role: kind === "notice" ? "status" : "alert", text });
  if (kind === "notice") node.append(element("button", { type: "button", class: "dismiss", "aria-label": "dismiss",
                                                         text: "×" }));
  node.querySelector(".dismiss")?.addEventListener("click", () => node.remove());
  $("#notices").append(node);
}

async function requestRender() {
  if (running) { again = true; return; }
  running = true;
  try {
    do {
      again = false;
      const id = ++app.started;
      document.body.dataset.busy = "true";
      try {
        await views[app.settings.view].render(app);
      } catch (error) {
        notice(`Drawing failed: ${error.message || error}`, "model-error");
      }
      app.finished = id;
      app.waiters = app.waiters.filter((waiter) => (waiter.after < id ? (waiter.resolve(id), false) : true));
    } while (again);
  } finally {
    running = false;
    document.body.dataset.busy = "false";
    document.body.dataset.state = "ready";
    app.readyAt ??= performance.now();  // load to interactive: the first view drawn (the benchmark reads it)
  }
}

/** The open view's controls and columns, built afresh; the focused control keeps the focus. */
function build() {
  const focused = document.activeElement;
  const name = focused?.name, value = focused?.value;
  for (const view of VIEWS) {
    const section = $(`#view-${view}`), open = view === app.settings.view;
    section.hidden = !open;
    $(`#tab-${view}`).setAttribute("aria-selected", String(open));
    $(`#tab-${view}`).tabIndex = open ? 0 : -1;
    if (open) views[view].build(section, app);
    else section.replaceChildren();
  }
  if (name && !focused.isConnected) {
    const found = document.querySelector(`[name="${CSS.escape(name)}"][value="${CSS.escape(value)}"]`) ||
      document.querySelector(`[name="${CSS.escape(name)}"]`);
    found?.focus();
  }
}

function openView() {
  interpolation.stop();
  build();
  requestRender();
}

/** Presenter mode (?present=1, as the app's): larger text and pictures for a projector, no scores or key help. */
function present() {
  document.body.dataset.present = String(app.settings.present === 1);
  document.body.dataset.embed = String(app.settings.embed === 1);  // ?embed=1: in the app's frame, the view alone
  $("#present").checked = app.settings.present === 1;
}

function buildHeader() {
  const datasetSelect = $("#dataset");
  datasetSelect.replaceChildren(...app.catalogue.map((entry) => element("option",
    { value: entry.name, text: entry.label, selected: entry.name === app.settings.dataset })));
  const kinds = $("#kinds");
  kinds.replaceChildren(element("legend", { text: "Models" }));
  for (const model of Object.values(app.dataset.models)) {
    const input = element("input", { type: "checkbox", name: "kinds", value: model.kind,
                                     checked: app.settings.kinds.includes(model.kind) });
    input.addEventListener("change", () => {
      const chosen = [...kinds.querySelectorAll("input:checked")].map((box) => box.value);
      if (!chosen.length) { input.checked = true; return; }  // at least one model
      app.set("kinds", Object.keys(app.dataset.models).filter((kind) => chosen.includes(kind)));
    });
    kinds.append(element("label", {}, input, ` ${model.label}`));
  }
  seedInput.value = app.settings.seed;
  present();
}

async function openDataset(name) {
  interpolation.stop();
  document.body.dataset.state = "loading";
  $("#notices").querySelectorAll(".model-error").forEach((node) => node.remove());
  const entry = app.catalogue.find((item) => item.name === name);
  try {
    app.datasets[name] ??= await loadDataset(entry);
  } catch (error) {
    notice(`${entry.label} could not be loaded: ${error.message || error}. Run \`vaegan export-web\` again.`, "fatal");
    document.body.dataset.state = "error";
    return;
  }
  app.dataset = app.datasets[name];
  app.spec = specs(app.catalogue.map((item) => item.name), app.dataset.manifest);
  const first = !app.settings.view;
  const { settings, problems } = readSettings(first ? location.search : "", app.spec, first ? {} : app.settings);
  app.settings = { ...settings, dataset: name };
  problems.forEach((problem) => notice(problem));
  // each broken model once; a runtime that cannot load is one sentence for them all
  const errors = new Set(Object.values(app.dataset.models).map((model) => model.error).filter(Boolean));
  for (const error of errors) notice(error, "model-error");
  app.lastCodes = {};
  buildHeader();
  build();
  writeLink();
  await requestRender();
}

function keyboard(event) {
  const target = event.target;
  const typing = target.matches?.("input[type=number], input[type=text], select, textarea");
  if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
  const index = VIEWS.findIndex((_, position) => event.key === String(position + 1));
  if (index >= 0) {
    app.set("view", VIEWS[index]);
    $(`#tab-${VIEWS[index]}`).focus();
  } else if (event.key === "n" || event.key === "N") {  // n: next seed, N: previous
    app.set("seed", Math.min(MAX_SEED, Math.max(0, app.settings.seed + (event.key === "n" ? 1 : -1))));
  } else if (event.key === "p" && app.settings.view === "interpolation") {
    interpolation.toggle(app);
  } else return;
  event.preventDefault();
}

async function start() {
  seedInput = $("#seed");
  const tabs = $("#tabs");
  for (const view of VIEWS) {
    const tab = element("button", { type: "button", role: "tab", id: `tab-${view}`, "aria-controls": `view-${view}`,
                                    text: VIEW_LABELS[view] });
    tab.addEventListener("click", () => app.set("view", view));
    tabs.append(tab);
  }
  tabs.addEventListener("keydown", (event) => {  // arrow keys move between the tabs, as in a tab list
    const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
    if (!step) return;
    const next = VIEWS[(VIEWS.indexOf(app.settings.view) + step + VIEWS.length) % VIEWS.length];
    app.set("view", next);
    $(`#tab-${next}`).focus();
  });
  seedInput.addEventListener("input", () => {
    const value = Number(seedInput.value);
    const valid = seedInput.value.trim() !== "" && Number.isInteger(value) && value >= 0 && value <= MAX_SEED;
    seedInput.setAttribute("aria-invalid", String(!valid));
    if (valid) app.set("seed", value);
  });
  $("#dataset").addEventListener("change", (event) => app.set("dataset", event.target.value));
  $("#present").addEventListener("change", (event) => app.set("present", event.target.checked ? 1 : 0));
  document.addEventListener("keydown", keyboard);
  let index;
  try {
    index = await fetchJSON("explorer.json");
    if (!Array.isArray(index.datasets) || !index.datasets.length) throw new Error("explorer.json lists no dataset");
  } catch (error) {
    notice(`${error.message || error}: this folder holds no exported explorer; make one with ` +
      "`vaegan export-web --out DIR`.", "fatal");
    document.body.dataset.state = "error";
    return;
  }
  app.catalogue = index.datasets;
  const names = app.catalogue.map((entry) => entry.name);
  const asked = new URLSearchParams(location.search).get("dataset");
  // a bad ?dataset= is reported with the other settings (readSettings), once its manifest is known
  await openDataset(names.includes(asked) ? asked : names[0]);
}

start();
