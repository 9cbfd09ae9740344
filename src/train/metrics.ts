// Evaluation figures: per-class precision/recall/F1 (the paper's Table 2), within-class variety
// (mean pairwise feature distance) and nearest-neighbour distance, and the Fréchet distance
// between feature distributions.

export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export function classificationReport(predicted: ArrayLike<number>, actual: ArrayLike<number>, numClasses: number) {
  const tp = new Array(numClasses).fill(0);
  const predictedCount = new Array(numClasses).fill(0);
  const support = new Array(numClasses).fill(0);
  for (let i = 0; i < actual.length; i++) {
    support[actual[i]]++;
    predictedCount[predicted[i]]++;
    if (predicted[i] === actual[i]) tp[actual[i]]++;
  }
  const perClass: ClassScores[] = support.map((s, c) => {
    const precision = predictedCount[c] ? tp[c] / predictedCount[c] : 0;
    const recall = s ? tp[c] / s : 0;
    const f1 = precision + recall ? (2 * precision * recall) / (precision + recall) : 0;
    return { precision, recall, f1, support: s };
  });
  const accuracy = tp.reduce((a, b) => a + b, 0) / Math.max(1, actual.length);
  return { perClass, accuracy };
}

/** Mean Euclidean distance over all pairs of rows of `features` (n, d). */
export function meanPairwiseDistance(features: Float32Array | Float64Array, n: number, d: number): number {
  if (n < 2) return 0;
  let total = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) total += Math.sqrt(squaredDistance(features, i, j, d));
  return total / ((n * (n - 1)) / 2);
}

/** |row i - row j|^2 of `features` (n, d). */
function squaredDistance(features: Float32Array | Float64Array, i: number, j: number, d: number): number {
  let s = 0;
  for (let k = 0; k < d; k++) {
    const diff = features[i * d + k] - features[j * d + k];
    s += diff * diff;
  }
  return s;
}

/**
 * Mean over rows of `features` (n, d) of the Euclidean distance to the nearest other row. Beside
 * meanPairwiseDistance (spread at the scale of a class), this is spread at the scale of neighbours:
 * a sampler that draws a few images again and again (a table with a little noise) keeps its mean
 * pairwise distance but its samples lie next to each other. It grows with fewer rows, so compare
 * equal n.
 */
export function meanNearestNeighbourDistance(features: Float32Array | Float64Array, n: number, d: number): number {
  if (n < 2) return 0;
  const nearest = new Float64Array(n).fill(Infinity);
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const s = squaredDistance(features, i, j, d);
      if (s < nearest[i]) nearest[i] = s;
      if (s < nearest[j]) nearest[j] = s;
    }
  }
  return nearest.reduce((total, s) => total + Math.sqrt(s), 0) / n;
}

export function meanAndCovariance(features: ArrayLike<number>, n: number, d: number) {
  const mean = new Float64Array(d);
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) mean[k] += features[i * d + k] / n;
  const cov = new Float64Array(d * d);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < d; a++) {
      const da = features[i * d + a] - mean[a];
      for (let b = a; b < d; b++) cov[a * d + b] += da * (features[i * d + b] - mean[b]);
    }
  }
  for (let a = 0; a < d; a++) {
    for (let b = a; b < d; b++) {
      cov[a * d + b] /= Math.max(1, n - 1);
      cov[b * d + a] = cov[a * d + b];
    }
  }
  return { mean, cov };
}

/** Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations: values, and vectors as columns. */
export function symmetricEigen(matrix: Float64Array, d: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < d; p++) for (let q = p + 1; q < d; q++) off += a[p * d + q] ** 2;
    if (off < 1e-22) break;
    for (let p = 0; p < d; p++) {
      for (let q = p + 1; q < d; q++) {
        const apq = a[p * d + q];
        if (Math.abs(apq) < 1e-300) continue;
        const theta = (a[q * d + q] - a[p * d + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < d; k++) {
          const akp = a[k * d + p];
          const akq = a[k * d + q];
          a[k * d + p] = c * akp - s * akq;
          a[k * d + q] = s * akp + c * akq;
        }
        for (let k = 0; k < d; k++) {
          const apk = a[p * d + k];
          const aqk = a[q * d + k];
          a[p * d + k] = c * apk - s * aqk;
          a[q * d + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < d; k++) {
          const vkp = v[k * d + p];
          const vkq = v[k * d + q];
          v[k * d + p] = c * vkp - s * vkq;
          v[k * d + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return { values: Float64Array.from({ length: d }, (_, i) => a[i * d + i]), vectors: v };
}

/**
 * Fréchet distance |m1 - m2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^1/2), with the trace of the square
 * root taken from the eigenvalues of the symmetric S1^1/2 S2 S1^1/2 (same spectrum as S1 S2).
 */
export function frechetDistance(
  a: { mean: Float64Array; cov: Float64Array },
  b: { mean: Float64Array; cov: Float64Array },
  d: number,
): number {
  const { values, vectors } = symmetricEigen(a.cov, d);
  const root = new Float64Array(d * d);
  for (let k = 0; k < d; k++) {
    const s = Math.sqrt(Math.max(0, values[k]));
    for (let i = 0; i < d; i++) for (let j = 0; j < d; j++) root[i * d + j] += vectors[i * d + k] * s * vectors[j * d + k];
  }
  const tmp = multiply(multiply(root, b.cov, d), root, d);
  const middle = symmetricEigen(tmp, d).values.reduce((s, x) => s + Math.sqrt(Math.max(0, x)), 0);
  let meanTerm = 0;
  let trace = 0;
  for (let i = 0; i < d; i++) {
    meanTerm += (a.mean[i] - b.mean[i]) ** 2;
    trace += a.cov[i * d + i] + b.cov[i * d + i];
  }
  return meanTerm + trace - 2 * middle;
}

/**
 * The same Fréchet distance between n samples (rows of `features`, (n, d)) and a reference mean and
 * covariance, for n <= d: the sample covariance is X^T X / (n - 1) with X the centred rows, and
 * S1 S2 has the nonzero eigenvalues of the n x n symmetric X S2 X^T / (n - 1), so the trace of the
 * square root costs an n x n eigen-decomposition instead of two d x d ones (100 samples of a
 * judge's 512 features: milliseconds, not a minute).
 */
export function frechetDistanceToSamples(
  features: ArrayLike<number>,
  n: number,
  d: number,
  reference: { mean: Float64Array; cov: Float64Array },
): number {
  const own = meanAndCovariance(features, n, d);
  if (n - 1 >= d || n < 2) return frechetDistance(own, reference, d);
  const x = new Float64Array(n * d);
  for (let i = 0; i < n; i++) for (let k = 0; k < d; k++) x[i * d + k] = features[i * d + k] - own.mean[k];
  // y = X S2 (n, d), then m = y X^T / (n - 1) (n, n), symmetric.
  const y = new Float64Array(n * d);
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < d; k++) {
      const xik = x[i * d + k];
      if (xik === 0) continue;
      for (let j = 0; j < d; j++) y[i * d + j] += xik * reference.cov[k * d + j];
    }
  }
  const m = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += y[i * d + k] * x[j * d + k];
      m[i * n + j] = m[j * n + i] = s / (n - 1);
    }
  }
  const middle = symmetricEigen(m, n).values.reduce((s, v) => s + Math.sqrt(Math.max(0, v)), 0);
  let meanTerm = 0;
  let trace = 0;
  for (let i = 0; i < d; i++) {
    meanTerm += (own.mean[i] - reference.mean[i]) ** 2;
    trace += own.cov[i * d + i] + reference.cov[i * d + i];
  }
  return meanTerm + trace - 2 * middle;
}

/**
 * Kernel inception distance (Bińkowski et al. 2018, "Demystifying MMD GANs"): the unbiased squared
 * MMD between rows of `x` (n, d) and of `y` (m, d) under the kernel k(a, b) = (a.b / d + 1)^3.
 * Unlike the Fréchet distance it has no bias that depends on the number of samples, so 100
 * samples a class can be compared with one another however the samples' spread differs.
 * `yy`: the y-y term, kernelSelfTerm(y, m, d), when many x are measured against one y.
 */
export function kernelDistance(x: ArrayLike<number>, n: number, y: ArrayLike<number>, m: number, d: number, yy = kernelSelfTerm(y, m, d)): number {
  if (n < 2 || m < 2) throw new Error(`kernelDistance: needs 2 or more rows on each side, got ${n} and ${m}`);
  let xy = 0;
  for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) xy += cubicKernel(x, i, y, j, d);
  return kernelSelfTerm(x, n, d) + yy - (2 * xy) / (n * m);
}

/** The mean of k(a, b) over pairs of distinct rows of `x` (n, d): kernelDistance's within-set term. */
export function kernelSelfTerm(x: ArrayLike<number>, n: number, d: number): number {
  let s = 0;
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) s += cubicKernel(x, i, x, j, d);
  return (2 * s) / (n * (n - 1));
}

function cubicKernel(x: ArrayLike<number>, i: number, y: ArrayLike<number>, j: number, d: number): number {
  let dot = 0;
  for (let k = 0; k < d; k++) dot += x[i * d + k] * y[j * d + k];
  return (dot / d + 1) ** 3;
}

function multiply(x: Float64Array, y: Float64Array, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let k = 0; k < d; k++) {
      const xik = x[i * d + k];
      if (xik === 0) continue;
      for (let j = 0; j < d; j++) out[i * d + j] += xik * y[k * d + j];
    }
  }
  return out;
}

/** The column of each row's largest value (the first, on ties): a batch of logits' predicted classes. */
export function argmaxRows(values: Float32Array, rows: number, cols: number): number[] {
  return Array.from({ length: rows }, (_, r) => {
    let best = 0;
    for (let c = 1; c < cols; c++) if (values[r * cols + c] > values[r * cols + best]) best = c;
    return best;
  });
}
