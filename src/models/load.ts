// Loading the frozen networks: from a converted .safetensors (architecture in its metadata) or
// straight from a PyTorch checkpoint (converted in memory, the same way `npm run convert` does).
import { parseCheckpoint, readCheckpoint, toFloat32, type Checkpoint, type HostTensor } from './checkpoint/index.js';
import { convertStateDict, familyOfModel, parseConversionMetadata } from './convert.js';
import { FAMILIES } from './families/index.js';
import {
  ConversionError,
  type ConvertedModel,
  type ConvertOptions,
  type FrozenClassifier,
  type FrozenGenerator,
  type FrozenModel,
  type ModelKind,
} from './family.js';

export type { FrozenClassifier, FrozenGenerator, FrozenModel } from './family.js';

/**
 * The weights and architecture in a model file, on the CPU: a converted .safetensors as it is;
 * a .pth (or a safetensors file of a raw state dict) recognised and converted in memory.
 */
export function readModelFile(path: string, options: ConvertOptions = {}): ConvertedModel {
  return convertedModel(readCheckpoint(path), path, options);
}

/** The same from a file's bytes (in a web page: fetch, or a dropped File); `name` names it in errors. */
export function readModelBytes(bytes: Uint8Array, name: string, options: ConvertOptions = {}): ConvertedModel {
  return convertedModel(parseCheckpoint(bytes, name), name, options);
}

function convertedModel({ tensors, metadata }: Checkpoint, path: string, options: ConvertOptions): ConvertedModel {
  const described = parseConversionMetadata(metadata);
  if (described) {
    const family = familyOfModel(described);
    const config = family.withOptions ? family.withOptions(described.config, options) : { ...described.config };
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
  const family = familyOfModel(converted);
  const model = family.build(family.checkConfig(converted.config, source));
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

/** A frozen generator (of any generator family) from a .pth or a converted .safetensors. */
export async function loadGenerator(path: string): Promise<FrozenGenerator> {
  const converted = readModelFile(path);
  expectKind(converted, 'generator', path);
  return buildModel(converted, path) as FrozenGenerator;
}

/**
 * A frozen classifier from a .pth or a converted .safetensors. Options: the input side and
 * ImageNet normalisation flag to record, and (for a .pth) whether a max-pool ends the features.
 */
export async function loadClassifier(path: string, options: ConvertOptions = {}): Promise<FrozenClassifier> {
  const converted = readModelFile(path, options);
  expectKind(converted, 'classifier', path);
  return buildModel(converted, path) as FrozenClassifier;
}

function asFloat32(tensors: Map<string, HostTensor>): Map<string, { shape: number[]; data: Float32Array }> {
  return new Map([...tensors].map(([k, t]) => [k, { shape: t.shape, data: toFloat32(t) }]));
}

function expectKind(converted: ConvertedModel, wanted: ModelKind, path: string): void {
  const family = familyOfModel(converted);
  if (family.kind !== wanted) {
    const wantedNames = FAMILIES.filter((f) => f.kind === wanted).map((f) => f.name);
    throw new ConversionError(`${path} holds ${family.name}, not ${wantedNames.join(' or ')}`);
  }
}
