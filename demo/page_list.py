"""The app's pages in their sections, as Streamlit's multipage apps group them (look at the models, measure them,
learn the ideas): the one list demo/app.py builds its navigation from, and tests and benchmarks visit. Plain data:
no Streamlit import."""

SECTIONS = {
    "Explore": [
        ("overview", "Overview", ":material/home:"),
        ("compare", "Compare", ":material/view_column:"),
        ("reconstruction", "Reconstruction", ":material/compare:"),
        ("interpolation", "Interpolation", ":material/linear_scale:"),
        ("latent_map", "Latent map", ":material/scatter_plot:"),
        ("latent_space", "Latent space", ":material/tune:"),
        ("conditional", "Conditional", ":material/draw:"),
    ],
    "Measure": [
        ("fid", "FID", ":material/analytics:"),
        ("training", "Training", ":material/show_chart:"),
        ("anomalies", "Anomalies", ":material/report:"),
    ],
    "Learn": [
        ("lesson", "Lesson", ":material/school:"),
        ("collapse", "Collapse", ":material/trending_down:"),
        ("train_live", "Train live", ":material/model_training:"),
        ("glossary", "Glossary", ":material/menu_book:"),
    ],
}
DEFAULT = "overview"  # the page at the app's address
PAGES = [name for pages in SECTIONS.values() for name, _, _ in pages]  # app_pages/NAME.py, in the sidebar's order


def url_path(name: str) -> str:
    """The page's address under the app's root: "" for the default page, else its name."""
    return "" if name == DEFAULT else name
