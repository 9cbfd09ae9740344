// The frozen networks and their conversion from PyTorch checkpoints.
export { BigGANGenerator, ModuleList, type AttentionConfig, type BigGANConfig } from './biggan.js';
export { BigGANDeepGenerator, statisticsRows, truncatedNoise, type BigGANDeepConfig } from './bigganDeep.js';
export { bakeSpectralNorm, convertBigGANDeep } from './families/bigganDeep.js';
export { VGG, IMAGENET_MEAN, IMAGENET_STD, vggFeatureIndices, type VGGConfig, type VGGLayerSpec } from './vgg.js';
export { convertBigGAN, spectralNormalize } from './families/biggan.js';
export { VGGFace, VGGFACE_MEAN, type VGGFaceConfig } from './vggface.js';
export { convertVGG } from './families/vgg.js';
export { convertVGGFace } from './families/vggface.js';
export { DCGANDiscriminator, DCGANGenerator, type DCGANDiscriminatorConfig, type DCGANGeneratorConfig } from './dcgan.js';
export { convertDCGAN } from './families/dcgan.js';
export { FAMILIES, familyOf } from './families/index.js';
export { conversionMetadata, convertStateDict, detectFamily, detectFormat, parseConversionMetadata, summarize } from './convert.js';
export {
  ConversionError,
  type Classifier,
  type ConvertedModel,
  type ConvertOptions,
  type ImageGenerator,
  type ModelConfig,
  type ModelFamily,
  type ModelFormat,
  type ModelKind,
} from './family.js';
export {
  buildModel,
  loadClassifier,
  loadGenerator,
  loadModel,
  readModelFile,
  type FrozenClassifier,
  type FrozenGenerator,
  type FrozenModel,
} from './load.js';
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
