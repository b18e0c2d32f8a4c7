// Images on canvases at their own pixels (the page stretches them pixel-sharp with CSS): what a test reads back
// with getImageData is exactly what the decoder gave, rounded to 8 bits.

/** Put n images (values in [0, 1], n x C x H x W) on `canvas` as a grid of `columns`; returns the canvas. */
export function drawGrid(canvas, pixels, n, columns, shape) {
  const { channels: C, height: H, width: W } = shape;
  const rows = Math.ceil(n / columns);
  if (canvas.width !== columns * W || canvas.height !== rows * H) {
    canvas.width = columns * W;
    canvas.height = rows * H;
  }
  const context = canvas.getContext("2d", { willReadFrequently: true });
  const picture = context.createImageData(canvas.width, canvas.height);
  const out = picture.data;
  const plane = H * W;
  for (let i = 0; i < n; i++) {
    const top = Math.floor(i / columns) * H, left = (i % columns) * W;
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) {
        const at = ((top + y) * canvas.width + left + x) * 4;
        for (let c = 0; c < 3; c++) {
          const value = pixels[i * C * plane + (C === 3 ? c : 0) * plane + y * W + x];
          out[at + c] = Math.round(Math.min(1, Math.max(0, value)) * 255);
        }
        out[at + 3] = 255;
      }
    }
  }
  context.putImageData(picture, 0, 0);
  return canvas;
}

/** Test image `index` of a dataset as values in [0, 1] (C x H x W). */
export function testImage(dataset, index) {
  const { channels, height, width } = dataset.manifest;
  const size = channels * height * width;
  return Float32Array.from(dataset.images.subarray(index * size, (index + 1) * size), (value) => value / 255);
}

export function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (name === "text") node.textContent = value;
    else if (value !== null && value !== undefined && value !== false) node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}
