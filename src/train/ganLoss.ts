// The adversarial losses of a GAN, from the discriminator's raw outputs (logits) on real and on
// generated images: the discriminator's loss and the generator's, for three choices.
import type { Tensor } from '../engine/tensor.js';
import { add, mul, neg, relu } from '../kernels/elementwise.js';
import { binaryCrossEntropyWithLogits, mseLoss } from '../kernels/loss.js';
import { mean } from '../kernels/reduce.js';

/**
 * bce: the original GAN's cross-entropy (Goodfellow et al.), with the non-saturating generator
 * loss -log D(G(z)), as PyTorch's DCGAN example trains it.
 * lsgan: least squares (Mao et al.): D pulls real outputs to 1 and fake to 0, G pulls fake to 1;
 * each term halved as in the paper.
 * hinge: D's mean(relu(1 - real)) + mean(relu(1 + fake)); G's -mean(fake) (SAGAN, BigGAN).
 */
export const GAN_LOSSES = ['bce', 'lsgan', 'hinge'] as const;
export type GanLoss = (typeof GAN_LOSSES)[number];

/** The discriminator's loss from its logits on a batch of real images and one of generated images. */
export function discriminatorLoss(kind: GanLoss, real: Tensor, fake: Tensor): Tensor {
  switch (kind) {
    case 'bce':
      return add(binaryCrossEntropyWithLogits(real, 1), binaryCrossEntropyWithLogits(fake, 0));
    case 'lsgan':
      return mul(add(mseLoss(real, 1), mseLoss(fake, 0)), 0.5);
    case 'hinge':
      return add(mean(relu(add(neg(real), 1))), mean(relu(add(fake, 1))));
  }
}

/** The generator's loss from the discriminator's logits on its images. */
export function generatorLoss(kind: GanLoss, fake: Tensor): Tensor {
  switch (kind) {
    case 'bce':
      return binaryCrossEntropyWithLogits(fake, 1);
    case 'lsgan':
      return mul(mseLoss(fake, 1), 0.5);
    case 'hinge':
      return neg(mean(fake));
  }
}
