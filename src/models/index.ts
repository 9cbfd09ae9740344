// The frozen networks and their conversion from PyTorch checkpoints.
export { BigGANGenerator, ModuleList } from './biggan.js';
export { VGG } from './vgg.js';
export {
  ConversionError,
  convertBigGAN,
  convertStateDict,
  convertVGG,
  conversionMetadata,
  detectFormat,
  parseConversionMetadata,
  spectralNormalize,
  summarize,
  vggFeatureIndices,
  IMAGENET_MEAN,
  IMAGENET_STD,
  type AttentionConfig,
  type BigGANConfig,
  type ConvertedModel,
  type ConvertOptions,
  type ModelConfig,
  type ModelFormat,
  type VGGConfig,
  type VGGLayerSpec,
} from './convert.js';
export { buildModel, loadClassifier, loadGenerator, loadModel, readModelFile, type FrozenModel } from './load.js';
export {
  classifierParity,
  compare,
  fixtureKind,
  formatParity,
  generatorParity,
  pairParity,
  pairUpsampleFactor,
  runParity,
  PARITY_GRAD_REL,
  PARITY_OUTPUT_REL,
  type FixtureKind,
  type ParityLine,
  type ParityOptions,
  type ParityResult,
} from './parity.js';
