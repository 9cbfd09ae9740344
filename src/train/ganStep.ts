// One training step of a conditional GAN, free of Node (like step.ts): both networks learn, each
// with its own Adam, one after the other on the same batch.
import { scope, type Tensor } from '../engine/tensor.js';
import type { DCGANDiscriminator } from '../models/dcgan.js';
import type { ImageGenerator } from '../models/family.js';
import type { Module } from '../models/module.js';
import { add } from '../kernels/elementwise.js';
import { mean } from '../kernels/reduce.js';
import { concat } from '../kernels/shape.js';
import { crossEntropy } from '../kernels/softmax.js';
import { discriminatorLoss, generatorLoss, type GanLoss } from './ganLoss.js';
import type { Adam } from './optim.js';

/** A generator that learns: a DCGAN, or a BigGAN fine-tuned or trained from scratch (cgan.ts). */
export type TrainableGenerator = Module & ImageGenerator;

export interface Gan {
  generator: TrainableGenerator;
  discriminator: DCGANDiscriminator;
  optimizerG: Adam;
  optimizerD: Adam;
  loss: GanLoss;
}

/**
 * PyTorch's DCGAN example's step: G draws a batch for the real batch's labels (one forward, batch
 * statistics); D learns to tell the real batch from it (G's images detached), then G learns from
 * the updated D's view of the same images. Both networks stay in training mode, so batchnorm
 * uses batch statistics and updates its running statistics in each forward pass.
 * With an auxiliary classifier in D (AC-GAN, Odena et al. 2017), both losses add its
 * cross-entropy against the labels: D's on the real and the generated batch, G's on its own.
 * Returns [D's loss, G's loss, D's mean logit on real, on fake] with one read-back.
 */
export async function ganStep(gan: Gan, real: Tensor, labels: ArrayLike<number>, z: Tensor): Promise<Float32Array> {
  const { generator: G, discriminator: D, optimizerG, optimizerD } = gan;
  const stats = scope(() => {
    const fake = G.forward(z, labels);
    const onReal = D.forwardWithClasses(real, labels);
    const onFake = D.forwardWithClasses(fake.detach(), labels);
    const realLogits = onReal.logits;
    const fakeLogits = onFake.logits;
    let lossD = discriminatorLoss(gan.loss, realLogits, fakeLogits);
    if (onReal.classLogits && onFake.classLogits) {
      lossD = add(lossD, add(crossEntropy(onReal.classLogits, labels), crossEntropy(onFake.classLogits, labels)));
    }
    lossD.backward();
    optimizerD.step();
    optimizerD.zeroGrad();
    // G's loss needs D's gradient with respect to its input only: frozen, D skips its weight gradients.
    D.requiresGrad_(false);
    let lossG: Tensor;
    try {
      const seen = D.forwardWithClasses(fake, labels);
      lossG = generatorLoss(gan.loss, seen.logits);
      if (seen.classLogits) lossG = add(lossG, crossEntropy(seen.classLogits, labels));
      lossG.backward();
    } finally {
      D.requiresGrad_(true);
    }
    optimizerG.step();
    optimizerG.zeroGrad();
    return concat([lossD, lossG, mean(realLogits), mean(fakeLogits)].map((t) => t.reshape(1)));
  });
  const values = (await stats.data()) as Float32Array;
  stats.dispose();
  return values;
}
