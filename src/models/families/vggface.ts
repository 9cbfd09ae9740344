// The VGG-Face classifier family, in the layout of the PyTorch port "vgg_face_dag" (MODELS.md):
// flat keys conv1_1 ... conv5_3, fc6, fc7, fc8. Widths and the head are read from the shapes
// (fine-tuned heads, narrower nets); the input mean is part of the converted config.
import { toFloat32, type HostTensor } from '../checkpoint/index.js';
import { VGGFace, VGGFACE_GRID, VGGFACE_MEAN, vggFaceConvNames, type VGGFaceConfig } from '../vggface.js';
import { ConversionError, fmt, isCount, Keys, type ConvertedModel, type ConvertOptions, type ModelFamily } from '../family.js';

const NAMES = new Set([...vggFaceConvNames().flat(), 'fc6', 'fc7', 'fc8']);

/** Exactly the port's names (torchvision's features.N / classifier.N and BigGAN's never match). */
function fits(key: string): boolean {
  const m = /^(\w+)\.(?:weight|bias)$/.exec(key);
  return m !== null && NAMES.has(m[1]);
}

const sameMean = (a: number[], b: number[]) => a.length === b.length && a.every((v, i) => Math.fround(v) === Math.fround(b[i]));

/** Infers the widths and the head; the mean comes from the options, else the port's default. */
export function convertVGGFace(state: Map<string, HostTensor>, options: ConvertOptions = {}): ConvertedModel {
  const keys = new Keys(state);
  const copy = keys.copy.bind(keys);

  const inChannels = keys.get('conv1_1.weight', [null, null, 3, 3], 'a 3x3 conv').shape[1];
  let channels = inChannels;
  const blocks = vggFaceConvNames().map((names) =>
    names.map((name) => {
      const [out] = copy(`${name}.weight`, [null, channels, 3, 3], `a 3x3 conv from the ${channels} channels before it`).shape;
      copy(`${name}.bias`, [out]);
      channels = out;
      return out;
    }),
  );

  const fc6 = copy('fc6.weight', [null, null]);
  const [hidden6, flat] = fc6.shape;
  const grid = channels * VGGFACE_GRID * VGGFACE_GRID;
  if (flat !== grid) {
    throw new ConversionError(
      `'fc6.weight' has shape ${fmt(fc6.shape)}: ${flat} inputs, but fc6 must take conv5_3's ${channels} channels on the ` +
        `${VGGFACE_GRID}x${VGGFACE_GRID} grid after pool5 (${channels}·${VGGFACE_GRID}·${VGGFACE_GRID} = ${grid})`,
      'fc6.weight',
    );
  }
  copy('fc6.bias', [hidden6]);
  const [hidden7] = copy('fc7.weight', [null, hidden6], `a linear from fc6's ${hidden6} outputs`).shape;
  copy('fc7.bias', [hidden7]);
  const [numClasses] = copy('fc8.weight', [null, hidden7], `a linear from fc7's ${hidden7} outputs`).shape;
  copy('fc8.bias', [numClasses]);
  keys.checkAllUsed(() => false);

  const mean = options.mean ?? VGGFACE_MEAN;
  if (mean.length !== inChannels || !mean.every(Number.isFinite)) {
    throw new ConversionError(`the input mean [${mean.join(', ')}] needs one finite value per input channel (${inChannels})`);
  }
  const config: VGGFaceConfig = { inChannels, blocks, hidden: [hidden6, hidden7], numClasses, inputSize: 224, mean: [...mean] };
  return { format: 'vggface', config, tensors: keys.copied };
}

/** A converted file's config comes from its metadata: check it before building from it. */
function checkConfig(c: VGGFaceConfig, source: string): VGGFaceConfig {
  const ok =
    isCount(c.inChannels) &&
    Array.isArray(c.blocks) && c.blocks.length === 5 &&
    c.blocks.every((b, i) => Array.isArray(b) && b.length === [2, 2, 3, 3, 3][i] && b.every(isCount)) &&
    Array.isArray(c.hidden) && c.hidden.length === 2 && c.hidden.every(isCount) &&
    isCount(c.numClasses) &&
    isCount(c.inputSize) && Math.floor(c.inputSize / 32) === VGGFACE_GRID &&
    Array.isArray(c.mean) && c.mean.length === c.inChannels && c.mean.every(Number.isFinite);
  if (!ok) throw new ConversionError(`${source}: the VGG-Face config in the metadata is inconsistent: ${JSON.stringify(c)}`);
  return c;
}

/** A fixture's `mean` (the one its x had subtracted) must be the model's. */
function checkFixture(c: VGGFaceConfig, fixture: Map<string, HostTensor>): void {
  const m = fixture.get('mean');
  if (m && !sameMean(Array.from(toFloat32(m)), c.mean)) {
    throw new ConversionError(`the fixture's mean [${Array.from(toFloat32(m)).join(', ')}] is not the model's [${c.mean.join(', ')}]`, 'mean');
  }
}

function summarize(model: ConvertedModel): string[] {
  const c = model.config as VGGFaceConfig;
  const last = c.blocks.at(-1)!.at(-1)!;
  const which = sameMean(c.mean, VGGFACE_MEAN) ? "the vgg_face_dag port's default" : 'given at conversion';
  return [
    `VGG-Face (vgg_face_dag layout): ${c.inChannels} -> ${c.blocks.map((b) => `[${b.join(', ')}]`).join(' M ')} M, ` +
      `fc ${last * VGGFACE_GRID * VGGFACE_GRID} -> ${c.hidden[0]} -> ${c.hidden[1]} -> ${c.numClasses}`,
    `  input ${c.inputSize}x${c.inputSize}, 0..255 minus mean [${c.mean.map((v) => v.toFixed(3)).join(', ')}] (${which}), std 1`,
  ];
}

export const vggFaceClassifier: ModelFamily<VGGFaceConfig> = {
  format: 'vggface',
  kind: 'classifier',
  description: 'a VGG-Face (vgg_face_dag)',
  name: 'a VGG-Face classifier',
  fits,
  convert: convertVGGFace,
  // A mean given when loading overrides the recorded one.
  withOptions: (c, options) => ({ ...c, mean: options.mean ? [...options.mean] : c.mean }),
  checkConfig,
  build: (config) => new VGGFace(config),
  summarize,
  checkFixture,
};
