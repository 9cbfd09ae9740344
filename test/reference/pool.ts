// Float64 references for nearest upsampling, max pooling and adaptive average pooling (NCHW).

export function upsampleNearestRef(x: Float64Array, shape: readonly number[], factor: number): Float64Array {
  const [N, C, H, W] = shape;
  const Ho = H * factor;
  const Wo = W * factor;
  const y = new Float64Array(N * C * Ho * Wo);
  for (let p = 0; p < N * C; p++)
    for (let i = 0; i < Ho; i++)
      for (let j = 0; j < Wo; j++) y[(p * Ho + i) * Wo + j] = x[(p * H + Math.floor(i / factor)) * W + Math.floor(j / factor)];
  return y;
}

export function maxPool2dRef(x: Float64Array, shape: readonly number[], kernel: number, stride = kernel, padding = 0): Float64Array {
  const [N, C, H, W] = shape;
  const Ho = Math.floor((H + 2 * padding - kernel) / stride) + 1;
  const Wo = Math.floor((W + 2 * padding - kernel) / stride) + 1;
  const y = new Float64Array(N * C * Ho * Wo);
  for (let p = 0; p < N * C; p++)
    for (let i = 0; i < Ho; i++)
      for (let j = 0; j < Wo; j++) {
        let m = -Infinity; // the padding
        for (let di = 0; di < kernel; di++)
          for (let dj = 0; dj < kernel; dj++) {
            const r = i * stride + di - padding;
            const c = j * stride + dj - padding;
            if (r >= 0 && r < H && c >= 0 && c < W) m = Math.max(m, x[(p * H + r) * W + c]);
          }
        y[(p * Ho + i) * Wo + j] = m;
      }
  return y;
}

/** torchvision's window for output cell o: [floor(o*In/Out), ceil((o+1)*In/Out)). */
function window(o: number, size: number, outSize: number): [number, number] {
  return [Math.floor((o * size) / outSize), Math.ceil(((o + 1) * size) / outSize)];
}

export function adaptiveAvgPool2dRef(x: Float64Array, shape: readonly number[], out: [number, number]): Float64Array {
  const [N, C, H, W] = shape;
  const [Ho, Wo] = out;
  const y = new Float64Array(N * C * Ho * Wo);
  for (let p = 0; p < N * C; p++)
    for (let i = 0; i < Ho; i++)
      for (let j = 0; j < Wo; j++) {
        const [r0, r1] = window(i, H, Ho);
        const [c0, c1] = window(j, W, Wo);
        let s = 0;
        for (let r = r0; r < r1; r++) for (let c = c0; c < c1; c++) s += x[(p * H + r) * W + c];
        y[(p * Ho + i) * Wo + j] = s / ((r1 - r0) * (c1 - c0));
      }
  return y;
}

/**
 * F.interpolate(x, size=[outH, outW], mode='bilinear', align_corners=False) in float64, pixel by
 * pixel: source coordinate (o + 0.5) * in / out - 0.5, clamped at 0, and its two neighbours.
 */
export function resizeBilinearRef(x: Float64Array, shape: number[], outH: number, outW: number): Float64Array {
  const [N, C, H, W] = shape;
  const out = new Float64Array(N * C * outH * outW);
  const source = (o: number, inSize: number, outSize: number) => {
    const s = Math.max(0, ((o + 0.5) * inSize) / outSize - 0.5);
    const i0 = Math.min(Math.floor(s), inSize - 1);
    return [i0, Math.min(i0 + 1, inSize - 1), s - i0];
  };
  for (let p = 0; p < N * C; p++) {
    for (let oy = 0; oy < outH; oy++) {
      const [y0, y1, ty] = source(oy, H, outH);
      for (let ox = 0; ox < outW; ox++) {
        const [x0, x1, tx] = source(ox, W, outW);
        const at = (y: number, xx: number) => x[(p * H + y) * W + xx];
        const top = (1 - tx) * at(y0, x0) + tx * at(y0, x1);
        const bottom = (1 - tx) * at(y1, x0) + tx * at(y1, x1);
        out[(p * outH + oy) * outW + ox] = (1 - ty) * top + ty * bottom;
      }
    }
  }
  return out;
}
