// Losses of PyTorch's torch.nn.functional, mean-reduced, composed of elementwise ops and a
// mean, so their gradients come from the pieces' rules (no kernels of their own).
import { type Tensor } from '../engine/tensor.js';
import { add, mul, neg, softplus, square, sub } from './elementwise.js';
import { mean } from './reduce.js';

/**
 * F.binary_cross_entropy_with_logits(x, target): mean(softplus(x) - x * target), the form that
 * never takes the log of a sigmoid that rounded to 0 or 1. A number target is one label for every
 * element (GAN losses: 1 real, 0 fake), for which softplus(-x) and softplus(x) save the product.
 */
export function binaryCrossEntropyWithLogits(x: Tensor, target: Tensor | number): Tensor {
  if (target === 1) return mean(softplus(neg(x)));
  if (target === 0) return mean(softplus(x));
  return mean(sub(softplus(x), mul(x, target)));
}

/** F.mse_loss(x, target): mean((x - target)^2). */
export function mseLoss(x: Tensor, target: Tensor | number): Tensor {
  return mean(square(typeof target === 'number' ? add(x, -target) : sub(x, target)));
}
