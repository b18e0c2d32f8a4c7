"""What the Streamlit pages share, in one namespace (``import ui``; ``ui.load``, ``ui.picture``, ``ui.linked``, ...).
No model math and no caches of its own: every model, dataset view and result comes from the app layer,
``vaegan_core.app``. The helpers live in one module per job:

- ``ui_settings``: the sidebar's choices, colours and labels;
- ``ui_data``: models, test images and class names (through ``vaegan_core.app``), the warm-up thread;
- ``ui_inputs``: an image from the visitor (test image, drawing, upload);
- ``ui_pictures``: image rows, tables, explanations, errors, presenter mode;
- ``ui_exports``: downloads and the page's zip;
- ``ui_links``: the link of each view (its controls in the URL) and ``stop``;
- ``ui_work``: progress bars, Stop buttons and heavy work one at a time.

torch (1.8 s to import on a 2-core CPU) is imported by the first page that needs a model, not here: the Overview
renders without it, which keeps the app's start within its budget.
"""

from __future__ import annotations

import streamlit as st

# for the pages and app.py: ui.DATASET_LABELS, ui.MAX_SEED, ui.MODEL_KINDS, ui.dataset_label, ui.upload_style
from vaegan_core.app import LIVE, dataset_label, upload_style  # noqa: F401
from vaegan_core.config import DATASET_LABELS, MAX_SEED, MODEL_KINDS, PRIOR_LABELS, PRIORS  # noqa: F401

from glossary_terms import term  # noqa: F401
from ui_data import (LIVE_ROOT, checkpoints_root, class_names, dataset_view, datasets, explorer, live_root,  # noqa: F401
                     load, models, shipped_explorer, start_warm_up, static_picture, test_images, test_split)
from ui_exports import (chart, download, download_grid, export_name, figure_csv, page_zip, start_exports,  # noqa: F401
                        zip_of)
from ui_inputs import drawing_pad, image_source, show_upload  # noqa: F401
from ui_links import (as_bool, as_float, as_int, in_range, link_to_this_view, linked, many_of, one_of,  # noqa: F401
                      stop, tabs, write_link)
from ui_pictures import (MAIN_WIDTH, PRESENTER_CSS, PRESENTER_SCALE, ROW_GAP, SHARP_CSS,  # noqa: F401
                         apply_presenter_mode, caption_row, error_message, explain, markdown_table, picture,
                         picture_row, presenting, show_row)
from ui_settings import (CLASS_COLOURS, DATASETS, DEFAULT_PRIOR, LABELS, MODEL_COLOURS, MODEL_DASHES,  # noqa: F401
                         MODEL_MARKERS, TERM_LABELS, settings, term_label)
from ui_work import (_heavy_work, busy_message, one_at_a_time, progress_callback, slow_work,  # noqa: F401
                     took_last_time)


def prior_choice(container) -> str:
    """The Compare and FID pages' switch between N(0, I) and the GMM of the training codes; the choice goes from
    page to page (kept outside the widget, whose own state Streamlit drops when the page changes)."""
    linked("prior", DEFAULT_PRIOR, one_of(PRIORS))  # the link's ?prior=..., kept in session_state["prior"]
    chosen = st.session_state["prior"]
    value = container.radio(
        "Codes of the VAE and VAE-GAN from", PRIORS, index=PRIORS.index(chosen) if chosen in PRIORS else 0,
        format_func=PRIOR_LABELS.get, horizontal=True, key=f"prior-{chosen}",
        help="GMM: a Gaussian mixture fitted to the codes of the training images (`vaegan fit-gmm`), "
             "where the decoder was trained. The same seeded noise goes through each model's own mixture. The "
             "GAN has no encoder, so it keeps N(0, I).")
    st.session_state["prior"] = value
    return value


def page_header(title: str, explanation: str, needs_models: bool = True) -> dict:
    st.session_state["_page"] = title  # for the names of exports
    st.title(title)
    explain(explanation, label="What this page shows", shown=st.caption)
    choice = settings()
    if needs_models and not choice["kinds"]:
        st.info("No model is chosen: pick at least one under *Models* in the sidebar.")
        stop()
    return choice
