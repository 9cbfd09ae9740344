// The torchvision ResNet classifier family (MODELS.md): its keys, the inference of its
// architecture (block type from the keys, layer counts, widths, downsample shortcuts) and the
// checks of a converted config.
import type { HostTensor } from '../checkpoint/index.js';
import { EXPANSION, innerWidth, layerOut, ResNet, type ResNetBlock, type ResNetConfig } from '../resnet.js';
import { ConversionError, describeInput, fitsAny, fmt, isCount, Keys, withInputOptions, type ConvertedModel, type ConvertOptions, type ModelFamily } from '../family.js';

const BN = '(?:weight|bias|running_mean|running_var|num_batches_tracked)';
const RESNET_KEYS: RegExp[] = [
  /^conv1\.weight$/,
  new RegExp(`^bn1\\.${BN}$`),
  new RegExp(`^layer\\d+\\.\\d+\\.(?:conv\\d+\\.weight|bn\\d+\\.${BN}|downsample\\.0\\.weight|downsample\\.1\\.${BN})$`),
  /^fc\.(?:weight|bias)$/,
];

/** Infers a torchvision ResNet: block type, blocks per layer, widths, shortcuts, classes. */
export function convertResNet(state: Map<string, HostTensor>, options: ConvertOptions = {}): ConvertedModel {
  const keys = new Keys(state);
  const copy = keys.copy.bind(keys);
  const convBn = (conv: string, bn: string, expected: (number | null)[], why: string) => {
    const [out] = copy(`${conv}.weight`, expected, why).shape;
    for (const k of ['weight', 'bias', 'running_mean', 'running_var']) copy(`${bn}.${k}`, [out]);
    if (state.has(`${bn}.num_batches_tracked`)) keys.used.add(`${bn}.num_batches_tracked`);
    return out;
  };

  const inChannels = keys.get('conv1.weight', [null, null, 7, 7], "torchvision's 7x7 stem").shape[1];
  const stemWidth = convBn('conv1', 'bn1', [null, inChannels, 7, 7], '');
  if (state.has('conv1.bias')) throw new ConversionError("unexpected key 'conv1.bias': torchvision's ResNet convs have no bias", 'conv1.bias');

  // Blocks per layer: layer1.0, layer1.1, ..., layer2.0, ... numbered without gaps.
  const count = (prefix: string) => {
    let n = 0;
    while ([...state.keys()].some((k) => k.startsWith(`${prefix}${n}.`))) n++;
    return n;
  };
  const layers: number[] = [];
  while (count(`layer${layers.length + 1}.`) > 0) layers.push(count(`layer${layers.length + 1}.`));
  if (layers.length === 0) throw new ConversionError("missing key 'layer1.0.conv1.weight': no residual layers found", 'layer1.0.conv1.weight');

  // The block type from the first block's keys: a conv3 makes it a Bottleneck.
  const first = state.get('layer1.0.conv1.weight');
  let block: ResNetBlock;
  if (state.has('layer1.0.conv3.weight')) block = 'bottleneck';
  else if (first && first.shape.length === 4 && first.shape[2] === 3 && first.shape[3] === 3) block = 'basic';
  else {
    throw new ConversionError(
      `'layer1.0.conv1.weight' ${first ? fmt(first.shape) : 'is missing'}: layer1.0 is neither a BasicBlock (conv1, conv2: 3x3) nor a Bottleneck (conv1 1x1, conv2 3x3, conv3 1x1), the block types known`,
      'layer1.0.conv1.weight',
    );
  }

  const planes: number[] = [];
  const downsample: boolean[] = [];
  let groupRange: [number, number] = [1, Infinity]; // the width_per_group values every Bottleneck so far allows
  let channels = stemWidth;
  layers.forEach((n, i) => {
    for (let b = 0; b < n; b++) {
      const p = `layer${i + 1}.${b}`;
      let out: number;
      if (block === 'basic') {
        const width = convBn(`${p}.conv1`, `${p}.bn1`, [null, channels, 3, 3], `a BasicBlock's 3x3 conv from ${channels} channels`);
        out = convBn(`${p}.conv2`, `${p}.bn2`, [null, width, 3, 3], groupsWhy(state, `${p}.conv2.weight`, width));
        if (out !== width) throw new ConversionError(`'${p}.conv2.weight' has ${out} outputs, a BasicBlock's conv1 ${width}: they must match`, `${p}.conv2.weight`);
      } else {
        const width = convBn(`${p}.conv1`, `${p}.bn1`, [null, channels, 1, 1], `a Bottleneck's 1x1 conv from ${channels} channels`);
        convBn(`${p}.conv2`, `${p}.bn2`, [width, width, 3, 3], groupsWhy(state, `${p}.conv2.weight`, width));
        out = convBn(`${p}.conv3`, `${p}.bn3`, [null, width, 1, 1], `a Bottleneck's 1x1 conv from its ${width}-wide conv2`);
        if (out % EXPANSION.bottleneck !== 0) {
          throw new ConversionError(`'${p}.conv3.weight' has ${out} outputs, not planes * 4 (a Bottleneck's expansion)`, `${p}.conv3.weight`);
        }
        // width = floor(planes * widthPerGroup / 64), one widthPerGroup for the whole network. Each
        // block allows the integers in [64 width / planes, 64 (width + 1) / planes): narrow the range
        // block by block (layer1.0 alone may allow several: 8 planes 2 wide allow 16..23, and only
        // 20..23 also give layer2's 16 planes 5 wide); the smallest left is the one recorded.
        const p4 = out / EXPANSION.bottleneck;
        const lo = Math.ceil((64 * width) / p4);
        const hi = Math.ceil((64 * (width + 1)) / p4) - 1;
        if (Math.max(lo, groupRange[0]) > Math.min(hi, groupRange[1])) {
          const before = groupRange[1] === Infinity ? '' : `; the blocks before it need width_per_group ${groupRange[0]}..${groupRange[1]}`;
          throw new ConversionError(
            `'${p}.conv1.weight' is ${width} wide for ${p4} planes: ${lo > hi ? 'no width_per_group' : `width_per_group ${lo}..${hi}`} ` +
              `gives that (floor(planes * width_per_group / 64))${before}`,
            `${p}.conv1.weight`,
          );
        }
        groupRange = [Math.max(lo, groupRange[0]), Math.min(hi, groupRange[1])];
      }
      if (b === 0) planes.push(out / EXPANSION[block]);
      else if (out !== channels) {
        throw new ConversionError(`'${p}' outputs ${out} channels, the first block of layer${i + 1} ${channels}: a layer keeps its width`, p);
      }
      // The shortcut: a strided 1x1 conv + bn where the first block changes the size or the width.
      const needed = b === 0 && (i > 0 || channels !== out);
      const has = state.has(`${p}.downsample.0.weight`);
      if (has && b > 0) throw new ConversionError(`unexpected key '${p}.downsample.0.weight': only a layer's first block has a shortcut conv`, `${p}.downsample.0.weight`);
      if (needed && !has) {
        throw new ConversionError(`missing key '${p}.downsample.0.weight': the block goes from ${channels} to ${out} channels${i > 0 ? ' with stride 2' : ''}`, `${p}.downsample.0.weight`);
      }
      if (has) convBn(`${p}.downsample.0`, `${p}.downsample.1`, [out, channels, 1, 1], 'the 1x1 shortcut conv');
      if (b === 0) downsample.push(has);
      channels = out;
    }
  });
  // Anything under layerN.M the blocks did not use: a block type this family does not know.
  const extra = [...state.keys()].find((k) => /^layer\d+\./.test(k) && !keys.used.has(k));
  if (extra !== undefined) {
    throw new ConversionError(
      `unexpected key '${extra}' ${fmt(state.get(extra)!.shape)}: not part of a torchvision ${block === 'basic' ? 'BasicBlock' : 'Bottleneck'} (an unknown block type?)`,
      extra,
    );
  }

  const [numClasses] = copy('fc.weight', [null, channels], `a linear from the last layer's ${channels} pooled features`).shape;
  copy('fc.bias', [numClasses]);
  keys.checkAllUsed(() => false);

  const widthPerGroup = block === 'bottleneck' ? groupRange[0] : 64;
  const imagenet = numClasses === 1000 && inChannels === 3;
  const config: ResNetConfig = {
    inChannels,
    block,
    layers,
    stemWidth,
    planes,
    widthPerGroup,
    downsample,
    numClasses,
    inputSize: options.inputSize ?? (imagenet ? 224 : null),
    normalize: options.normalize ?? imagenet,
    eps: 1e-5,
  };
  return { format: 'resnet', config, tensors: keys.copied };
}

/** Why a 3x3 conv2 must be width x width: another input width means groups > 1 (ResNeXt). */
function groupsWhy(state: Map<string, HostTensor>, key: string, width: number): string {
  const t = state.get(key);
  if (t && t.shape.length === 4 && t.shape[0] === width && t.shape[1] !== width && width % t.shape[1] === 0) {
    throw new ConversionError(
      `'${key}' has shape ${fmt(t.shape)}: groups=${width / t.shape[1]} (ResNeXt) is not supported, only groups=1`,
      key,
    );
  }
  return `a 3x3 conv from the ${width} channels before it`;
}

/** A converted file's config comes from its metadata: check it before building from it. */
function checkConfig(c: ResNetConfig, source: string): ResNetConfig {
  const n = Array.isArray(c.layers) ? c.layers.length : -1;
  const ok =
    isCount(c.inChannels) &&
    (c.block === 'basic' || c.block === 'bottleneck') &&
    n > 0 && c.layers.every(isCount) &&
    isCount(c.stemWidth) &&
    Array.isArray(c.planes) && c.planes.length === n && c.planes.every(isCount) &&
    isCount(c.widthPerGroup) && (c.block === 'bottleneck' || c.widthPerGroup === 64) &&
    c.planes.every((_, i) => innerWidth(c, i) > 0) &&
    Array.isArray(c.downsample) && c.downsample.length === n && c.downsample.every((d) => typeof d === 'boolean') &&
    isCount(c.numClasses) &&
    (c.inputSize === null || isCount(c.inputSize)) &&
    typeof c.normalize === 'boolean' &&
    typeof c.eps === 'number';
  if (!ok) throw new ConversionError(`${source}: the ResNet config in the metadata is inconsistent: ${JSON.stringify(c)}`);
  return c;
}

function summarize(model: ConvertedModel): string[] {
  const c = model.config as ResNetConfig;
  const kind = c.block === 'basic' ? 'BasicBlock' : `Bottleneck, width_per_group ${c.widthPerGroup}`;
  return [
    `ResNet (${kind}), layers [${c.layers.join(', ')}]: stem ${c.inChannels} -> ${c.stemWidth}, ` +
      `layer outputs [${c.planes.map((_, i) => layerOut(c, i)).join(', ')}], fc ${layerOut(c, c.layers.length - 1)} -> ${c.numClasses}`,
    describeInput(c),
  ];
}

export const resnetClassifier: ModelFamily<ResNetConfig> = {
  format: 'resnet',
  kind: 'classifier',
  description: 'a torchvision ResNet',
  name: 'a ResNet classifier',
  fits: fitsAny(RESNET_KEYS),
  convert: convertResNet,
  withOptions: withInputOptions,
  checkConfig,
  build: (config) => new ResNet(config),
  summarize,
};
