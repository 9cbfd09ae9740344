// Float64 references for softmax / log-softmax over the last axis and mean cross-entropy.

function logSumExp(x: Float64Array, base: number, cols: number): number {
  let m = -Infinity;
  for (let c = 0; c < cols; c++) m = Math.max(m, x[base + c]);
  let s = 0;
  for (let c = 0; c < cols; c++) s += Math.exp(x[base + c] - m);
  return m + Math.log(s);
}

export function softmaxRef(x: Float64Array, cols: number, log = false): Float64Array {
  const out = new Float64Array(x.length);
  for (let base = 0; base < x.length; base += cols) {
    const lse = logSumExp(x, base, cols);
    for (let c = 0; c < cols; c++) {
      const z = x[base + c] - lse;
      out[base + c] = log ? z : Math.exp(z);
    }
  }
  return out;
}

/** mean over rows of logsumexp(row) - row[target]; a one-element result. */
export function crossEntropyRef(logits: Float64Array, cols: number, targets: ArrayLike<number>): Float64Array {
  const rows = logits.length / cols;
  let total = 0;
  for (let r = 0; r < rows; r++) total += logSumExp(logits, r * cols, cols) - logits[r * cols + targets[r]];
  return Float64Array.of(total / rows);
}
