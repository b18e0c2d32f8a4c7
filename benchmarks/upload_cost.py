"""What one upload costs the shared app server: seconds and extra peak memory of `read_upload` per file.

    python benchmarks/upload_cost.py

Each case runs in a fresh subprocess (peak RSS is per process): large single-colour images that compress to a
few kilobytes (the cheapest way to ask a server for a lot of decoding), a large photo-like JPEG, and an
ordinary digit drawing. Budget (issue 16): no upload costs more than ~50 MB or ~0.5 s.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CASES = {  # name: (mode, size, format)
    "palette PNG 2828 x 2828 (8 MP)": ("P", 2828, "PNG"),
    "grey PNG 2828 x 2828 (8 MP)": ("L", 2828, "PNG"),
    "RGBA PNG 2828 x 2828 (8 MP)": ("RGBA", 2828, "PNG"),
    "grey PNG 6000 x 6000 (36 MP, refused)": ("L", 6000, "PNG"),
    "RGB JPEG 6000 x 6000 (36 MP)": ("RGB", 6000, "JPEG"),
    "drawing PNG 280 x 280": ("drawing", 280, "PNG"),
}
MEASURE = r"""
import io, json, resource, sys, time
from PIL import Image, ImageDraw
from vaegan_core.uploads import ImageInputError, read_upload
mode, size, fmt = sys.argv[1], int(sys.argv[2]), sys.argv[3]
if mode == "drawing":
    image = Image.new("L", (size, size), 255)
    ImageDraw.Draw(image).line([(size * 0.3, size * 0.2), (size * 0.6, size * 0.8)], fill=0, width=size // 14)
else:
    image = Image.new(mode, (size, size), 3 if mode == "P" else (200, 30, 30, 255)[:len(mode)] if mode != "L" else 200)
buffer = io.BytesIO()
image.save(buffer, format=fmt)
data = buffer.getvalue()
del image, buffer
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
try:
    read_upload(data)
    outcome = "read"
except ImageInputError as error:
    outcome = "refused: " + str(error)[:40]
seconds = time.perf_counter() - start
extra = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
print(json.dumps({"kb": len(data) / 1024, "seconds": seconds, "extra_mb": extra, "outcome": outcome}))
"""


def main() -> None:
    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    print("| upload | file size | seconds | extra peak memory | outcome |")
    print("|---|---|---|---|---|")
    for name, (mode, size, fmt) in CASES.items():
        result = subprocess.run([sys.executable, "-c", MEASURE, mode, str(size), fmt], cwd=REPO, capture_output=True,
                                text=True, check=True)
        row = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"| {name} | {row['kb']:.0f} KB | {row['seconds']:.2f} | {row['extra_mb']:.0f} MB | {row['outcome']} |")


if __name__ == "__main__":
    main()
