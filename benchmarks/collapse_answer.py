"""The answer of the shipped model-collapse studies, generated from their files into docs/collapse.md and README.md.

    python benchmarks/collapse_answer.py            # print what would be written
    python benchmarks/collapse_answer.py --write    # replace the blocks between the markers

docs/collapse.md gets, per dataset, a table per loop with its answer (``collapse_report.markdown``) and the study
paper's claim set against it; README.md gets the claim lines alone. Studies whose generation 0 is not today's
shipped checkpoint are left out and counted (``collapse_report.load_studies``). tests/test_collapse_answer.py
fails while a block differs from what this script generates.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from vaegan_core.experiments.collapse_report import claim_line, load_studies, markdown, stale_line  # noqa: E402

DATASETS = {"mnist": "MNIST", "fashion-mnist": "Fashion-MNIST"}
DOCS_MARKERS = ("<!-- collapse-answer:start -->", "<!-- collapse-answer:end -->")
README_MARKERS = ("<!-- collapse-claim:start -->", "<!-- collapse-claim:end -->")


def _found(root: Path, checkpoints: Path) -> dict:
    return {name: load_studies(root, name, checkpoints) for name in DATASETS}


def docs_block(root: Path, checkpoints: Path) -> str:
    parts = []
    for name, (studies, problems, stale) in _found(root, checkpoints).items():
        label = DATASETS[name]
        parts.append(f"### {label}\n")
        if not studies:
            parts.append(f"No current {label} study yet (`scripts/collapse_runs.sh` makes them).\n")
        else:
            parts.append(markdown(studies))
            claim = claim_line(studies, label)
            if claim:
                parts.append(f"*Beside the paper:* {claim}\n")
        notes = problems + [line for line in [stale_line(stale, label)] if line]
        if notes:
            parts.append("\n".join(f"- {note}" for note in notes) + "\n")
    return "\n".join(parts).rstrip() + "\n"


def readme_block(root: Path, checkpoints: Path) -> str:
    """One paragraph: per dataset, the paper's claim against the fully synthetic loop, or how far its re-run is."""
    parts = []
    for name, (studies, _, stale) in _found(root, checkpoints).items():
        claim = claim_line(studies, DATASETS[name])
        current = sum(len(runs) for runs in studies.values())
        parts.append(claim or (f"{DATASETS[name]}: {current} stud{'y' if current == 1 else 'ies'} from today's "
                               f"checkpoints so far{f', {len(stale)} older ones set apart' if stale else ''}; the "
                               "answer needs the fully synthetic loop of every family."))
    return "**Model collapse, measured** ([how](docs/collapse.md)). " + " ".join(parts)


def replace_between(text: str, markers: tuple[str, str], block: str) -> str:
    start, end = markers
    if start not in text or end not in text:
        raise SystemExit(f"the markers {start} ... {end} are missing")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{block.strip()}\n{end}{tail}"


def between(text: str, markers: tuple[str, str]) -> str | None:
    start, end = markers
    if start not in text or end not in text:
        return None
    return text.split(start, 1)[1].split(end, 1)[0].strip()


def main() -> int:
    root, checkpoints = REPO / "checkpoints" / "collapse", REPO / "checkpoints"
    docs, readme = docs_block(root, checkpoints), readme_block(root, checkpoints)
    if "--write" not in sys.argv[1:]:
        print(docs + "\n" + readme)
        return 0
    for path, markers, block in ((REPO / "docs" / "collapse.md", DOCS_MARKERS, docs),
                                 (REPO / "README.md", README_MARKERS, readme)):
        path.write_text(replace_between(path.read_text(encoding="utf-8"), markers, block), encoding="utf-8")
        print(f"wrote {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
