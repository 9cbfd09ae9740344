// Float64 references for embedding lookups and one-hot rows.

export function embeddingRef(weight: Float64Array, width: number, indices: ArrayLike<number>): Float64Array {
  const out = new Float64Array(indices.length * width);
  for (let j = 0; j < indices.length; j++) {
    for (let d = 0; d < width; d++) out[j * width + d] = weight[indices[j] * width + d];
  }
  return out;
}

export function oneHotRef(indices: ArrayLike<number>, classes: number): Float64Array {
  const out = new Float64Array(indices.length * classes);
  for (let j = 0; j < indices.length; j++) out[j * classes + indices[j]] = 1;
  return out;
}
