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
