// The model families, one line each: detection, conversion, loading and parity go through this
// list, so adding a family is one file in this folder and one line here.
import type { ModelFamily } from '../family.js';
import { bigganGenerator } from './biggan.js';
import { bigganDeepGenerator } from './bigganDeep.js';
import { dcganGenerator } from './dcgan.js';
import { resnetClassifier } from './resnet.js';
import { vggClassifier } from './vgg.js';
import { vggFaceClassifier } from './vggface.js';

export const FAMILIES: readonly ModelFamily[] = [
  bigganGenerator, // BigGAN-PyTorch generator (spectral norm baked at conversion)
  bigganDeepGenerator, // pytorch-pretrained-BigGAN's BigGAN-deep (config.json beside the weights)
  vggClassifier, // torchvision VGG, with or without batchnorm
  vggFaceClassifier, // VGG-Face in the vgg_face_dag port's flat names (conv1_1 ... fc8)
  resnetClassifier, // torchvision ResNet, BasicBlock or Bottleneck
  dcganGenerator, // the conditional DCGAN of `npm run cgan` (PyTorch DCGAN example's layout plus a class embedding)
];

/** The family whose converted files record `format`; undefined for none. */
export function familyOf(format: string): ModelFamily | undefined {
  return FAMILIES.find((f) => f.format === format);
}
