// Images on canvases at their own pixels (the page stretches them pixel-sharp with CSS): what a test reads back
// with getImageData is exactly what the decoder gave, rounded to 8 bits.

/** Copy image i of `pixels` (values in [0, 1], n x C x H x W) into the RGBA bytes `out` of a canvas `width` wide, its
 * top left corner at (left, top). */
function putImage(out, width, pixels, i, top, left, shape) {
  const { channels: C, height: H, width: W } = shape;
  const plane = H * W;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      const at = ((top + y) * width + left + x) * 4;
      for (let c = 0; c < 3; c++) {
        const value = pixels[i * C * plane + (C === 3 ? c : 0) * plane + y * W + x];
        out[at + c] = Math.round(Math.min(1, Math.max(0, value)) * 255);
      }
      out[at + 3] = 255;
    }
  }
}

function picture(canvas, width, height) {
  if (canvas.width !== width || canvas.height !== height) {
    canvas.width = width;
    canvas.height = height;
  }
  const context = canvas.getContext("2d", { willReadFrequently: true });
  return { context, image: context.createImageData(width, height) };
}

/** Put n images (values in [0, 1], n x C x H x W) on `canvas` as a grid of `columns`; returns the canvas. */
export function drawGrid(canvas, pixels, n, columns, shape) {
  const { height: H, width: W } = shape;
  const { context, image } = picture(canvas, columns * W, Math.ceil(n / columns) * H);
  for (let i = 0; i < n; i++) {
    putImage(image.data, canvas.width, pixels, i, Math.floor(i / columns) * H, (i % columns) * W, shape);
  }
  context.putImageData(image, 0, 0);
  return canvas;
}

/** Put a written line on `canvas`: one image of `pixels` per entry of `glyphs`, in order, side by side, and for each
 * `gap` entry a black gap half an image wide (as vaegan_core.models.conditional.write); returns the canvas. */
export function drawLine(canvas, pixels, glyphs, gap, shape) {
  const { height: H, width: W } = shape;
  const space = Math.floor(W / 2);
  const width = glyphs.reduce((sum, glyph) => sum + (glyph === gap ? space : W), 0);
  const { context, image } = picture(canvas, width, H);
  for (let at = 3; at < image.data.length; at += 4) image.data[at] = 255;  // opaque black: the gaps
  let left = 0, index = 0;
  for (const glyph of glyphs) {
    if (glyph !== gap) putImage(image.data, canvas.width, pixels, index++, 0, left, shape);
    left += glyph === gap ? space : W;
  }
  context.putImageData(image, 0, 0);
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
