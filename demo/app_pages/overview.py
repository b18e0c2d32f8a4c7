"""Overview: what the three models are, their losses, and a card per loaded checkpoint."""

import streamlit as st

import ui
from vaegan_core.storage import zoo
from vaegan_core.config import GMM_COMPONENTS
from vaegan_core.storage.paths import GMM_GRID_FILE, SAMPLES_DIR

choice = ui.page_header(
    "VAE-GAN Explorer",
    "See, compare and teach variational autoencoders, GANs and their hybrid, the VAE-GAN of Larsen et al. (2016). "
    "Pick a dataset and models in the sidebar; every page uses the same choices.",
)

left, middle, right = st.columns(3)
with left:
    st.subheader("VAE")
    st.markdown("An **encoder** maps an image x to a Gaussian q(z|x), a **decoder** a code z back to an image; "
                "training maximises the " + ui.term("elbo", "ELBO") + " (Kingma & Welling 2013):")
    st.latex(r"\begin{aligned}\mathcal{L}_{\mathrm{ELBO}} &= \mathbb{E}_{q(z|x)}[\log p(x|z)] \\"
             r"&\quad - D_{\mathrm{KL}}(q(z|x)\,\|\,p(z))\end{aligned}")
    st.markdown("Pixel-wise likelihoods make reconstructions **blurry**: an average of plausible images "
                "scores better than one sharp guess.")
with middle:
    st.subheader("GAN")
    st.markdown("A **generator** G maps noise z to images; a **discriminator** D tells real from generated. "
                "They play a minimax game (Goodfellow et al. 2014):")
    st.latex(r"\begin{aligned}\min_G \max_D\;& \mathbb{E}_{x}[\log D(x)] \\"
             r"&+ \mathbb{E}_{z}[\log(1 - D(G(z)))]\end{aligned}")
    st.markdown("Samples are **sharp**, but there is no encoder, and the generator may cover only some of the data "
                "(**" + ui.term("mode-collapse", "mode collapse") + "**).")
with right:
    st.subheader("VAE-GAN")
    st.markdown("A VAE whose decoder is a GAN's generator, its reconstructions compared in a discriminator layer "
                "Dis_l, not in pixels (Larsen et al. 2016):")
    st.latex(r"\begin{aligned}\mathcal{L} &= \mathcal{L}_{\mathrm{prior}} + \mathcal{L}_{\mathrm{llike}}^{\mathrm{Dis}_l}"
             r" + \mathcal{L}_{\mathrm{GAN}} \\ \mathcal{L}_{\mathrm{llike}}^{\mathrm{Dis}_l} &= -\mathbb{E}_{q(z|x)}"
             r"[\log p(\mathrm{Dis}_l(x)\,|\,z)]\end{aligned}")
    st.markdown("Encoder: prior + feature loss; decoder: gamma x feature loss + GAN loss; discriminator: GAN loss. "
                "Result: an encoder *and* sharp images.")

with st.expander("Where samples come from: the prior, and the holes in it"):
    st.markdown(
        "A VAE samples by decoding codes z ~ p(z) = N(0, I). But its decoder was trained on the codes its encoder "
        "gives real images, whose distribution is the **aggregate posterior**")
    st.latex(r"q(z) = \frac{1}{N} \sum_{i=1}^{N} q(z \mid x_i)")
    st.markdown(
        "The KL term pulls q(z) towards N(0, I) without ever making them equal: N(0, I) keeps mass in **holes** "
        "where no training image was encoded, and the decoder turns codes there into blends of classes. A second "
        "prior fixes this after training: fit a density to the codes of the training images and sample from it "
        "(*ex-post density estimation*, Ghosh et al. 2020; Dai & Wipf's two-stage VAE, 2019). Here it is a "
        + ui.term("gmm-prior", "Gaussian mixture") + f" (of {GMM_COMPONENTS} components by default), fitted once "
        "after training. The **Compare** and **FID** pages switch between the two priors; the GAN has no encoder, so it keeps N(0, I).")


def model_card(kind: str, fraction: float = 1.0, short: bool = False, samples=None, numbers=None) -> None:
    """What a loaded checkpoint draws (``fraction``: the top share of its sample grid; ``short``: a one-line
    caption) and its numbers; ``samples`` and ``numbers``: where each goes (default: one under the other here)."""
    explorer = ui.explorer()
    samples = st if samples is None else samples
    if not explorer.is_available(choice["dataset"], kind):
        samples.info(explorer.missing_message(choice["dataset"], kind))
        return
    # Cards come from config.json and metrics.json alone: no weights are loaded (nor torch imported) here
    checkpoint = explorer.folder(choice["dataset"], kind)
    folder = checkpoint.path
    config = checkpoint.config_json()
    state = config.get("state", {})
    train = config.get("train") or {}
    model = config.get("model") or {}
    minutes = state.get("train_seconds", 0) / 60
    parameters = (config.get("parameters") or {}).get("total")
    size = (f"parameters: **{parameters:,}**" if parameters else
            f"stored values: **{checkpoint.stored_values():,}**")
    # pictures written with the checkpoint (no weights loaded, so the landing page stays instant): the GMM
    # prior's samples where the model has one (Compare's default), else the training run's last epoch grid
    has_gmm = checkpoint.gmm_file.is_file()
    gmm_grid = folder / SAMPLES_DIR / GMM_GRID_FILE
    grids = checkpoint.sample_grids()
    if gmm_grid.is_file() and has_gmm:
        ui.static_picture(gmm_grid, f"GMM prior samples, epoch {state.get('epoch', '?')}" if short else
                          f"samples of the GMM prior, as Compare shows them (epoch {state.get('epoch', '?')})",
                          where=samples, fraction=fraction)
    elif grids:
        ui.static_picture(grids[-1], f"N(0, I) samples, epoch {state.get('epoch', '?')}" if short else
                          f"samples after epoch {state.get('epoch', '?')} (N(0, I) codes)", where=samples,
                          fraction=fraction)
    # on a projector the samples speak; the numbers are one click away (the page keeps to fewer screens)
    numbers = st if numbers is None else numbers
    details = numbers.expander(f"The {ui.LABELS[kind]}'s numbers") if ui.presenting() else numbers
    details.markdown(
        f"- {size}, latent size {model.get('latent_dim', '?')}, width {model.get('width', '?')}\n"
        f"- data: {ui.dataset_label(train['dataset']) if train.get('dataset') else '?'}, {state.get('epoch', '?')} epochs, batch {train.get('batch_size', '?')}\n"
        f"- trained on: {state.get('device', '?')}, {minutes:.0f} min"
        + ("\n- second prior: GMM of the training codes" if has_gmm else "")
    )
    metrics = checkpoint.metrics()
    rows = zoo.scores_table(metrics)
    if rows:
        # a Markdown table: it wraps (an interactive one cut off its value columns), and scrolls in its own box
        # where it is still wider than its place (ui.SHARP_CSS); its cells are text ("-" for a score not computed,
        # e.g. by `vaegan eval --fid-only`, which in a column of numbers Streamlit could not convert), and it needs
        # no pandas, whose import was 0.44 s of the first page a freshly started server renders
        # "N(0, I)" kept on one line in a narrow column's header (it wrapped as "N(0, / I)")
        details.markdown(ui.markdown_table([{name.replace("N(0, I)", "N(0,\u00a0I)"): (
            "-" if value is None else value if isinstance(value, str) else f"{value:g}") for name, value in row.items()}
            for row in rows]))
        sizes = sorted({result.get("n", 0) for result in metrics.values()})
        details.caption(f"{', '.join(f'{n:,}' for n in sizes)} samples against the test images; "
                        "domain: the LeNet features of the dataset.",
                        help="Measured by `vaegan eval`, stored in the checkpoint's metrics.json.")
    else:
        details.caption("Not measured yet.", help=f"`vaegan eval {explorer.shown_path(folder)}` measures it.")
    diagnostics = zoo.diagnostics_summary(checkpoint.diagnostics())
    if diagnostics:
        details.markdown("\n".join(f"- {line}" for line in diagnostics))


if ui.presenting():  # on a projector: each model's samples under its idea, 3 rows of 8 each, on one screen; its
    # numbers fold into an expander of the page's whole width below (in a third of a laptop's page its table scrolled)
    below = st.container()
    for column, kind in ((left, "vae"), (middle, "gan"), (right, "vaegan")):
        if kind in choice["kinds"]:
            with column:
                model_card(kind, fraction=3 / 8, short=True, samples=column, numbers=below)
else:  # a row per model, its samples beside its numbers: a score table of five columns is wider than a third of
    # a laptop's page (at 1366 x 768 the VAE's and the VAE-GAN's ran into each other and off the window)
    st.divider()
    st.subheader(f"Loaded models: {ui.dataset_label(choice['dataset'])}")
    for kind in choice["kinds"]:
        st.markdown(f"#### {ui.LABELS[kind]}")
        samples, numbers = st.columns([2, 3])
        model_card(kind, samples=samples, numbers=numbers)
