// Float64 references for batch normalisation over (N, C, ...) data, plain and conditional.

export interface BatchNormRefOptions {
  training: boolean;
  eps?: number;
  /** Eval mode: the running statistics used instead of the batch's. */
  runningMean?: Float64Array;
  runningVar?: Float64Array;
}

/** Per-channel mean, biased and unbiased variance of x viewed as (N, C, S). */
export function channelStats(x: Float64Array, N: number, C: number) {
  const S = x.length / (N * C);
  const mean = new Float64Array(C);
  const biased = new Float64Array(C);
  const unbiased = new Float64Array(C);
  const count = N * S;
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let n = 0; n < N; n++) for (let i = 0; i < S; i++) s += x[(n * C + c) * S + i];
    const m = s / count;
    let q = 0;
    for (let n = 0; n < N; n++) for (let i = 0; i < S; i++) q += (x[(n * C + c) * S + i] - m) ** 2;
    mean[c] = m;
    biased[c] = q / count;
    unbiased[c] = q / (count - 1);
  }
  return { mean, biased, unbiased };
}

/**
 * (x - mean) / sqrt(var + eps) * scale(n, c) + shift(n, c), with batch statistics (biased
 * variance) in training and the running ones in eval.
 */
export function normalizeRef(
  x: Float64Array, N: number, C: number, options: BatchNormRefOptions,
  scale: (n: number, c: number) => number = () => 1, shift: (n: number, c: number) => number = () => 0,
): Float64Array {
  const S = x.length / (N * C);
  const eps = options.eps ?? 1e-5;
  let mean: Float64Array;
  let variance: Float64Array;
  if (options.training) {
    const st = channelStats(x, N, C);
    mean = st.mean;
    variance = st.biased;
  } else {
    mean = options.runningMean!;
    variance = options.runningVar!;
  }
  const y = new Float64Array(x.length);
  for (let n = 0; n < N; n++) {
    for (let c = 0; c < C; c++) {
      const r = 1 / Math.sqrt(variance[c] + eps);
      const a = scale(n, c);
      const b = shift(n, c);
      for (let i = 0; i < S; i++) {
        const k = (n * C + c) * S + i;
        y[k] = (x[k] - mean[c]) * r * a + b;
      }
    }
  }
  return y;
}

/** F.batch_norm with optional per-channel weight and bias. */
export function batchNormRef(
  x: Float64Array, N: number, C: number, options: BatchNormRefOptions,
  weight?: Float64Array | null, bias?: Float64Array | null,
): Float64Array {
  return normalizeRef(x, N, C, options, (_, c) => (weight ? weight[c] : 1), (_, c) => (bias ? bias[c] : 0));
}

/** BigGAN's conditional batchnorm: x_hat * (1 + gain[n, c]) + bias[n, c]. */
export function conditionalBatchNormRef(
  x: Float64Array, N: number, C: number, gain: Float64Array, bias: Float64Array, options: BatchNormRefOptions,
): Float64Array {
  return normalizeRef(x, N, C, options, (n, c) => 1 + gain[n * C + c], (n, c) => bias[n * C + c]);
}
