// float64 references of conv2d (PyTorch's semantics: cross-correlation, zero padding) and its gradients.

export interface Case {
  B: number;
  C: number;
  H: number;
  W: number;
  O: number;
  kh: number;
  kw: number;
  stride: number;
  padding: number;
  bias: boolean;
}

/** float64 reference: PyTorch's conv2d (cross-correlation, zero padding). */
export function convRef(c: Case, x: Float64Array, w: Float64Array, b?: Float64Array, relu = false): Float64Array {
  const [Ho, Wo] = outSize(c);
  const y = new Float64Array(c.B * c.O * Ho * Wo);
  let i = 0;
  for (let n = 0; n < c.B; n++)
    for (let o = 0; o < c.O; o++)
      for (let oy = 0; oy < Ho; oy++)
        for (let ox = 0; ox < Wo; ox++) {
          let s = b ? b[o] : 0;
          for (let ch = 0; ch < c.C; ch++)
            for (let ky = 0; ky < c.kh; ky++) {
              const iy = oy * c.stride - c.padding + ky;
              if (iy < 0 || iy >= c.H) continue;
              for (let kx = 0; kx < c.kw; kx++) {
                const ix = ox * c.stride - c.padding + kx;
                if (ix < 0 || ix >= c.W) continue;
                s += x[((n * c.C + ch) * c.H + iy) * c.W + ix] * w[((o * c.C + ch) * c.kh + ky) * c.kw + kx];
              }
            }
          y[i++] = relu ? Math.max(s, 0) : s;
        }
  return y;
}

export function outSize(c: Case): [number, number] {
  return [Math.floor((c.H + 2 * c.padding - c.kh) / c.stride) + 1, Math.floor((c.W + 2 * c.padding - c.kw) / c.stride) + 1];
}

/** float64 d(sum(y * dy))/dx and /dw, accumulated tap by tap (independent of the GPU's scheme). */
export function gradRef(c: Case, x: Float64Array, w: Float64Array, dy: Float64Array): { dx: Float64Array; dw: Float64Array } {
  const [Ho, Wo] = outSize(c);
  const dx = new Float64Array(x.length);
  const dw = new Float64Array(w.length);
  for (let n = 0; n < c.B; n++)
    for (let o = 0; o < c.O; o++)
      for (let oy = 0; oy < Ho; oy++)
        for (let ox = 0; ox < Wo; ox++) {
          const g = dy[((n * c.O + o) * Ho + oy) * Wo + ox];
          for (let ch = 0; ch < c.C; ch++)
            for (let ky = 0; ky < c.kh; ky++) {
              const iy = oy * c.stride - c.padding + ky;
              if (iy < 0 || iy >= c.H) continue;
              for (let kx = 0; kx < c.kw; kx++) {
                const ix = ox * c.stride - c.padding + kx;
                if (ix < 0 || ix >= c.W) continue;
                const xi = ((n * c.C + ch) * c.H + iy) * c.W + ix;
                const wi = ((o * c.C + ch) * c.kh + ky) * c.kw + kx;
                dx[xi] += g * w[wi];
                dw[wi] += g * x[xi];
              }
            }
        }
  return { dx, dw };
}
