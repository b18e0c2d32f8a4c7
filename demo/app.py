"""VAE-GAN Explorer: the Streamlit router and the shared sidebar.

    streamlit run demo/app.py [-- --checkpoints DIR]

Each page lives in demo/app_pages/; pages call vaegan_core and show the result.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

import lesson_nav
import page_list
import ui
from vaegan_core.errors import first_line

ICON = Path(__file__).resolve().parent / "icon.png"  # shipped: a :material: icon would be fetched from a font CDN
st.set_page_config(page_title="VAE-GAN Explorer", page_icon=str(ICON), layout="wide")

# Pages in sections (demo/page_list.py: the one list of them)
PAGES = {section: [st.Page(f"app_pages/{name}.py", title=title, icon=icon, default=name == page_list.DEFAULT)
                   for name, title, icon in pages] for section, pages in page_list.SECTIONS.items()}
navigation = st.navigation(PAGES)
lesson_nav.arrive(navigation.url_path)  # before the sidebar: a step's page or leaving it sets the sidebar's values
ui.start_warm_up()

with st.sidebar:
    datasets = ui.datasets()
    st.selectbox("Dataset", datasets, format_func=ui.dataset_label,
                 key=ui.linked("dataset", "mnist", ui.one_of(datasets)))
    st.multiselect("Models", ui.MODEL_KINDS, format_func=ui.LABELS.get,
                   key=ui.linked("kinds", list(ui.MODEL_KINDS), ui.many_of(ui.MODEL_KINDS)))
    st.number_input("Seed", min_value=0, max_value=ui.MAX_SEED, step=1, key=ui.linked("seed", 0, ui.as_int(0, ui.MAX_SEED)),
                    help="The same seed gives the same samples, in every model and every session.")
    st.toggle("Presenter mode", key=ui.linked("present", False, ui.as_bool),
              help="For a projector: larger pictures, figures and text; paths and other developer detail hidden.")
    st.radio("Chart pictures as", ["png", "svg"], format_func=str.upper, horizontal=True,
             key=ui.linked("chart-format", "png", ui.one_of(["png", "svg"])),
             help="What the camera in a chart's toolbar saves: PNG for slides, SVG to scale or edit.")
    st.caption(f"Checkpoints: {ui.shipped_explorer().description()}")
ui.apply_presenter_mode()
if ui.presenting():  # a projector's screen is for the figures: the sidebar folds away (its arrow opens it again)
    st.set_page_config(initial_sidebar_state="collapsed")

ui.start_exports()
try:
    lesson_nav.banner()
    navigation.run()  # a page that stops early (ui.stop) writes its link itself
    ui.page_zip()
    ui.link_to_this_view()
    ui.write_link()
except Exception as error:  # the last guard: a page that fails shows one line, never a traceback
    import logging

    logging.getLogger("vaegan.app").exception("page failed")  # the traceback goes to the server's log only
    st.error(f"Something went wrong on this page: {type(error).__name__}: {first_line(error)} - change a setting or "
             "reload; the other pages keep working.")
