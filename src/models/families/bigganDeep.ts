// The BigGAN-deep generator family, in the layout of pytorch-pretrained-BigGAN (biggan-deep-128,
// -256, -512: pytorch_model.bin with a config.json beside it). The up-sampling flags are not in
// the weights, so the config.json is required; everything it says is checked against the weights.
// PyTorch's own spectral norm (weight_orig, weight_u, weight_v) is baked in at conversion.
import { basename, dirname, fileExists, fileText, join } from '../../engine/files.js';
import { numel, toFloat32, type HostTensor } from '../checkpoint/index.js';
import { BigGANDeepGenerator, checkTruncation, hasAttention, type BigGANDeepConfig } from '../bigganDeep.js';
import { ConversionError, fitsAny, float32, fmt, isCount, Keys, type ConvertedModel, type ConvertOptions, type ModelFamily } from '../family.js';

const SN = '(?:weight_orig|weight_u|weight_v)';
const BIGGAN_DEEP_KEYS: RegExp[] = [
  /^embeddings\.weight$/,
  new RegExp(`^generator\\.gen_z\\.(?:bias|${SN})$`),
  /^generator\.layers\.\d+\.bn_[0-3]\.(?:running_means|running_vars)$/,
  new RegExp(`^generator\\.layers\\.\\d+\\.bn_[0-3]\\.(?:scale|offset)\\.${SN}$`),
  new RegExp(`^generator\\.layers\\.\\d+\\.conv_[0-3]\\.(?:bias|${SN})$`),
  new RegExp(`^generator\\.layers\\.\\d+\\.snconv1x1_(?:theta|phi|g|o_conv)\\.${SN}$`),
  /^generator\.layers\.\d+\.gamma$/,
  /^generator\.bn\.(?:weight|bias|running_means|running_vars)$/,
  new RegExp(`^generator\\.conv_to_rgb\\.(?:bias|${SN})$`),
];

/** The config.json fields the conversion needs (class_embed_dim is z_dim in this code: unused). */
const REQUIRED_FIELDS = ['output_dim', 'channel_width', 'z_dim', 'num_classes', 'layers', 'attention_layer_position', 'n_stats', 'eps'] as const;

// ---- spectral norm --------------------------------------------------------------------------

/**
 * PyTorch's spectral norm in eval mode, in float64: sigma = u . (W v) with u and v as stored (no
 * power iteration), W_effective = weight_orig / sigma. Returns the float32 weight and sigma.
 */
export function bakeSpectralNorm(weight: HostTensor, u: HostTensor, v: HostTensor, name = 'weight_orig'): { weight: HostTensor; sigma: number } {
  const rows = weight.shape[0];
  const cols = numel(weight.shape) / rows;
  const W = toFloat32(weight);
  const uu = toFloat32(u);
  const vv = toFloat32(v);
  let sigma = 0;
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += W[r * cols + c] * vv[c];
    sigma += uu[r] * s;
  }
  // u and v are stored, not derived from W, so sigma may come out negative: only zero is unusable
  if (sigma === 0 || !Number.isFinite(sigma)) {
    throw new ConversionError(`spectral norm of '${name}' ${fmt(weight.shape)} gave sigma ${sigma}: an all-zero weight, weight_u or weight_v?`, name);
  }
  const out = new Float32Array(W.length);
  for (let i = 0; i < W.length; i++) out[i] = W[i] / sigma;
  return { weight: { dtype: 'float32', shape: [...weight.shape], data: out }, sigma };
}

// ---- config.json ----------------------------------------------------------------------------

/** Where a config.json is looked for beside a checkpoint: NAME.config.json, then config.json. */
export function configCandidates(source: string): string[] {
  const stem = basename(source).replace(/\.(pth|pt|bin|safetensors)$/i, '');
  return [join(dirname(source), `${stem}.config.json`), join(dirname(source), 'config.json')];
}

type RawConfig = Record<string, unknown>;

/** The config.json: the explicit one (a path or its parsed object), else the one beside the checkpoint. */
function readConfig(options: ConvertOptions): { config: RawConfig; from: string } {
  if (options.config !== undefined && typeof options.config !== 'string') return { config: options.config, from: 'the config option' };
  const path = options.config ?? (options.source ? configCandidates(options.source).find(fileExists) : undefined);
  if (path === undefined) {
    const looked = options.source ? ` (looked for ${configCandidates(options.source).join(' and ')})` : '';
    throw new ConversionError(
      `a BigGAN-deep checkpoint needs its config.json${looked}: give --config. ` +
        `Fields it must hold: ${REQUIRED_FIELDS.join(', ')}; the up-sampling flags in 'layers' cannot be told from the weights`,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(fileText(path));
  } catch (err) {
    throw new ConversionError(`${path}: not a readable JSON config (${(err as Error).message})`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConversionError(`${path}: the config is not a JSON object`);
  return { config: parsed as RawConfig, from: path };
}

/** config.json's fields, present and well-typed, as a BigGANDeepConfig (truncation from the options, default 1). */
function parseConfig(raw: RawConfig, from: string, truncation: number): BigGANDeepConfig {
  const missing = REQUIRED_FIELDS.filter((f) => raw[f] === undefined);
  if (missing.length) {
    throw new ConversionError(`${from}: missing field${missing.length > 1 ? 's' : ''} ${missing.join(', ')} (the up-sampling flags in 'layers' cannot be told from the weights)`);
  }
  const layers = raw.layers;
  const layerOk = (l: unknown) => Array.isArray(l) && l.length === 3 && typeof l[0] === 'boolean' && isCount(l[1]) && isCount(l[2]);
  if (!Array.isArray(layers) || layers.length === 0 || !layers.every(layerOk)) {
    throw new ConversionError(`${from}: 'layers' must be a non-empty list of [up_sample, in, out] (a boolean and two counts)`);
  }
  const counts = ['output_dim', 'channel_width', 'z_dim', 'num_classes', 'n_stats'] as const;
  const bad = counts.find((f) => !isCount(raw[f]));
  if (bad) throw new ConversionError(`${from}: '${bad}' must be a positive integer, got ${JSON.stringify(raw[bad])}`);
  const position = raw.attention_layer_position;
  if (!Number.isSafeInteger(position)) throw new ConversionError(`${from}: 'attention_layer_position' must be an integer, got ${JSON.stringify(position)}`);
  if (typeof raw.eps !== 'number' || !(raw.eps > 0)) throw new ConversionError(`${from}: 'eps' must be a positive number, got ${JSON.stringify(raw.eps)}`);
  return {
    resolution: raw.output_dim as number,
    channelWidth: raw.channel_width as number,
    dimZ: raw.z_dim as number,
    nClasses: raw.num_classes as number,
    layers: layers as [boolean, number, number][],
    attentionPosition: position as number,
    nStats: raw.n_stats as number,
    eps: raw.eps,
    truncation: checkTruncation(truncation, 'BigGAN-deep conversion'),
  };
}

// ---- conversion -----------------------------------------------------------------------------

/** Converts a pytorch-pretrained-BigGAN state dict, checking it against its config.json. */
export function convertBigGANDeep(state: Map<string, HostTensor>, options: ConvertOptions = {}): ConvertedModel {
  const { config: raw, from } = readConfig(options);
  const c = parseConfig(raw, from, options.truncation ?? 1);
  const ch = c.channelWidth;
  const keys = new Keys(state);
  const tensors = new Map<string, HostTensor>();
  const sigmas = new Map<string, number>();
  const disagree = (what: string) => `${from} disagrees with the weights: ${what}`;
  const copy = (key: string, expected: (number | null)[], why?: string) => {
    const t = keys.get(key, expected, why);
    tensors.set(key, float32(t));
    return t;
  };
  /** A PyTorch spectral-normed layer: weight_orig, weight_u (out), weight_v (rest), optional bias. */
  const snLayer = (prefix: string, expected: (number | null)[], bias: boolean, why?: string) => {
    const w = keys.get(`${prefix}.weight_orig`, expected, why);
    const out = w.shape[0];
    const u = keys.get(`${prefix}.weight_u`, [out], `spectral norm's u of ${prefix}`);
    const v = keys.get(`${prefix}.weight_v`, [numel(w.shape) / out], `spectral norm's v of ${prefix}`);
    const { weight, sigma } = bakeSpectralNorm(w, u, v, `${prefix}.weight_orig`);
    tensors.set(`${prefix}.weight`, weight);
    sigmas.set(prefix, sigma);
    if (bias) copy(`${prefix}.bias`, [out]);
  };
  /** Per-truncation statistics: nStats rows of `width`; fewer rows is a named error. */
  const statistics = (prefix: string, width: number) => {
    for (const name of ['running_means', 'running_vars']) {
      const key = `${prefix}.${name}`;
      const t = state.get(key);
      if (t && t.shape.length === 2 && t.shape[0] !== c.nStats) {
        throw new ConversionError(
          `'${key}' has ${t.shape[0]} rows of statistics, ${from} says n_stats ${c.nStats} (one row per truncation step of ${1 / (c.nStats - 1)})`,
          key,
        );
      }
      copy(key, [c.nStats, width], `${c.nStats} rows of statistics for ${width} channels`);
    }
  };

  const emb = keys.get('embeddings.weight', [null, null], 'a bias-free linear (z_dim, num_classes)');
  if (emb.shape[0] !== c.dimZ || emb.shape[1] !== c.nClasses) {
    throw new ConversionError(disagree(`'embeddings.weight' is ${fmt(emb.shape)}, the config says z_dim ${c.dimZ} and num_classes ${c.nClasses}`), 'embeddings.weight');
  }
  copy('embeddings.weight', [c.dimZ, c.nClasses]);
  const condDim = 2 * c.dimZ;
  const genZ = keys.get('generator.gen_z.weight_orig', [null, null]);
  if (genZ.shape[0] !== 16 * 16 * ch || genZ.shape[1] !== condDim) {
    throw new ConversionError(
      disagree(`'generator.gen_z.weight_orig' is ${fmt(genZ.shape)}, the config says [4*4*16*${ch}, 2*${c.dimZ}] = [${256 * ch}, ${condDim}]`),
      'generator.gen_z.weight_orig',
    );
  }
  snLayer('generator.gen_z', [256 * ch, condDim], true);

  // pytorch-pretrained-BigGAN inserts the SelfAttn where the layer index equals the position: a
  // position outside the layers (past them, or negative) gives a generator without one.
  const attention = hasAttention(c);
  if (!attention) {
    const found = [...state.keys()].find((k) => k.endsWith('.gamma'));
    if (found) {
      throw new ConversionError(
        disagree(`attention_layer_position ${c.attentionPosition} is outside its ${c.layers.length} layers (no SelfAttn), but there is one at '${found}'`),
        found,
      );
    }
  }
  let index = 0;
  let width = 16 * ch;
  c.layers.forEach(([, cin, cout], i) => {
    if (ch * cin !== width) throw new ConversionError(`${from}: layer ${i} takes ${cin}*${ch} channels, the layer before gives ${width}`);
    if (i === c.attentionPosition) {
      const p = `generator.layers.${index++}`;
      if (!state.has(`${p}.gamma`)) {
        const found = [...state.keys()].find((k) => k.endsWith('.gamma'));
        throw new ConversionError(disagree(`attention_layer_position ${i} puts the SelfAttn at '${p}', but ${found ? `it is at '${found}'` : 'there is none'}`), `${p}.gamma`);
      }
      const C = ch * cin;
      snLayer(`${p}.snconv1x1_theta`, [C >> 3, C, 1, 1], false);
      snLayer(`${p}.snconv1x1_phi`, [C >> 3, C, 1, 1], false);
      snLayer(`${p}.snconv1x1_g`, [C >> 1, C, 1, 1], false);
      snLayer(`${p}.snconv1x1_o_conv`, [C, C >> 1, 1, 1], false);
      copy(`${p}.gamma`, [1]);
    }
    const p = `generator.layers.${index++}`;
    const [a, b, mid] = [ch * cin, ch * cout, Math.floor((ch * cin) / 4)];
    const conv3 = state.get(`${p}.conv_3.weight_orig`);
    if (conv3 && conv3.shape[0] !== b) {
      throw new ConversionError(disagree(`'${p}.conv_3.weight_orig' gives ${conv3.shape[0]} channels, the config's layer ${i} says ${cout}*${ch} = ${b}`), `${p}.conv_3.weight_orig`);
    }
    const convs: [number, number, number][] = [[a, mid, 1], [mid, mid, 3], [mid, mid, 3], [mid, b, 1]];
    convs.forEach(([x, y, k], j) => {
      statistics(`${p}.bn_${j}`, x);
      snLayer(`${p}.bn_${j}.scale`, [x, condDim], false);
      snLayer(`${p}.bn_${j}.offset`, [x, condDim], false);
      snLayer(`${p}.conv_${j}`, [y, x, k, k], true, `layer ${i} of ${from}: ${a} -> ${b} channels through ${mid}`);
    });
    if (a !== b && b !== a / 2) throw new ConversionError(`${from}: layer ${i} goes ${a} -> ${b} channels; its skip can only drop half`);
    width = b;
  });
  const extra = [...state.keys()].find((k) => k.startsWith(`generator.layers.${index}.`));
  if (extra) {
    const made = `its ${c.layers.length} layers${attention ? ' (and one SelfAttn)' : ''} make`;
    throw new ConversionError(disagree(`'${extra}' is past the ${index} modules ${made}`), extra);
  }
  if (width !== ch) throw new ConversionError(`${from}: the last layer gives ${width} channels, not channel_width ${ch}`);
  statistics('generator.bn', ch);
  copy('generator.bn.weight', [ch]);
  copy('generator.bn.bias', [ch]);
  snLayer('generator.conv_to_rgb', [ch, ch, 3, 3], true);
  if (ch < 3) throw new ConversionError(`${from}: channel_width ${ch} is under 3, and conv_to_rgb's first three channels are the image`);

  const ups = c.layers.filter(([up]) => up).length;
  if (4 * 2 ** ups !== c.resolution) {
    throw new ConversionError(`${from}: output_dim ${c.resolution} is not 4 * 2^${ups} (its layers up-sample ${ups} times)`);
  }
  keys.checkAllUsed(() => false);
  // torch's spectral norm keeps weight_orig; the model's modules hold the baked weight.
  return { format: 'biggan-deep-generator', config: c, tensors, sigmas };
}

function checkConfig(c: BigGANDeepConfig, source: string): BigGANDeepConfig {
  const ok =
    [c.resolution, c.channelWidth, c.dimZ, c.nClasses, c.nStats].every(isCount) &&
    Array.isArray(c.layers) && c.layers.length > 0 &&
    c.layers.every((l) => Array.isArray(l) && typeof l[0] === 'boolean' && isCount(l[1]) && isCount(l[2])) &&
    Number.isSafeInteger(c.attentionPosition) &&
    typeof c.eps === 'number' && c.eps > 0 &&
    c.resolution === 4 * 2 ** c.layers.filter(([up]) => up).length;
  if (!ok) throw new ConversionError(`${source}: the BigGAN-deep config in the metadata is inconsistent: ${JSON.stringify(c)}`);
  checkTruncation(c.truncation, source);
  return c;
}

function summarize(model: ConvertedModel): string[] {
  const c = model.config as BigGANDeepConfig;
  const lines = [
    `BigGAN-deep generator: ${c.resolution}x${c.resolution}, z ${c.dimZ}, ${c.nClasses} classes, channel_width ${c.channelWidth}, truncation ${c.truncation}`,
    `  gen_z ${2 * c.dimZ} -> ${16 * c.channelWidth}x4x4`,
  ];
  let side = 4;
  c.layers.forEach(([up, cin, cout], i) => {
    if (i === c.attentionPosition) lines.push(`  attention at ${side}x${side} over ${cin * c.channelWidth} channels`);
    if (up) side *= 2;
    lines.push(`  layer ${i}: ${cin * c.channelWidth} -> ${cout * c.channelWidth} channels${up ? `, up to ${side}x${side}` : ''}`);
  });
  if (!hasAttention(c)) lines.push(`  no self-attention (attention_layer_position ${c.attentionPosition} is outside the ${c.layers.length} layers)`);
  lines.push(`  output: batchnorm, relu, 3x3 conv, first 3 channels, tanh; ${c.nStats} rows of batchnorm statistics`);
  if (model.sigmas?.size) {
    const s = [...model.sigmas.values()];
    lines.push(`  spectral norm baked into ${s.length} weights (sigma ${Math.min(...s).toFixed(3)} .. ${Math.max(...s).toFixed(3)})`);
  }
  return lines;
}

/** Refuses a fixture whose config row [output, channel_width, z_dim, n_classes, attention position, layers] differs. */
function checkFixture(c: BigGANDeepConfig, fixture: Map<string, HostTensor>): void {
  const row = fixture.get('config');
  if (!row || row.data.length < 6) return;
  const got = Array.from(toFloat32(row));
  const want = [c.resolution, c.channelWidth, c.dimZ, c.nClasses, c.attentionPosition, c.layers.length];
  const names = ['output_dim', 'channel_width', 'z_dim', 'num_classes', 'attention_layer_position', 'layers'];
  const bad = names.filter((_, i) => got[i] !== want[i]);
  if (bad.length) throw new Error(`the fixture was made for another generator: ${bad.map((n) => `${n} ${got[names.indexOf(n)]} (model: ${want[names.indexOf(n)]})`).join(', ')}`);
}

export const bigganDeepGenerator: ModelFamily<BigGANDeepConfig> = {
  format: 'biggan-deep-generator',
  kind: 'generator',
  description: 'a BigGAN-deep generator (pytorch-pretrained-BigGAN)',
  name: 'a BigGAN-deep generator',
  fits: fitsAny(BIGGAN_DEEP_KEYS),
  convert: convertBigGANDeep,
  withOptions: (config, options) =>
    options.truncation === undefined ? { ...config } : { ...config, truncation: checkTruncation(options.truncation, 'the truncation option') },
  checkConfig,
  build: (config) => new BigGANDeepGenerator(config),
  summarize,
  metadata: { spectral_norm: "baked: PyTorch's eval-mode sigma = u . (W v) from the stored weight_u, weight_v, float64" },
  checkFixture,
};
