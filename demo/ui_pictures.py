"""Pictures and words on a page: image rows that stay sharp and line up, Markdown tables, pictures read from files
(a damaged one is a note), explanations, one-line errors, and presenter mode (a projector: larger text and
pictures)."""

from __future__ import annotations

import numpy as np
import streamlit as st


def error_message(error: Exception | str) -> None:
    """A one-line error for a person: the core's messages start in lower case to follow "error: " on a
    command line; on a page they start with a capital."""
    text = str(error).strip()
    st.error(text[:1].upper() + text[1:])


PRESENTER_SCALE = 2  # presenter mode: pictures twice as wide (84 px digits -> 168 px, 6x their 28 pixels)
PRESENTER_CSS = """
html { font-size: 21px; }                       /* Streamlit sizes its text in rem: everything grows */
.developer-detail, [data-testid="stSidebar"] [data-testid="stCaptionContainer"] { display: none; }
[data-testid="stMainBlockContainer"] { padding-top: 2rem; padding-bottom: 1rem; }  /* one screen, not 1.2 */
"""


def presenting() -> bool:
    """Presenter mode (the sidebar toggle, or ?present=1): larger pictures and figures, no developer detail."""
    return bool(st.session_state.get("present", False))


# Pictures are pixels: a picture stretched to its column (a row of pictures, ui.picture) stays sharp, never smoothed.
# Nothing runs off its column (tests/test_layout.py): a picture of a fixed width shrinks to a narrower column (the
# Reconstruction's close-up in presenter mode at 1366 px), a Markdown table wider than its place scrolls in its own box
SHARP_CSS = ('[data-testid="stImage"] img { image-rendering: pixelated; }'
             '[data-testid="stImageContainer"] { max-width: 100%; }'
             '[data-testid="stMarkdownContainer"]:has(> table) { overflow-x: auto; }')


def apply_presenter_mode() -> None:
    # st.html of one <style> only: applied to the page without taking room, and without the frontend's code for raw
    # HTML in Markdown (which a new tab then no longer loads on pages that need it for nothing else)
    st.html(f"<style>{SHARP_CSS}{PRESENTER_CSS if presenting() else ''}</style>")


MAIN_WIDTH = {False: 1000, True: 1400}  # px of the main column, about: a laptop; presenter mode on a 1920 x 1080 screen


def picture(images, captions=None, width: int = 84, where=None, slots: int | None = None) -> None:
    """Images (B x C x H x W in [0, 1]) shown without smoothing, so pixels stay sharp; twice as wide in
    presenter mode. Several images stand in one row, never wrapped onto a second line: about ``width`` px each
    where the page is wide enough for them, narrower where it is not; two rows of as many images line up image for
    image (originals over their reconstructions). The row is one picture with its captions in a grid of as many
    cells below it (a picture element per image made a page of 60 images slow to draw). ``slots``: the row's
    places, for a row in a narrower place than the page's main column (default: as many as fit the main column)."""
    from vaegan_core.images import to_uint8

    where = where or st
    present = presenting()
    width *= PRESENTER_SCALE if present else 1
    pixels = to_uint8(images, channels_last=True)  # B x H x W x C
    captions = list(captions) if captions is not None else [None] * len(pixels)
    if len(pixels) == 1:
        scale = max(1, -(-width // pixels.shape[2]))  # the width: a written line is one wide picture
        pixels = pixels.repeat_interleave(scale, dim=1).repeat_interleave(scale, dim=2).numpy()
        where.image(pixels[0], width=width, caption=captions[0])
        return
    slots = max(len(pixels), slots or MAIN_WIDTH[present] // (width + ROW_GAP))
    gap = max(1, round(ROW_GAP * pixels.shape[2] / width))  # in the pictures' own pixels
    # at their own size: the browser stretches the row to the page, pixel-sharp (SHARP_CSS); a PNG of the upscaled
    # row took ten times as long to write
    where.image(picture_row(pixels.numpy(), slots, gap), width="stretch")
    if any(caption is not None for caption in captions):
        where.markdown(caption_row(captions, slots, present), unsafe_allow_html=True)


ROW_GAP = 16  # px between two pictures of a row, at their nominal width


def picture_row(pixels: np.ndarray, slots: int, gap: int) -> np.ndarray:
    """``pixels`` (B x H x W x C uint8, B <= slots) side by side in ``slots`` equal places, each picture centred in
    its place with ``gap`` transparent pixels between two; the places left over are transparent. H x slots*(W+gap)
    x 4 (RGBA), so two rows of the same pictures' size line up place for place."""
    count, height, tile, channels = pixels.shape
    cell = tile + gap
    row = np.zeros((height, slots * cell, 4), np.uint8)
    for index in range(count):
        left = index * cell + gap // 2
        row[:, left:left + tile, :3] = pixels[index] if channels == 3 else pixels[index][..., :1]
        row[:, left:left + tile, 3] = 255
    return row


def caption_row(captions: list, slots: int, present: bool) -> str:
    """The captions of a ``picture_row``, one under each place (HTML: a grid of ``slots`` equal cells)."""
    import html

    cells = "".join(f'<div style="overflow-wrap:anywhere;padding:0 2px">{html.escape(str(caption or ""))}</div>'
                    for caption in captions)
    size = "1.1rem" if present else "0.8rem"
    return (f'<div style="display:grid;grid-template-columns:repeat({slots},minmax(0,1fr));text-align:center;'
            f'font-size:{size};line-height:1.25;opacity:0.7;margin-top:-0.5rem">{cells}</div>')


def markdown_table(rows: list[dict]) -> str:
    """Rows of ``{column: text}`` (the first row's columns) as a Markdown table, pipes and line breaks escaped."""
    if not rows:
        return ""

    def cell(value) -> str:
        return str(value).replace("|", "\\|").replace("\n", " ")

    columns = list(rows[0])
    lines = ["| " + " | ".join(cell(name) for name in columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(name, "")) for name in columns) + " |" for row in rows]
    return "\n".join(lines)




def show_row(images, caption: str | None = None, width: int = 96, captions=None, slots: int | None = None,
             beside: bool = False) -> None:
    """A row of images, upscaled without smoothing so pixels stay visible on a projector (``slots``: see picture).
    ``beside``: in presenter mode the caption (a short name) stands left of the row, not above it, so that a page of
    several rows keeps to one screen."""
    if caption and beside and presenting():
        name, row = st.columns([1.5, 7], vertical_alignment="center")
        name.markdown(caption)
        picture(images, captions, width, where=row, slots=slots)
        return
    if caption:
        st.markdown(caption)
    picture(images, captions, width, slots=slots)


def explain(text: str, where=None, label: str = "Explanation", shown=None) -> None:
    """A paragraph that explains what is shown: as text (``shown``: how, default markdown), or folded under
    ``label`` in presenter mode (the teacher says it; the page keeps to one screen)."""
    where = where or st
    if presenting():
        where.expander(label).markdown(text)
    else:
        (shown or where.markdown)(text)
