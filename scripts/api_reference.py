"""The API reference, generated from the docstrings with pdoc: one HTML page per public module.

    python scripts/api_reference.py [OUT]        (default OUT: site/api; open OUT/index.html)

The pages cover the package's public names (``vaegan_core.load_model``, ``train_model``, ``evaluate``, ...) and the
modules a script builds on; tests/test_api_reference.py builds it in CI, so a docstring that breaks the build (or a
public name without one) fails there.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PRIVATE = ("vaegan_core._moved", "vaegan_core.cli")  # old module spellings; the command line (docs: vaegan --help)


def modules() -> list[str]:
    """Every module of the package but the private ones, the package first."""
    names = ["vaegan_core"]
    for path in sorted((REPO / "vaegan_core").rglob("*.py")):
        parts = path.relative_to(REPO).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        if name not in names and not name.startswith(PRIVATE) and not parts[-1].startswith("__main__"):
            names.append(name)
    return names


def build(out: Path) -> list[Path]:
    """Write the reference into ``out``; returns its HTML pages."""
    import pdoc
    import pdoc.render

    sys.path.insert(0, str(REPO))
    import warnings

    pdoc.render.configure(docformat="markdown", footer_text="vaegan_core API reference", search=True)
    with warnings.catch_warnings():  # a package also lists its submodules, each named here too: one page each
        warnings.filterwarnings("ignore", message="The module specification .* adds a module named")
        pdoc.pdoc(*modules(), output_directory=out)
    return sorted(out.rglob("*.html"))


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else REPO / "site" / "api"
    pages = build(out)
    print(f"{len(pages)} pages in {out} (open {out / 'index.html'})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
