// The conditional DCGAN generator family (src/models/dcgan.ts): what `npm run cgan` trains, and
// any PyTorch generator of the same layout (DCGAN example's `main` plus a class embedding
// `embed`). Its architecture is read back from the shapes: the embedding gives the classes and
// its width, main.0 z's length, the chain of transposed convs the channels (or of 3x3 convs each
// after an nn.Upsample, which shifts their indices by one: upsampling 'nearest'). Without `embed`,
// per-class tables `class_gain.<i>` and `class_bias.<i>` beside each affine-free batchnorm
// main.<i> say the class sets the batchnorms instead (conditioning 'batchnorm').
import { DCGANGenerator, GENERATOR_CONDITIONINGS, GENERATOR_UPSAMPLINGS, type DCGANGeneratorConfig } from '../dcgan.js';
import { ConversionError, fitsAny, isCount, Keys, type ConvertedModel, type ModelFamily } from '../family.js';
import type { HostTensor } from '../checkpoint/index.js';

const DCGAN_KEYS: RegExp[] = [/^embed\.weight$/, /^class_(?:gain|bias)\.\d+\.weight$/, /^main\.\d+\.(?:weight|bias|running_mean|running_var|num_batches_tracked)$/];

export function convertDCGAN(state: Map<string, HostTensor>): ConvertedModel {
  const keys = new Keys(state);
  const byBatchnorm = !state.has('embed.weight') && state.has('class_gain.1.weight');
  const [numClasses, embedDim] = byBatchnorm
    ? [keys.copy('class_gain.1.weight', [null, null], "the first batchnorm's gain per class (classes, channels)").shape[0], 0]
    : keys.copy('embed.weight', [null, null], 'the class embedding (classes, width)').shape;
  // Transposed convs at 0, 3, 6, ... each followed by a batchnorm but the last; or, upsampling
  // first, 3x3 convs at 4, 8, 12, ... (an nn.Upsample before each).
  const first = keys.copy('main.0.weight', [null, null, 4, 4], 'a 4x4 transposed conv from z and the embedding');
  const dimZ = first.shape[0] - embedDim;
  if (dimZ < 1) throw new ConversionError(`'main.0.weight' takes ${first.shape[0]} inputs, not more than the embedding's ${embedDim}`, 'main.0.weight');
  const nearest = !state.has('main.3.weight') && state.has('main.4.weight');
  const channels: number[] = [];
  let width = first.shape[1];
  let at = 0;
  while (state.has(`main.${at + 1}.running_mean`)) {
    for (const part of byBatchnorm ? ['running_mean', 'running_var'] : ['weight', 'bias', 'running_mean', 'running_var']) keys.copy(`main.${at + 1}.${part}`, [width]);
    if (byBatchnorm) for (const table of ['class_gain', 'class_bias']) keys.copy(`${table}.${at + 1}.weight`, [numClasses, width], `a ${table.slice(6)} per class`);
    channels.push(width);
    const from = channels.at(-1)!;
    if (nearest) {
      at += 4;
      width = keys.copy(`main.${at}.weight`, [null, from, 3, 3], `a 3x3 conv from ${from} channels`).shape[0];
    } else {
      at += 3;
      width = keys.copy(`main.${at}.weight`, [from, null, 4, 4], `a 4x4 transposed conv from ${from} channels`).shape[1];
    }
  }
  if (channels.length === 0) throw new ConversionError("missing key 'main.1.running_mean': a DCGAN generator needs a batchnorm after main.0", 'main.1.running_mean');
  if (state.has(`main.${at}.bias`)) keys.copy(`main.${at}.bias`, [width]);
  keys.checkAllUsed((k) => k.endsWith('.num_batches_tracked'));
  const config: DCGANGeneratorConfig = {
    dimZ, numClasses, embedDim, channels, outChannels: width, resolution: 4 * 2 ** channels.length, eps: 1e-5,
    ...(nearest ? { upsampling: 'nearest' as const } : {}),
    ...(byBatchnorm ? { conditioning: 'batchnorm' as const } : {}),
  };
  return { format: 'dcgan-generator', config, tensors: withOutputBias(keys.copied, at, width) };
}

/** The model has a bias on its last layer; a PyTorch DCGAN (bias=False) gets zeros there. */
function withOutputBias(tensors: Map<string, HostTensor>, at: number, width: number): Map<string, HostTensor> {
  const key = `main.${at}.bias`;
  if (!tensors.has(key)) tensors.set(key, { dtype: 'float32', shape: [width], data: new Float32Array(width) });
  return tensors;
}

function checkConfig(c: DCGANGeneratorConfig, source: string): DCGANGeneratorConfig {
  const ok =
    [c.dimZ, c.numClasses, c.outChannels, c.resolution].every(isCount) &&
    Array.isArray(c.channels) && c.channels.length >= 1 && c.channels.every(isCount) &&
    c.resolution === 4 * 2 ** c.channels.length &&
    typeof c.eps === 'number' && c.eps > 0 &&
    (c.upsampling === undefined || GENERATOR_UPSAMPLINGS.includes(c.upsampling)) &&
    (c.conditioning === undefined || GENERATOR_CONDITIONINGS.includes(c.conditioning)) &&
    (c.conditioning === 'batchnorm' ? c.embedDim === 0 : isCount(c.embedDim));
  if (!ok) throw new ConversionError(`${source}: the DCGAN config in the metadata is inconsistent: ${JSON.stringify(c)}`);
  return c;
}

function summarize(model: ConvertedModel): string[] {
  const c = model.config as DCGANGeneratorConfig;
  const convs = c.upsampling === 'nearest' ? 'a transposed conv to 4x4, then nearest upsampling and 3x3 convs:' : 'transposed convs';
  const byBatchnorm = c.conditioning === 'batchnorm';
  return [
    `conditional DCGAN generator: ${c.resolution}x${c.resolution}, z ${c.dimZ}, ${c.numClasses} classes ${byBatchnorm ? "as each batchnorm's gain and bias" : `embedded in ${c.embedDim}`}`,
    `  ${convs} ${[c.dimZ + c.embedDim, ...c.channels, c.outChannels].join(' -> ')} (${byBatchnorm ? 'class-conditional batchnorm' : 'batchnorm'} and relu between, tanh last)`,
  ];
}

export const dcganGenerator: ModelFamily<DCGANGeneratorConfig> = {
  format: 'dcgan-generator',
  kind: 'generator',
  description: 'a conditional DCGAN generator',
  name: 'a conditional DCGAN generator',
  fits: fitsAny(DCGAN_KEYS),
  convert: (state) => convertDCGAN(state),
  checkConfig,
  // Loaded to sample: running statistics, no gradients (buildModel freezes the weights).
  build: (config) => new DCGANGenerator(config).eval(),
  summarize,
};
