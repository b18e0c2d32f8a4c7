"""Lesson: a sequence of about 50 minutes for a class, each step with its idea, an equation, a question and a button that
opens the page that shows it, with the right settings (the links of the shareable views)."""

import streamlit as st

import lesson_nav
import ui
from lesson_steps import STEPS

total = sum(step[1] for step in STEPS)
ui.page_header(
    "Lesson",
    f"A {total}-minute lesson in {len(STEPS)} steps, written for the teacher. Each step: what to say (two or three sentences), "
    "the equation where it helps, a question for the class, and a button that opens the page that shows it. "
    "Everything runs offline; switch on *Presenter mode* in the sidebar for the projector.",
    needs_models=False,
)

st.caption(f"{len(STEPS)} steps, {total} minutes in all (the minutes are a suggestion).")
for number, (title, minutes, text, equation, question, page, label, params) in enumerate(STEPS, start=1):
    with st.container(border=True):
        st.subheader(f"{number}. {title} ({minutes} min)")
        st.markdown(text)
        if equation:
            st.latex(equation)
        st.markdown(f"**Ask the class:** {question}")
        st.page_link(page, label=label, icon=":material/arrow_forward:", query_params=lesson_nav.step_link(number))
st.markdown("**After the lesson**: *Train live* (in the sidebar, under Learn) has more presets: a VAE that switches its "
            "codes off, the VAE's blur beside the VAE-GAN's sharpness, a discriminator that wins, each trained in "
            "front of the class in a minute or two; *Collapse* compares mode collapse with model collapse.")
