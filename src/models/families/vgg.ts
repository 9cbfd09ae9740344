// The torchvision VGG classifier family (MODELS.md): its keys, the inference of its
// architecture (pools from the index gaps, classifier sizes), and the checks of a converted config.
import type { HostTensor } from '../checkpoint/index.js';
import { VGG, type VGGConfig, type VGGLayerSpec } from '../vgg.js';
import { ConversionError, describeInput, fitsAny, fmt, isCount, Keys, withInputOptions, type ConvertedModel, type ConvertOptions, type ModelFamily } from '../family.js';

const VGG_KEYS: RegExp[] = [
  /^features\.\d+\.(?:weight|bias|running_mean|running_var|num_batches_tracked)$/,
  /^classifier\.[036]\.(?:weight|bias)$/,
];

/** Infers a torchvision VGG: conv widths, batchnorm, pools from the index gaps, classifier sizes. */
export function convertVGG(state: Map<string, HostTensor>, options: ConvertOptions = {}): ConvertedModel {
  const keys = new Keys(state);
  const copy = keys.copy.bind(keys);

  // Feature modules by index: a conv has a 4-D weight, a batchnorm a running mean.
  const indices = new Map<number, string>();
  for (const k of state.keys()) {
    const m = /^features\.(\d+)\./.exec(k);
    if (m && !indices.has(Number(m[1]))) indices.set(Number(m[1]), k);
  }
  const isConv = (i: number) => (state.get(`features.${i}.weight`)?.shape.length ?? 0) === 4;
  const isBn = (i: number) => state.has(`features.${i}.running_mean`);
  const convIdx = [...indices.keys()].filter(isConv).sort((a, b) => a - b);
  if (convIdx.length === 0) throw new ConversionError("missing key 'features.0.weight': no conv layers found", 'features.0.weight');
  const batchNorm = isBn(convIdx[0] + 1);
  const step = batchNorm ? 3 : 2;

  const cfg: VGGLayerSpec[] = [];
  const inChannels = state.get(`features.${convIdx[0]}.weight`)!.shape[1];
  let channels = inChannels;
  let expectedAt = 0;
  for (const i of convIdx) {
    const key = `features.${i}.weight`;
    if (i === expectedAt + 1) {
      cfg.push('M');
    } else if (i !== expectedAt) {
      throw new ConversionError(
        `'${key}': a conv at index ${i} does not fit the layout (expected the next conv at features.${expectedAt}, or at features.${expectedAt + 1} after a max-pool)`,
        key,
      );
    }
    const [out] = copy(key, [null, channels, 3, 3], `a 3x3 conv from the ${channels} channels before it`).shape;
    copy(`features.${i}.bias`, [out]);
    if (batchNorm) {
      const b = `features.${i + 1}`;
      if (!isBn(i + 1)) throw new ConversionError(`missing key '${b}.running_mean': the other convs are followed by a batchnorm`, `${b}.running_mean`);
      for (const k of ['weight', 'bias', 'running_mean', 'running_var']) copy(`${b}.${k}`, [out]);
      if (state.has(`${b}.num_batches_tracked`)) keys.used.add(`${b}.num_batches_tracked`);
    }
    cfg.push(out);
    channels = out;
    expectedAt = i + step;
  }
  // Anything under features.* that is neither a conv nor its batchnorm.
  keys.checkAllUsed((k) => !k.startsWith('features.'));
  if (options.finalPool ?? true) cfg.push('M');

  const c0 = copy('classifier.0.weight', [null, null]);
  const [hidden1, flat] = c0.shape;
  const cells = flat / channels;
  const avgPool = Math.round(Math.sqrt(cells));
  if (!Number.isInteger(cells) || avgPool * avgPool !== cells) {
    throw new ConversionError(
      `'classifier.0.weight' has shape ${fmt(c0.shape)}: ${flat} inputs are not the last conv's ${channels} channels times a square pool size`,
      'classifier.0.weight',
    );
  }
  copy('classifier.0.bias', [hidden1]);
  const [hidden2] = copy('classifier.3.weight', [null, hidden1], `a linear from classifier.0's ${hidden1} outputs`).shape;
  copy('classifier.3.bias', [hidden2]);
  const [numClasses] = copy('classifier.6.weight', [null, hidden2], `a linear from classifier.3's ${hidden2} outputs`).shape;
  copy('classifier.6.bias', [numClasses]);
  keys.checkAllUsed(() => false);

  const imagenet = numClasses === 1000 && avgPool === 7 && inChannels === 3;
  const inputSize = options.inputSize ?? (imagenet ? 224 : null);
  const config: VGGConfig = {
    inChannels,
    cfg,
    batchNorm,
    avgPool,
    hidden: [hidden1, hidden2],
    numClasses,
    inputSize,
    normalize: options.normalize ?? imagenet,
    eps: 1e-5,
  };
  if (inputSize !== null) checkVGGInputSize(config, inputSize);
  return { format: 'vgg', config, tensors: keys.copied };
}

/** Refuses an input side that the max-pools would shrink below one pixel. */
export function checkVGGInputSize(config: VGGConfig, size: number): void {
  let side = size;
  for (const v of config.cfg) if (v === 'M') side = Math.floor(side / 2);
  if (!Number.isInteger(size) || size < 1 || side < 1) {
    throw new ConversionError(`input size ${size} is too small for ${config.cfg.filter((v) => v === 'M').length} max-pools`);
  }
}

/** A converted file's config comes from its metadata: check it before building from it. */
function checkConfig(c: VGGConfig, source: string): VGGConfig {
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

function summarize(model: ConvertedModel): string[] {
  const c = model.config as VGGConfig;
  return [
    `VGG${c.batchNorm ? ' with batchnorm' : ''}: ${c.inChannels} -> [${c.cfg.join(', ')}], adaptive avg pool ${c.avgPool}x${c.avgPool}, ` +
      `classifier ${c.avgPool * c.avgPool * (c.cfg.filter((v) => v !== 'M').at(-1) as number)} -> ${c.hidden[0]} -> ${c.hidden[1]} -> ${c.numClasses}`,
    describeInput(c),
  ];
}

export const vggClassifier: ModelFamily<VGGConfig> = {
  format: 'vgg',
  kind: 'classifier',
  description: 'a torchvision VGG',
  name: 'a VGG classifier',
  fits: fitsAny(VGG_KEYS),
  convert: convertVGG,
  withOptions: withInputOptions,
  checkConfig,
  build: (config) => new VGG(config),
  summarize,
};
