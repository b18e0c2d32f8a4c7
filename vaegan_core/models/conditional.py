"""Conditional generation: what is drawn (the class y) apart from how it is drawn (the style z).

- ``parse_labels("3,3,7")`` and ``parse_text("2026")``: class indices from the command line or a text box;
- ``style_code``: the style z of an image, by the conditional encoder given its label (from the dataset, or
  from the domain classifier when unknown), or for a GAN by inverting the generator given the label;
- ``write``: a string of class indices as one image, glyph by glyph, every glyph decoded from one shared z;
- ``style_grid``: one z decoded with every label ("this 3 written as every digit").
"""

from __future__ import annotations

import torch

from ..training.data import CLASS_NAMES
from ..errors import ConfigError, DatasetError
from ..training.folders import folder_classes, is_folder

MAX_TEXT = 40  # glyphs in one written line
ASCII_DIGITS = "0123456789"


def parse_labels(text: str, num_classes: int) -> list[int]:
    """``"3,3,7"`` -> [3, 3, 7]; a one-line error for anything else."""
    parts = [part.strip() for part in str(text).split(",")]
    if not text or not text.strip() or any(not part for part in parts):
        raise ConfigError("--labels needs class indices separated by commas, e.g. 3,3,7")
    if len(parts) > 10_000:
        raise ConfigError(f"--labels has {len(parts):,} labels; at most 10,000 images at once")
    labels = []
    for part in parts:
        if not (part.lstrip("-") and set(part.lstrip("-")) <= set(ASCII_DIGITS)):  # "²".isdigit() is True
            raise ConfigError(f"--labels: {part[:20]!r} is not a class index (0 to {num_classes - 1})")
        value = int(part)
        if not 0 <= value < num_classes:
            raise ConfigError(f"--labels: class {value} is out of range; this model has classes 0 to {num_classes - 1}")
        labels.append(value)
    return labels


SPACE = -1  # a gap between words in a written line (parse_text keeps "3 14" as 3, SPACE, 1, 4)


def parse_text(text: str, num_classes: int) -> list[int]:
    """A string of class digits, ``"2026"`` -> [2, 0, 2, 6]; a run of spaces between digits is one gap (``SPACE``),
    spaces at the ends are dropped; one-line errors otherwise."""
    if num_classes > 10:
        raise ConfigError(f"text needs a model of at most 10 classes (one digit each); this one has {num_classes}")
    words = str(text).split()
    glyphs = [character for character in "".join(words)]
    if not glyphs:
        raise ConfigError(f"the text is empty; type class digits, e.g. 2026 (0 to {num_classes - 1})")
    if len(glyphs) > MAX_TEXT:
        raise ConfigError(f"the text has {len(glyphs)} characters; at most {MAX_TEXT} fit in one line")
    bad = sorted({character for character in glyphs
                  if not (character in ASCII_DIGITS and int(character) < num_classes)})  # "²".isdigit() is True
    if bad:
        raise ConfigError(f"the text may hold only the class digits 0 to {num_classes - 1}; "
                          f"{''.join(bad)[:10]!r} {'is' if len(bad) == 1 else 'are'} not")
    line: list[int] = []
    for word in words:
        line += ([SPACE] if line else []) + [int(character) for character in word]
    return line


def glyph_names(glyphs: list[int], names: list[str]) -> list[str]:
    """The class names of a written line's glyphs, " " for a gap."""
    return [" " if glyph == SPACE else names[glyph] for glyph in glyphs]


def _require_conditional(model) -> None:
    if not model.config.num_classes:
        raise ConfigError("this model is unconditional; labels, text and style transfer need a conditional "
                          "checkpoint (vaegan train --conditional ...)")


def predicted_label(image: torch.Tensor, dataset: str, classifier_directory=None) -> int:
    """The domain classifier's class for one image 1 x 1 x 28 x 28 in [0, 1]."""
    from ..metrics.extractors import LeNetExtractor

    _, probabilities = LeNetExtractor(dataset, classifier_directory).features_and_probabilities(image)
    return int(probabilities.argmax(1)[0])


def style_code(model, image: torch.Tensor, label: int | None = None, dataset: str | None = None,
               seed: int = 0, steps: int = 300) -> tuple[torch.Tensor, int]:
    """The style z (1 x latent_dim) of ``image`` (1 x C x H x W in [0, 1]) and the label it was read with.

    The label is ``label``, else the domain classifier's guess for ``dataset``. VAE and VAE-GAN: the posterior
    mean of q(z | x, y); GAN: the code found by inverting the generator given y (gradient descent)."""
    _require_conditional(model)
    if image.ndim != 4 or image.shape[0] != 1:
        raise ConfigError(f"style_code takes one image 1 x C x H x W, got shape {tuple(image.shape)}")
    if label is None:
        if dataset is None:
            raise ConfigError("the image's label is unknown: pass label= or the dataset whose classifier reads it")
        label = predicted_label(image, dataset)
    labels = model.check_labels([label], 1)
    if model.has_encoder:
        mu, _ = model.encode(image, labels)
        return mu, int(label)
    from ..analysis.latent import invert_generator

    codes, _ = invert_generator(model, image, steps=steps, seed=seed, labels=labels)
    return codes, int(label)


def write(model, glyphs: list[int], z: torch.Tensor | None = None, seed: int = 0) -> torch.Tensor:
    """The glyphs (class indices; ``SPACE`` a gap half a glyph wide) side by side as one image C x H x W', each
    decoded from the same z (``z``, 1 x d, or one drawn from N(0, I) with ``seed``): one style, many classes."""
    _require_conditional(model)
    if not glyphs:
        raise ConfigError("nothing to write: give at least one class")
    if z is None:
        z = torch.randn(1, model.config.latent_dim, generator=torch.Generator().manual_seed(seed))
    classes = [glyph for glyph in glyphs if glyph != SPACE]
    if not classes:
        raise ConfigError("nothing to write: give at least one class")
    images = iter(model.decode(z.reshape(1, -1).expand(len(classes), -1).contiguous(), classes))
    first = next(images)
    drawn = [first] + list(images)
    gap = torch.zeros_like(first[:, :, : first.shape[2] // 2])  # a word gap: half a glyph of background
    pictures, index = [], 0
    for glyph in glyphs:
        if glyph == SPACE:
            pictures.append(gap)
        else:
            pictures.append(drawn[index])
            index += 1
    return torch.cat(pictures, dim=2)


def style_grid(model, z: torch.Tensor) -> torch.Tensor:
    """One style z (1 x d) decoded with every label: num_classes x C x H x W."""
    _require_conditional(model)
    classes = model.config.num_classes
    return model.decode(z.reshape(1, -1).expand(classes, -1).contiguous(), list(range(classes)))


def class_names(dataset: str | None, num_classes: int, stored: list[str] | None = None) -> list[str]:
    """The names of a dataset's classes (Fashion-MNIST's garments, an image folder's sub-folders), or their
    indices. ``stored``: the names a checkpoint recorded when it was trained (``model.class_names``), which win
    over the folder as it is now."""
    names = CLASS_NAMES.get(dataset or "", [])
    if stored:
        names = stored
    elif is_folder(dataset or ""):
        try:
            names = folder_classes(dataset)
        except DatasetError:  # the folder is not on this machine: the indices
            names = []
    return list(names) if len(names) == num_classes else [str(index) for index in range(num_classes)]
