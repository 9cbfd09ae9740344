/** CPU-side layout conversions used outside the timed region. */

/** Permute the axes of a row-major tensor: out.shape[i] = shape[perm[i]]. */
export function permute(data: Float32Array, shape: readonly number[], perm: readonly number[]): Float32Array {
  const rank = shape.length;
  if (perm.length !== rank) throw new Error('permute: rank mismatch');
  const inStrides = new Array<number>(rank);
  let s = 1;
  for (let i = rank - 1; i >= 0; i--) {
    inStrides[i] = s;
    s *= shape[i];
  }
  if (s !== data.length) throw new Error(`permute: ${data.length} elements for shape [${shape}]`);
  const outShape = perm.map((p) => shape[p]);
  const strideOf = perm.map((p) => inStrides[p]); // input stride of each output axis
  const out = new Float32Array(data.length);
  const idx = new Array<number>(rank).fill(0);
  let src = 0;
  for (let o = 0; o < out.length; o++) {
    out[o] = data[src];
    for (let ax = rank - 1; ax >= 0; ax--) {
      idx[ax]++;
      src += strideOf[ax];
      if (idx[ax] < outShape[ax]) break;
      src -= strideOf[ax] * outShape[ax];
      idx[ax] = 0;
    }
  }
  return out;
}

export const NCHW_TO_NHWC = [0, 2, 3, 1] as const;
export const NHWC_TO_NCHW = [0, 3, 1, 2] as const;
/** conv weight (O,C,kh,kw) -> tfjs filter (kh,kw,C,O) */
export const OIHW_TO_HWIO = [2, 3, 1, 0] as const;
