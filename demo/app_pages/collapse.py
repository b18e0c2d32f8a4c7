"""Collapse: the Gaussian toy of model collapse, and the image study across generations (shipped runs + live)."""

import numpy as np
import plotly.graph_objects as go
import streamlit as st
from scipy.stats import norm

import collapse_studies
import ui
from vaegan_core.experiments.collapse import GaussianCollapseConfig, collapse_times, simulate, summarize

choice = ui.page_header(
    "Collapse",
    "Two different failures. **" + ui.term("mode-collapse") + "** happens inside one training run: the generator "
    "covers only part of the data (low " + ui.term("precision-recall", "recall") + ", missing classes) already at "
    "generation 0. **" + ui.term("model-collapse") + "** happens across generations, "
    "when each model is trained on the previous model's samples: the tails go first, then the variance "
    "(Shumailov et al., Nature 2024). A gap between models at generation 0 is mode collapse; a slope across "
    "generations is model collapse; fresh real data slows it.",
    needs_models=False,
)
gaussian_tab, image_tab, modes_tab = ui.tabs("collapse-tab", ["Gaussian toy", "Images", "Mode vs model collapse"])

if gaussian_tab.open:
    with gaussian_tab:
        st.markdown("Fit N(mu, sigma^2) to M samples of N(0, 1); then, each generation, fit it again to M samples "
                    "drawn from the previous fit. Every run is exact and vectorised, so thousands of runs take a "
                    "fraction of a second.")
        c1, c2, c3, c4 = st.columns(4)
        sizes, lengths, counts = [5, 10, 20, 50, 100, 200, 500, 1000], [50, 100, 200, 500, 1000, 2000], [50, 100, 200, 500,
                                                                                                          1000, 2000]
        samples = c1.select_slider("Samples per generation M", sizes, key=ui.linked("toy-m", 100, ui.one_of(sizes, int)))
        generations = c2.select_slider("Generations", lengths, key=ui.linked("toy-generations", 500, ui.one_of(lengths, int)))
        runs = c3.select_slider("Runs", counts, key=ui.linked("toy-runs", 200, ui.one_of(counts, int)))
        estimator = c4.radio("Variance estimator", ["unbiased", "mle"], horizontal=True,
                             key=ui.linked("toy-estimator", "unbiased", ui.one_of(["unbiased", "mle"])),
                             help="unbiased: S/(M-1); MLE: S/M, which shrinks sigma a little every generation")
        c5, c6, c7, c8 = st.columns(4)
        bias = c5.slider("Sampling bias lambda", 0.0, 0.3, step=0.01, key=ui.linked("toy-bias", 0.0, ui.as_float(0.0, 0.3)),
                         help="Samples drawn from N(mu, ((1-lambda) sigma)^2), like sampling at low temperature")
        real = c6.slider("Fresh real data share", 0.0, 1.0, step=0.05, key=ui.linked("toy-real", 0.0, ui.as_float(0.0, 1.0)))
        accumulate = c7.checkbox("Accumulate data", help="Fit each generation to all data so far, not only the newest M",
                                 key=ui.linked("toy-accumulate", False, ui.as_bool))
        seed = choice["seed"]  # one place for each setting: the sidebar's seed, as on every page
        c8.caption(f"Seed {seed}: the sidebar's. The same seed gives the same runs.")
        config = GaussianCollapseConfig(samples=samples, generations=generations, runs=runs, estimator=estimator,
                                        sampling_bias=bias, real_fraction=real, accumulate=accumulate, seed=int(seed))

        @st.cache_data(show_spinner=False, max_entries=32)
        def gaussian(config: GaussianCollapseConfig):
            result = simulate(config)
            return result, summarize(config, result)

        result, summary = gaussian(config)
        x = summary["generation"]
        left, right = st.columns(2)
        with left:
            figure = go.Figure([
                go.Scatter(x=x, y=summary["sigma_p90"], line={"width": 0}, showlegend=False, hoverinfo="skip"),
                go.Scatter(x=x, y=summary["sigma_p10"], fill="tonexty", line={"width": 0}, name="10-90% of runs"),
                go.Scatter(x=x, y=summary["sigma_median"], name="median sigma"),
                go.Scatter(x=x, y=summary["variance_mean"], name="mean sigma^2", line={"dash": "dot"}),
            ])
            figure.update_layout(height=320, title="sigma per generation", xaxis_title="generation",
                                 margin={"t": 40, "b": 0})
            ui.chart(st, figure, "sigma")
            st.caption("With the unbiased estimator E[sigma^2] = 1 in every generation (a martingale), yet the typical "
                       "run collapses: the mean is carried by ever rarer runs whose sigma grew, so with a finite number "
                       "of runs the plotted mean also drifts down eventually.")
        with right:
            figure = go.Figure([
                go.Scatter(x=x, y=summary["w2_squared_mean"], name="mean W2^2 to N(0,1)"),
                go.Scatter(x=x, y=summary["w2_squared_theory"], name="theory 1.5 n / M", line={"dash": "dash"}),
            ])
            figure.update_layout(height=320, title="distance to the real distribution", xaxis_title="generation",
                                 yaxis_type="log", margin={"t": 40, "b": 0})
            ui.chart(st, figure, "w2")
        left, right = st.columns(2)
        with left:
            figure = go.Figure([
                go.Scatter(x=x, y=summary["tail_mass_median"], name="median run"),
                go.Scatter(x=x, y=summary["tail_mass_mean"], name="mean over runs", line={"dash": "dot"}),
            ])
            figure.add_hline(y=summary["tail_mass_real"], line_dash="dash", annotation_text="N(0,1): 4.55%")
            figure.update_layout(height=300, title="tail mass P(|x| > 2) of the fit", xaxis_title="generation",
                                 margin={"t": 40, "b": 0})
            ui.chart(st, figure, "toy-tail-mass")
        with right:
            @st.cache_data(show_spinner="Timing collapse for several M...", max_entries=8)
            def times(estimator: str, bias: float, real: float, accumulate: bool, seed: int):
                base = GaussianCollapseConfig(runs=200, generations=10, estimator=estimator, sampling_bias=bias,
                                              real_fraction=real, accumulate=accumulate, seed=seed)
                return collapse_times([5, 10, 20, 50, 100, 200], base)

            rows = times(estimator, bias, real, accumulate, int(seed))
            ms = [row["samples"] for row in rows]
            figure = go.Figure()
            for key, label in (("to_half", "sigma < 0.5"), ("to_tenth", "sigma < 0.1")):
                figure.add_trace(go.Scatter(x=ms, y=[row[key] for row in rows], mode="markers", name=f"median {label}"))
                figure.add_trace(go.Scatter(x=ms, y=[row[key + "_theory"] for row in rows], mode="lines",
                                            name=f"theory {label}", line={"dash": "dash"}))
            figure.update_layout(height=300, title="generations until the median run collapses", xaxis_type="log",
                                 yaxis_type="log", xaxis_title="M", margin={"t": 40, "b": 0})
            ui.chart(st, figure, "collapse-times")
            st.caption("Theory (lines): about 1.39 (M-1) and 4.6 (M-1) generations for the unbiased estimator, "
                       "0.69 M and 2.3 M for the MLE; it assumes no bias, no real data, no accumulation. "
                       "Missing dots: no collapse within the simulated generations.")

        st.markdown("**One run, animated**: a histogram of M samples of each generation's fit, against N(0, 1).")
        frames_at = np.unique(np.linspace(0, generations, 40).round().astype(int))
        rng = np.random.default_rng(int(seed))
        grid = np.linspace(-4, 4, 200)
        frames = []
        for k in frames_at:
            draws = rng.normal(result["mu"][k, 0], result["sigma"][k, 0], max(samples, 200))
            frames.append(go.Frame(name=str(k), data=[go.Histogram(x=draws, histnorm="probability density",
                                                                   xbins={"start": -4, "end": 4, "size": 0.2})]))
        figure = go.Figure(data=[frames[0].data[0], go.Scatter(x=grid, y=norm.pdf(grid), name="N(0, 1)")], frames=frames)
        figure.update_layout(
            height=340, xaxis_range=[-4, 4], yaxis_range=[0, 1.5], margin={"t": 20, "b": 0}, showlegend=False,
            updatemenus=[{"type": "buttons", "buttons": [{"label": "Play", "method": "animate",
                                                          "args": [None, {"frame": {"duration": 150}}]}]}],
            sliders=[{"steps": [{"label": f.name, "method": "animate", "args": [[f.name], {"mode": "immediate"}]}
                                for f in frames], "currentvalue": {"prefix": "generation "}}])
        ui.chart(st, figure, "toy-histogram")

if image_tab.open:
    with image_tab:
        collapse_studies.image_studies()

if modes_tab.open:
    with modes_tab:
        collapse_studies.mode_versus_model()
