// Loading the frozen networks: from a converted .safetensors (architecture in its metadata) or
// straight from a PyTorch checkpoint (converted in memory, the same way `npm run convert` does).
import { readCheckpoint, toFloat32, type HostTensor } from './checkpoint/index.js';
import { BigGANGenerator } from './biggan.js';
import {
  ConversionError,
  convertStateDict,
  parseConversionMetadata,
  type BigGANConfig,
  type ConvertedModel,
  type ConvertOptions,
  type VGGConfig,
} from './convert.js';
import { VGG } from './vgg.js';

export type FrozenModel = BigGANGenerator | VGG;

const FORMAT_NAMES = { 'biggan-generator': 'a BigGAN generator', vgg: 'a VGG classifier' } as const;

/**
 * The weights and architecture in a model file, on the CPU: a converted .safetensors as it is;
 * a .pth (or a safetensors file of a raw state dict) recognised and converted in memory.
 */
export function readModelFile(path: string, options: ConvertOptions = {}): ConvertedModel {
  const { tensors, metadata } = readCheckpoint(path);
  const described = parseConversionMetadata(metadata);
  if (described) {
    const config = { ...described.config };
    if (described.format === 'vgg') {
      const vgg = config as VGGConfig;
      if (options.inputSize !== undefined) vgg.inputSize = options.inputSize;
      if (options.normalize !== undefined) vgg.normalize = options.normalize;
    }
    return { format: described.format, config, tensors };
  }
  try {
    return convertStateDict(tensors, { source: path, ...options });
  } catch (err) {
    if (err instanceof ConversionError) err.message = `${path}: ${err.message}`;
    throw err;
  }
}

/** Builds the network a converted model describes, loads its weights and freezes them. */
export function buildModel(converted: ConvertedModel, source = '<memory>'): FrozenModel {
  const model =
    converted.format === 'biggan-generator'
      ? new BigGANGenerator(checkBigGANConfig(converted.config as BigGANConfig, source))
      : new VGG(checkVGGConfig(converted.config as VGGConfig, source));
  try {
    model.loadStateDict(asFloat32(converted.tensors), { source });
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model.requiresGrad_(false);
}

/** A generator or a classifier, whichever the file holds. */
export async function loadModel(path: string, options: ConvertOptions = {}): Promise<FrozenModel> {
  return buildModel(readModelFile(path, options), path);
}

/** A frozen BigGAN generator from a .pth or a converted .safetensors. */
export async function loadGenerator(path: string): Promise<BigGANGenerator> {
  const converted = readModelFile(path);
  expectFormat(converted, 'biggan-generator', path);
  return buildModel(converted, path) as BigGANGenerator;
}

/**
 * A frozen VGG classifier from a .pth or a converted .safetensors. Options: the input side and
 * ImageNet normalisation flag to record, and (for a .pth) whether a max-pool ends the features.
 */
export async function loadClassifier(path: string, options: ConvertOptions = {}): Promise<VGG> {
  const converted = readModelFile(path, options);
  expectFormat(converted, 'vgg', path);
  return buildModel(converted, path) as VGG;
}

function asFloat32(tensors: Map<string, HostTensor>): Map<string, { shape: number[]; data: Float32Array }> {
  return new Map([...tensors].map(([k, t]) => [k, { shape: t.shape, data: toFloat32(t) }]));
}

function expectFormat(converted: ConvertedModel, wanted: ConvertedModel['format'], path: string): void {
  if (converted.format !== wanted) {
    throw new ConversionError(`${path} holds ${FORMAT_NAMES[converted.format]}, not ${FORMAT_NAMES[wanted]}`);
  }
}

// A converted file's config comes from its metadata: check it before building from it.

const isCount = (x: unknown) => Number.isSafeInteger(x) && (x as number) > 0;

function checkBigGANConfig(c: BigGANConfig, source: string): BigGANConfig {
  const ok =
    [c.resolution, c.bottomWidth, c.dimZ, c.zChunk, c.nClasses, c.sharedDim, c.outChannels].every(isCount) &&
    typeof c.hierarchical === 'boolean' &&
    Array.isArray(c.channels) && c.channels.length >= 2 && c.channels.every(isCount) &&
    Array.isArray(c.attention) &&
    c.attention.every((a) => Number.isSafeInteger(a.block) && a.block >= 0 && a.block < c.channels.length - 1 && isCount(a.keyChannels) && isCount(a.valueChannels)) &&
    typeof c.eps === 'number' &&
    c.resolution === c.bottomWidth * 2 ** (c.channels.length - 1) &&
    c.dimZ === (c.hierarchical ? c.zChunk * c.channels.length : c.zChunk);
  if (!ok) throw new ConversionError(`${source}: the BigGAN config in the metadata is inconsistent: ${JSON.stringify(c)}`);
  return c;
}

function checkVGGConfig(c: VGGConfig, source: string): VGGConfig {
  const ok =
    isCount(c.inChannels) &&
    Array.isArray(c.cfg) && c.cfg.some((v) => v !== 'M') && c.cfg.every((v) => v === 'M' || isCount(v)) &&
    typeof c.batchNorm === 'boolean' &&
    isCount(c.avgPool) &&
    Array.isArray(c.hidden) && c.hidden.length === 2 && c.hidden.every(isCount) &&
    isCount(c.numClasses) &&
    (c.inputSize === null || isCount(c.inputSize)) &&
    typeof c.normalize === 'boolean' &&
    typeof c.eps === 'number';
  if (!ok) throw new ConversionError(`${source}: the VGG config in the metadata is inconsistent: ${JSON.stringify(c)}`);
  return c;
}
