"""Reading the image collapse studies back: seed bands, and the answer to "which family degrades slowest?".

The studies live in ``<root>/<dataset>/<kind>/<loop>-seed<S>/results.json`` (``scripts/collapse_runs.sh``
writes them; ``vaegan_core.experiments.collapse_images`` makes each). ``load_studies`` gathers them,
``band`` gives the mean and the seed range of one measure per generation, and ``verdict`` compares the
families by how much their domain FID grew from generation 0 to the last generation they all reached,
as a ratio (the families start at different FIDs), and says whether the differences are larger than the
spread between seeds (the ranges do not overlap) or not.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..config import MODEL_KINDS, MODEL_LABELS
from ..storage.zoo import checkpoint_dir
from .collapse_images import RESULTS_FILE, STRIP_FILE, read_results, start_fingerprint

STUDY_NAME = re.compile(r"^(?P<loop>[a-z-]+)-seed(?P<seed>\d+)$")
LOOP_LABELS = {"synthetic": "fully synthetic", "fresh-real": "20 % fresh real data",
               "accumulate": "data accumulated across generations"}
PAPER_CLAIM = ("The study paper behind this page argues that the VAE-GAN resists model collapse better than "
               "the VAE and the GAN, from FID across generations on MNIST and Fashion-MNIST.")


def study_state(folder: str | Path, checkpoint: str | Path, generations: int) -> str:
    """``missing`` (no readable results), ``stale`` (its generation 0 is not the weights ``checkpoint`` holds now,
    or it recorded none), ``short`` (fewer than ``generations`` generations after generation 0) or ``current``."""
    try:
        study = read_results(Path(folder) / RESULTS_FILE)
    except (OSError, ValueError):
        return "missing"
    if not study["generations"]:
        return "missing"
    if not (Path(checkpoint) / "model.safetensors").is_file() or \
            study.get("start_fingerprint") != start_fingerprint(checkpoint):
        return "stale"
    return "current" if len(study["generations"]) > generations else "short"


def load_studies(root: str | Path, dataset: str = "mnist",
                 checkpoints: str | Path | None = None) -> tuple[dict, list[str], list[dict]]:
    """``({(kind, loop): [study, ...] by seed}, problems, stale)``; a study is its results.json as a dict plus
    ``seed``, ``folder`` and ``strip`` (the path of strip.npy or None). Unreadable files are skipped and said in
    ``problems`` (one line each). A study whose generation 0 is not the checkpoint that ships now
    (``checkpoints/<dataset>/<kind>``, under ``checkpoints``: default the apps' root) goes to ``stale`` instead,
    so no answer mixes it in."""
    studies: dict = {}
    problems, stale = [], []
    for kind in MODEL_KINDS:
        base = Path(root) / dataset / kind
        if not base.is_dir():
            continue
        shipped = checkpoint_dir(dataset, kind, checkpoints)
        current = start_fingerprint(shipped) if (shipped / "model.safetensors").is_file() else None
        for folder in sorted(base.iterdir()):
            match = STUDY_NAME.match(folder.name)
            path = folder / RESULTS_FILE
            if not match or not (path.exists() or path.is_symlink()):  # a FIFO or a folder there is said below
                continue
            try:
                study = read_results(path)
                if not study["generations"]:
                    raise ValueError(f"{path}: no generation finished")
            except (OSError, ValueError) as error:  # JSONFileError is a ValueError and names the file
                problems.append(f"{error}; skipped")
                continue
            study.update(seed=int(match["seed"]), folder=str(folder), kind=kind, loop=match["loop"],
                         strip=str(folder / STRIP_FILE) if (folder / STRIP_FILE).is_file() else None)
            if current is None or study.get("start_fingerprint") != current:
                stale.append(study)
                continue
            studies.setdefault((kind, match["loop"]), []).append(study)
    for runs in studies.values():
        runs.sort(key=lambda study: study["seed"])
    return studies, problems, stale


def stale_line(stale: list[dict], dataset: str = "mnist") -> str | None:
    """One sentence on the studies kept out of the answer because their generation 0 is not today's checkpoint."""
    if not stale:
        return None
    names = ", ".join(f"{MODEL_LABELS[s['kind']]} {s['loop']} seed {s['seed']}" for s in stale)
    return (f"{len(stale)} {dataset} stud{'y' if len(stale) == 1 else 'ies'} started from weights that no longer "
            f"ship ({names}) and are left out of the answer; `scripts/collapse_runs.sh` runs them again.")


def common_generations(runs: list[dict]) -> int:
    """The number of generations every run of ``runs`` has finished (generation 0 included)."""
    return min(len(study["generations"]) for study in runs)


def band(runs: list[dict], measure: str) -> dict | None:
    """``measure`` per generation over the seeds of ``runs``: generation, mean, low, high (lists); the runs that
    lack it as a finite number at some generation are left out, and None when none has it."""
    count = common_generations(runs)
    rows = [[study["generations"][g].get(measure) for g in range(count)] for study in runs]
    rows = [row for row in rows if all(isinstance(v, (int, float)) and not isinstance(v, bool) and np.isfinite(v)
                                       for v in row)]
    if not rows:
        return None
    values = np.array(rows, dtype=float)
    return {"generation": list(range(count)), "mean": values.mean(axis=0).tolist(),
            "low": values.min(axis=0).tolist(), "high": values.max(axis=0).tolist(), "seeds": len(rows)}


def verdict(studies: dict, loop: str = "synthetic") -> dict | None:
    """How much each family's domain FID grew over the ``loop`` studies, and the answer in words.

    Returns None when fewer than two families have a study of that loop. Otherwise ``rows`` (per kind: the
    FID ratio last / generation 0 per seed, its mean, and the recall at both ends), ``generations`` (the
    last generation compared, the same for every family), ``slowest`` (the kind whose mean ratio is lowest),
    ``separated`` (True when its seed range lies below every other family's range) and ``text``.
    """
    runs_by_kind = {kind: studies[(kind, loop)] for kind in MODEL_KINDS if (kind, loop) in studies}
    if len(runs_by_kind) < 2:
        return None
    last = min(common_generations(runs) for runs in runs_by_kind.values()) - 1
    if last < 1:
        return None
    rows = {}
    for kind, runs in runs_by_kind.items():
        ratios = [study["generations"][last]["fid"] / study["generations"][0]["fid"] for study in runs]
        rows[kind] = {"ratios": ratios, "mean": float(np.mean(ratios)), "low": min(ratios), "high": max(ratios),
                      "seeds": len(runs), "fid_first": float(np.mean([s["generations"][0]["fid"] for s in runs])),
                      "fid_last": float(np.mean([s["generations"][last]["fid"] for s in runs])),
                      "recall_first": float(np.mean([s["generations"][0]["recall"] for s in runs])),
                      "recall_last": float(np.mean([s["generations"][last]["recall"] for s in runs]))}
    order = sorted(rows, key=lambda kind: rows[kind]["mean"])
    enough = min(row["seeds"] for row in rows.values()) >= 2
    separated = enough and all(rows[order[0]]["high"] < rows[kind]["low"] for kind in order[1:])
    worst_apart = enough and all(rows[kind]["high"] < rows[order[-1]]["low"] for kind in order[:-1])
    return {"loop": loop, "generations": last, "rows": rows, "slowest": order[0], "separated": separated,
            "fastest": order[-1], "fastest_separated": worst_apart,
            "text": _answer(rows, order, last, separated, worst_apart)}


def trend(first: float, last: float, tolerance: float = 0.2) -> str:
    """``falls``, ``rises`` or ``stays about level`` (within ``tolerance`` of ``first``)."""
    if last < (1 - tolerance) * first:
        return "falls"
    if last > (1 + tolerance) * first:
        return "rises"
    return "stays about level"


def signatures(studies: dict, loop: str = "synthetic") -> dict:
    """Per family (mean over seeds, generation 0 and the last common one): tail mass and recall, and their trends."""
    result = {}
    for kind in MODEL_KINDS:
        runs = studies.get((kind, loop))
        if not runs:
            continue
        last = common_generations(runs) - 1
        values = {measure: (float(np.mean([s["generations"][0][measure] for s in runs])),
                            float(np.mean([s["generations"][last][measure] for s in runs])))
                  for measure in ("tail_mass", "recall") if all(measure in s["generations"][0] for s in runs)}
        result[kind] = {measure: {"first": a, "last": b, "trend": trend(a, b)} for measure, (a, b) in values.items()}
    return result


def _answer(rows: dict, order: list[str], last: int, separated: bool, worst_apart: bool) -> str:
    def ratio(kind: str) -> str:
        row = rows[kind]
        spread = f" (seeds {row['low']:.2f}-{row['high']:.2f})" if row["seeds"] > 1 else " (one seed)"
        return f"{MODEL_LABELS[kind]} x{row['mean']:.2f}{spread}"

    growth = "; ".join(ratio(kind) for kind in order)
    slowest, fastest = MODEL_LABELS[order[0]], MODEL_LABELS[order[-1]]
    if separated:
        return (f"The {slowest} degrades slowest: its domain FID grew least from generation 0 to {last} ({growth}), "
                "and its seed range lies below the others', so the difference is larger than the seed-to-seed spread.")
    if worst_apart:
        others = " and the ".join(MODEL_LABELS[kind] for kind in order[:-1])
        return (f"The {fastest} degrades fastest, beyond the seed-to-seed spread; the {others} do not differ beyond "
                f"it. Domain FID, generation {last} / generation 0: {growth}.")
    return (f"The families do not differ beyond the seed-to-seed spread (the seed ranges overlap, or a family has one "
            f"seed), so this study does not rank them. Domain FID, generation {last} / generation 0: {growth}.")


def markdown(studies: dict) -> str:
    """The studies as a Markdown table per loop (what docs/collapse.md shows), then each loop's answer."""
    lines = []
    for loop, label in LOOP_LABELS.items():
        result = verdict(studies, loop)
        if result is None:
            continue
        g = result["generations"]
        lines += [f"**{label}** (generation 0 to {g})", "",
                  f"| model | seeds | domain FID at 0 | at {g} | growth (per seed) | recall at 0 | at {g} |",
                  "|---|---:|---:|---:|---|---:|---:|"]
        for kind in MODEL_KINDS:
            row = result["rows"].get(kind)
            if row:
                lines.append(f"| {MODEL_LABELS[kind]} | {row['seeds']} | {row['fid_first']:.1f} | {row['fid_last']:.1f} "
                             f"| x{row['mean']:.2f} ({', '.join(f'{r:.2f}' for r in row['ratios'])}) "
                             f"| {row['recall_first']:.3f} | {row['recall_last']:.3f} |")
        lines += ["", result["text"], ""]
    return "\n".join(lines)


def claim_line(studies: dict, dataset_label: str) -> str | None:
    """The study paper's claim (the VAE-GAN resists model collapse best) set against the fully synthetic loop's
    answer on one dataset, in one sentence; None without an answer. It ranks only beyond the seed spread."""
    result = verdict(studies, "synthetic")
    if result is None or "vaegan" not in result["rows"]:
        return None
    g, rows = result["generations"], result["rows"]
    if result["separated"] and result["slowest"] == "vaegan":
        found = "supports it: the VAE-GAN's FID grew least, beyond the seed-to-seed spread"
    elif result["fastest_separated"] and result["fastest"] == "vaegan":
        found = "contradicts it: the VAE-GAN degrades fastest, beyond the seed-to-seed spread"
    elif result["separated"]:
        found = (f"does not support it: the {MODEL_LABELS[result['slowest']]} degrades slowest, beyond the "
                 "seed-to-seed spread")
    else:
        beaten = [MODEL_LABELS[kind] for kind in rows if kind != "vaegan" and rows[kind]["low"] > rows["vaegan"]["high"]]
        ahead = [MODEL_LABELS[kind] for kind in rows if kind != "vaegan" and rows[kind]["high"] < rows["vaegan"]["low"]]
        tied = [MODEL_LABELS[kind] for kind in rows
                if kind != "vaegan" and MODEL_LABELS[kind] not in beaten + ahead]
        if ahead:
            found = (f"does not support it: the {' and the '.join(ahead)} degrade{'s' if len(ahead) == 1 else ''} more "
                     "slowly than the VAE-GAN, beyond the seed-to-seed spread")
        elif beaten:
            found = f"shows the VAE-GAN degrading more slowly than the {' and the '.join(beaten)} only"
        else:
            found = "does not rank the families beyond the seed-to-seed spread"
        if (beaten or ahead) and tied:
            found += f", and no differently from the {' and the '.join(tied)}"
    seeds = min(row["seeds"] for row in rows.values())
    if seeds < 2:
        found = "cannot weigh yet: a family has one seed so far, and a ranking needs the spread between seeds"
    growth = ", ".join(f"{MODEL_LABELS[kind]} x{rows[kind]['mean']:.2f}" for kind in MODEL_KINDS if kind in rows)
    return (f"{dataset_label}, fully synthetic loop, generation 0 to {g} (domain FID growth {growth}; "
            f"{'one seed' if seeds == 1 else f'{seeds} seeds'} at least per family): the study paper's claim that "
            f"the VAE-GAN resists model collapse best, this study {found}.")


if __name__ == "__main__":
    import sys

    if sys.argv[1:2] == ["--state"]:  # scripts/collapse_runs.sh: --state STUDY CHECKPOINT GENERATIONS
        print(study_state(sys.argv[2], sys.argv[3], int(sys.argv[4])))
        sys.exit(0)
    for name in ("mnist", "fashion-mnist"):
        found, problems, old = load_studies(sys.argv[1] if len(sys.argv) > 1 else "checkpoints/collapse", name)
        print("\n".join([f"## {name}"] + problems + [line for line in [stale_line(old, name)] if line] + [markdown(found)]))
