"""What a visitor takes away: each chart and picture downloadable (PNG, SVG, CSV) under a name that says the page
and settings, and the page's files in one zip."""

from __future__ import annotations

import streamlit as st

from ui_pictures import presenting
from ui_settings import settings


def _page_slug() -> str:
    return st.session_state.get("_page", "page").lower().replace(" ", "-")


def export_name(*parts) -> str:
    """A file name for an export: the page, the parts that say what it shows, the dataset and the seed."""
    choice = settings()
    words = [_page_slug(), *map(str, parts), choice["dataset"], f"seed{choice['seed']}"]
    return "-".join(word.replace(" ", "-").replace("/", "-").lower() for word in words if word)


def figure_csv(figure) -> str:
    """The numbers behind a Plotly figure as CSV: one row per point (trace, x, y), frames left out."""
    import csv
    import io

    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["trace", "x", "y"])
    for index, trace in enumerate(figure.data):
        name = getattr(trace, "name", None) or f"trace {index}"
        xs = list(trace.x) if getattr(trace, "x", None) is not None else []
        ys = list(trace.y) if getattr(trace, "y", None) is not None else [None] * len(xs)
        if not xs:
            xs = list(range(len(ys)))
        for x, y in zip(xs, ys):
            writer.writerow([name, x, y])
    return out.getvalue()


def chart(where, figure, part: str, **kwargs):
    """Show a Plotly figure in ``where`` (st, a column, ...): larger fonts in presenter mode; the toolbar's camera
    saves a PNG (or an SVG: the sidebar's "Chart pictures as") named after the page and settings, and a CSV of its
    numbers is one click away."""
    if presenting():
        height = figure.layout.height or 450
        figure.update_layout(font={"size": 20}, height=int(height * 1.3))
    for axes in (figure.for_each_xaxis, figure.for_each_yaxis):  # a log axis labels every tick in full ("200"),
        axes(lambda axis: axis.update(minorloglabels="complete") if axis.type == "log" else None)  # not "2", "5"
    # (minorloglabels: plotly 6.3 and later, pyproject's lower bound)
    figure.update_annotations(bgcolor="rgba(255, 255, 255, 0.85)")  # a line's label stays legible over bars and curves
    name = export_name(part)
    kwargs.setdefault("width", "stretch")
    image_format = st.session_state.get("chart-format", "png")  # the sidebar's "Chart pictures as"
    kwargs.setdefault("config", {"toImageButtonOptions": {"format": image_format, "filename": name, "scale": 2},
                                 "displaylogo": False})
    event = where.plotly_chart(figure, **kwargs)
    download(where, "CSV of this chart", figure_csv(figure), f"{name}.csv", "text/csv",
             key=f"csv-{name}-{kwargs.get('key', '')}")
    return event


def download_grid(images, part: str, nrow: int | None = None, where=None) -> None:
    """A "PNG" download of an image grid (4x upscaled), named after the page and settings; written when clicked."""
    from vaegan_core.images import png_bytes

    name = export_name(part)
    download(where or st, "PNG", lambda: png_bytes(images, nrow=nrow, scale=4), f"{name}.png", "image/png",
             key=f"png-{name}")


def download(where, label: str, data, file_name: str, mime: str, **kwargs) -> None:
    """A download button (no rerun on click) whose file also goes into the page's zip (``page_zip``). ``data``: the
    bytes or text, or a function without arguments that makes them when the button is clicked (Streamlit runs it
    then, beside the page: a rerun does not spend time on files nobody asked for)."""
    kwargs.setdefault("icon", ":material/download:")
    where.download_button(label, data, file_name=file_name, mime=mime, on_click="ignore", **kwargs)
    st.session_state.setdefault("_exports", {})[file_name] = data


def start_exports() -> None:
    """Forget the last run's files: each run of a page collects its own."""
    st.session_state["_exports"] = {}


def zip_of(files: dict) -> bytes:
    """A zip archive of ``{file name: bytes or text, or a function that makes them}``."""
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            data = data() if callable(data) else data
            archive.writestr(name, data if isinstance(data, (bytes, str)) else bytes(data))
    return buffer.getvalue()


def page_zip() -> None:
    """The sidebar's "This page's figures (zip)": every file the page offered in this run, in one download."""
    files = st.session_state.get("_exports", {})
    if len(files) < 2:
        return
    files = dict(files)  # this run's: the zip is made when clicked
    st.sidebar.download_button(f"This page's figures ({len(files)} files, zip)", lambda: zip_of(files),
                               file_name=f"{export_name('figures')}.zip", mime="application/zip",
                               icon=":material/folder_zip:", on_click="ignore", key="page-zip")
