"""FID on demand: pick models, n and the feature extractor; see a table and a chart. Results are cached."""

import plotly.graph_objects as go
import streamlit as st

import ui
from vaegan_core.storage import zoo
from vaegan_core.app import FID_METRICS, FID_METRICS_WITHOUT_PR
from vaegan_core.config import EXTRACTOR_LABELS, EXTRACTORS, PRIOR_LABELS
from vaegan_core.errors import VaeganError
from vaegan_core.training.folders import is_folder
from vaegan_core.metrics.features_cache import real_features_cached

choice = ui.page_header(
    "FID",
    "The " + ui.term("fid", "FID") + ": the Fréchet distance between the feature statistics of real test images "
    "and of n generated ones (lower is better), with " + ui.term("precision-recall", "precision") + " (are samples "
    "realistic?), recall (is the data covered?) and the classifier " + ui.term("is", "Inception Score") + ". Domain features (a LeNet trained on the dataset) take seconds; the standard Inception "
    "features are what papers report, and are slow on a CPU.",
)
dataset = choice["dataset"]
models = ui.models(dataset, choice["kinds"])
if not models:
    ui.stop()

data = ui.explorer().data_of(dataset)  # an image folder's models name the folder they learnt
left, middle, right = st.columns(3)
n = left.select_slider("Generated images n", [1000, 2000, 5000, 10000],
                       key=ui.linked("fid-n", 5000, ui.one_of([1000, 2000, 5000, 10000], int)),
                       help="FID is biased upward for small n: compare numbers at the same n only.")
# an image folder has no domain classifier: Inception only
extractors = list(EXTRACTORS if not is_folder(data) else ("inception",))  # a live run's data has its LeNet too
extractor = middle.radio("Features", extractors, horizontal=True, format_func=EXTRACTOR_LABELS.get,
                         key=ui.linked("fid-features", extractors[0], ui.one_of(extractors)))
kinds = list(models)  # the sidebar's models: one place for each setting
right.caption("Models: " + ", ".join(ui.LABELS[kind] for kind in kinds) + " (the sidebar's *Models*).")
with_pr = st.checkbox(
    "Precision and recall", value=extractor == "lenet" or real_features_cached(extractor, data),
    help="They need the features of all 10,000 real test images: computed once on this machine, then cached "
         "(minutes with Inception on a CPU). Without them, FID uses the real statistics shipped with the app.")
metrics = FID_METRICS if with_pr else FID_METRICS_WITHOUT_PR
prior = ui.prior_choice(st)
priors = {kind: models[kind].prior(prior, fallback=True).name for kind in kinds}


store = ui.explorer().results  # this process's FID results, shared by every session (and kept for it)
keys = {kind: store.key(models[kind], data, n, extractor, choice["seed"], metrics, priors[kind]) for kind in kinds}
todo = [kind for kind in kinds if keys[kind] not in store]
if todo:
    try:
        with st.spinner("Timing the feature extractor..."):
            seconds = sum(store.estimate_seconds(extractor, n, data, metrics, models[kind], priors[kind])
                          for kind in todo)  # each model's sampling and features
        st.caption(f"Estimated time on this machine: about {seconds / 60:.1f} minutes for {len(todo)} model(s)"
                   if seconds > 90 else f"Estimated time on this machine: about {seconds:.0f} s")
    except VaeganError as error:
        ui.error_message(error)
        ui.stop()
failed = False
if todo and st.button(f"Compute ({len(todo)} model{'s' if len(todo) > 1 else ''})", type="primary"):
    notice = st.empty()  # "busy" while other visitors' FIDs run first (one at a time per process)
    bar = st.progress(0.0, text="starting")
    report = ui.progress_callback(bar)
    for index, kind in enumerate(todo):
        def progress(fraction: float, message: str, kind=kind, index=index) -> None:  # the whole job's progress
            notice.empty()
            report((index + fraction) / len(todo), f"model {index + 1} of {len(todo)}, {ui.LABELS[kind]}: {message}")
        try:
            store.compute(models[kind], data, n, extractor, choice["seed"], metrics, priors[kind], progress=progress,
                          waiting=lambda ahead: notice.info(ui.busy_message(ahead, "FID computations")))
        except VaeganError as error:
            st.error(f"{ui.LABELS[kind]}: {error}")
            failed = True
    bar.empty()
    notice.empty()
    if not failed:
        st.rerun()  # the results alone: no button and no estimate of work already done

done = {kind: store.get(keys[kind]) for kind in kinds if keys[kind] in store}
if not done:
    st.info("Press *Compute*. Results stay cached for this app process, for every visitor.")
    ui.stop()


def _number(scores: dict, name: str) -> str:
    """A measure as the tables of every page show it (``zoo.HEADLINE_SHOWN``'s decimals); "-": not computed."""
    value = scores.get(name)
    return "-" if value is None else f"{value:,.{zoo.HEADLINE_SHOWN.get(name, 3)}f}"


rows, fids = [], []
for kind, result in done.items():
    scores = zoo.headline_scores(result)
    fids.append(scores.get("fid"))
    rows.append({"model": ui.LABELS[kind], "prior": PRIOR_LABELS[result.get("prior", "normal")],
                 "FID": _number(scores, "fid"), "precision": _number(scores, "precision"),
                 "recall": _number(scores, "recall"), "IS (classifier)": _number(scores, "is"),
                 "classes drawn": _number(scores, "classes_covered"), "n": f"{result['n']:,}",
                 "features": EXTRACTOR_LABELS.get(result["extractor"].split("-")[0], result["extractor"]),  # lenet-mnist
                 "time": f"{result['wall_seconds']:.0f} s"})
st.markdown(ui.markdown_table(rows))  # text cells: "-" for a measure not computed, never "None"
figure = go.Figure(go.Bar(x=[row["model"] for row in rows], y=fids,
                          marker_color=[ui.MODEL_COLOURS[kind] for kind in done],  # the colours of every page
                          text=[row["FID"] for row in rows], textposition="outside", cliponaxis=False))
figure.update_layout(height=320, yaxis_title=f"FID ({EXTRACTOR_LABELS.get(extractor, extractor)}, n={n:,})",
                     margin={"t": 30})
ui.chart(st, figure, "fid-bars")
real_sides = sorted({result.get("real_side", "features") for result in done.values()})
n_real = max(result.get("n_real", 0) for result in done.values())
st.caption(f"Against the {ui.dataset_label(dataset)} test split ({n_real:,} images; real side: {', '.join(real_sides)}), seed "
           f"{choice['seed']}. Shipped models also carry their numbers at n = 10,000 on the Overview page"
           + ("." if n == 10_000 else f": FID at n = {n:,} is higher than at 10,000 (it is biased upward for small n, by "
              "a different amount for each model), so the ranking here can differ from the Overview's."))
