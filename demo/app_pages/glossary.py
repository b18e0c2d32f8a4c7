"""Glossary: the terms the pages use, each in a few sentences for a class; a page's first use of a term links here."""

import streamlit as st

import ui
from glossary_terms import TERMS

ui.page_header(
    "Glossary",
    "The measures and ideas the pages use, in words. A term's first use on a page links to its entry here.",
    needs_models=False,
)
for anchor, (name, meaning) in TERMS.items():
    st.subheader(name, anchor=anchor)
    st.markdown(meaning)
