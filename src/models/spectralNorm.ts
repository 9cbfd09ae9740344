// torch.nn.utils.spectral_norm (Miyato et al. 2018) for Linear, Conv2d and ConvTranspose2d: the
// layer computes with weight_orig / sigma, sigma the largest singular value of weight_orig seen as
// a matrix (out, rest), estimated by power iteration with vectors u and v kept as buffers. In
// training mode each forward pass runs the iteration once more and stores u and v; in eval mode
// they are used as stored. The gradient flows through weight_orig and sigma with u and v held
// constant, as in PyTorch, so it is composed of ops that have their own backward rules.
import { noGrad } from '../engine/autograd.js';
import { Rng } from '../engine/random.js';
import { runtime } from '../engine/runtime.js';
import { tensor, type Tensor } from '../engine/tensor.js';
import { clamp, div, mul, sqrt, square } from '../kernels/elementwise.js';
import { matmul } from '../kernels/matmul.js';
import { sum } from '../kernels/reduce.js';
import { permute } from '../kernels/shape.js';
import { ConvTranspose2d, type WeightedLayer } from './module.js';

export interface SpectralNormOptions {
  /** Power-iteration steps per training forward pass (torch's n_power_iterations). */
  powerIterations?: number;
  /** Floor of the norms the vectors are divided by (torch's eps). */
  eps?: number;
  /** Draws u and v's starting directions (torch draws them N(0, 1), normalised). */
  generator?: Rng;
}

/** Apply spectral norm to layer's weight, in place (torch: `spectral_norm(module)`); returns the layer. */
export function spectralNorm<L extends WeightedLayer>(layer: L, options: SpectralNormOptions = {}): L {
  const { powerIterations = 1, eps = 1e-12, generator = new Rng(0) } = options;
  if (!Number.isInteger(powerIterations) || powerIterations < 1) {
    throw new Error(`spectral norm: powerIterations must be a whole number of at least 1, got ${powerIterations}`);
  }
  // torch's dim: 1 for transposed convolutions (their weight is (in, out, k, k)), else 0.
  const dim = layer instanceof ConvTranspose2d ? 1 : 0;
  const shape = layer.originalWeight.shape;
  const rows = shape[dim];
  const cols = layer.originalWeight.size / rows;
  const unit = (n: number) => {
    const x = generator.fillNormal(new Float32Array(n));
    let squares = 0;
    for (const value of x) squares += value * value;
    const norm = Math.max(Math.sqrt(squares), eps);
    return tensor(x.map((v) => v / norm), [n]);
  };
  const u = unit(rows);
  const v = unit(cols);

  const normalize = (x: Tensor) => div(x, clamp(sqrt(sum(square(x))), eps, 3.4e38));

  layer.parametrizeWeight({
    originalName: 'weight_orig',
    buffers: { weight_u: u, weight_v: v },
    weight(original: Tensor, training: boolean): Tensor {
      let uNow = u;
      let vNow = v;
      if (training) {
        // Fresh tensors, copied into the buffers: the sigma of an earlier forward pass keeps its own u
        // and v for its backward pass (torch clones them for the same reason).
        noGrad(() => {
          const Wd = weightMatrix(original.detach(), dim);
          for (let i = 0; i < powerIterations; i++) {
            vNow = normalize(matmul(uNow.reshape(1, rows), Wd).reshape(cols));
            uNow = normalize(matmul(vNow.reshape(1, cols), Wd, { transB: true }).reshape(rows));
          }
        });
        runtime().copy(uNow.buffer, 0, u.buffer, 0, 4 * rows);
        runtime().copy(vNow.buffer, 0, v.buffer, 0, 4 * cols);
      }
      return divideBySigma(original, uNow, vNow, dim);
    },
  });
  return layer;
}

/** The weight as the matrix whose singular values spectral norm measures: axis `dim` first, the rest flattened. */
function weightMatrix(weight: Tensor, dim: number): Tensor {
  const rows = weight.shape[dim];
  const moved = dim === 0 ? weight : permute(weight, [dim, ...weight.shape.map((_, i) => i).filter((i) => i !== dim)]);
  return moved.reshape(rows, weight.size / rows);
}

/** weight / sigma with sigma = u . (W v), W = weightMatrix(weight, dim); the gradient reaches weight only. */
export function divideBySigma(weight: Tensor, u: Tensor, v: Tensor, dim: number): Tensor {
  const W = weightMatrix(weight, dim);
  const [rows, cols] = W.shape;
  const sigma = sum(mul(u.reshape(1, rows), matmul(v.reshape(1, cols), W, { transB: true })));
  return div(weight, sigma);
}
