// The BigGAN-PyTorch generator family (MODELS.md): its keys, the inference of its architecture
// from them, spectral norm baked into the weights, and the checks of a converted config.
import { numel, toFloat32, type HostTensor } from '../checkpoint/index.js';
import { BigGANGenerator, type AttentionConfig, type BigGANConfig } from '../biggan.js';
import { ConversionError, fitsAny, float32, fmt, isCount, Keys, type ConvertedModel, type ModelFamily } from '../family.js';

const SN = '(?:weight|u\\d+|sv\\d+)';
const BIGGAN_KEYS: RegExp[] = [
  /^shared\.weight$/,
  new RegExp(`^linear\\.(?:bias|${SN})$`),
  new RegExp(`^blocks\\.\\d+\\.0\\.(?:conv1|conv2|conv_sc)\\.(?:bias|${SN})$`),
  /^blocks\.\d+\.0\.bn[12]\.(?:stored_mean|stored_var)$/,
  new RegExp(`^blocks\\.\\d+\\.0\\.bn[12]\\.(?:gain|bias)\\.${SN}$`),
  new RegExp(`^blocks\\.\\d+\\.1\\.(?:theta|phi|g|o)\\.${SN}$`),
  /^blocks\.\d+\.1\.gamma$/,
  /^output_layer\.0\.(?:gain|bias|stored_mean|stored_var)$/,
  new RegExp(`^output_layer\\.2\\.(?:bias|${SN})$`),
];

// ---- spectral norm --------------------------------------------------------------------------

/**
 * BigGAN-PyTorch's eval-mode spectral norm, in float64: one power-iteration step from u0 (which
 * is not updated), W_effective = weight / sigma. Returns the float32 weight and sigma.
 */
export function spectralNormalize(weight: HostTensor, u0: HostTensor, name = 'weight'): { weight: HostTensor; sigma: number } {
  const rows = weight.shape[0];
  const cols = numel(weight.shape) / rows;
  const W = Float64Array.from(toFloat32(weight));
  const u = Float64Array.from(toFloat32(u0));
  const normalize = (x: Float64Array) => {
    let s = 0;
    for (const a of x) s += a * a;
    const n = Math.max(Math.sqrt(s), 1e-12);
    return x.map((a) => a / n);
  };
  // v = normalize(u0 @ W)
  const vRaw = new Float64Array(cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) vRaw[c] += u[r] * W[r * cols + c];
  const v = normalize(vRaw);
  // Wv = v @ W^T; u = normalize(Wv); sigma = Wv . u
  const Wv = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    let s = 0;
    for (let c = 0; c < cols; c++) s += W[r * cols + c] * v[c];
    Wv[r] = s;
  }
  const uNew = normalize(Wv);
  let sigma = 0;
  for (let r = 0; r < rows; r++) sigma += Wv[r] * uNew[r];
  if (!(sigma > 0) || !Number.isFinite(sigma)) {
    throw new ConversionError(`spectral norm of '${name}' ${fmt(weight.shape)} gave sigma ${sigma}: an all-zero weight or u0?`, name);
  }
  const out = new Float32Array(W.length);
  for (let i = 0; i < W.length; i++) out[i] = W[i] / sigma;
  return { weight: { dtype: 'float32', shape: [...weight.shape], data: out }, sigma };
}

// ---- BigGAN ---------------------------------------------------------------------------------

/** Infers a BigGAN-PyTorch generator's architecture and bakes its spectral norms. */
export function convertBigGAN(state: Map<string, HostTensor>): ConvertedModel {
  const keys = new Keys(state);
  const tensors = new Map<string, HostTensor>();
  const sigmas = new Map<string, number>();
  const copy = (key: string, expected: (number | null)[], why?: string) => {
    const t = keys.get(key, expected, why);
    tensors.set(key, float32(t));
    return t;
  };
  /** A spectral-normed layer: weight, its u0 (1, out), optional bias. */
  const snLayer = (prefix: string, expected: (number | null)[], bias: boolean, why?: string) => {
    const w = keys.get(`${prefix}.weight`, expected, why);
    const out = w.shape[0];
    const u0 = keys.get(`${prefix}.u0`, [1, out], `the power-iteration vector of ${prefix}`);
    const { weight, sigma } = spectralNormalize(w, u0, `${prefix}.weight`);
    tensors.set(`${prefix}.weight`, weight);
    sigmas.set(prefix, sigma);
    if (bias) copy(`${prefix}.bias`, [out]);
    return w.shape;
  };

  const shared = copy('shared.weight', [null, null], 'the class embedding (n_classes, shared_dim)');
  const [nClasses, sharedDim] = shared.shape;
  const [linearOut, zChunk] = snLayer('linear', [null, null], true);

  const blockCount = countIndices(state, /^blocks\.(\d+)\./, 'blocks');
  if (blockCount === 0) throw new ConversionError("missing key 'blocks.0.0.conv1.weight': a generator needs at least one block", 'blocks.0.0.conv1.weight');

  const sc0 = keys.get('blocks.0.0.conv_sc.weight', [null, null, 1, 1], 'a 1x1 shortcut conv');
  const channels = [sc0.shape[1]];
  const bnIn = keys.get('blocks.0.0.bn1.gain.weight', [channels[0], null], "bn1's gain maps y to the block's input channels").shape[1];
  const attention: AttentionConfig[] = [];
  for (let i = 0; i < blockCount; i++) {
    const p = `blocks.${i}.0`;
    const cin = channels[i];
    const [cout] = snLayer(`${p}.conv1`, [null, cin, 3, 3], true, `a 3x3 conv from the ${cin} channels before block ${i}`);
    snLayer(`${p}.conv2`, [cout, cout, 3, 3], true, `a 3x3 conv over conv1's ${cout} output channels`);
    snLayer(`${p}.conv_sc`, [cout, cin, 1, 1], true, `a 1x1 shortcut conv from ${cin} to ${cout} channels`);
    for (const [bn, width] of [['bn1', cin], ['bn2', cout]] as const) {
      copy(`${p}.${bn}.stored_mean`, [width]);
      copy(`${p}.${bn}.stored_var`, [width]);
      for (const part of ['gain', 'bias']) {
        snLayer(`${p}.${bn}.${part}`, [width, bnIn], false, `a linear from the ${bnIn} conditioning inputs to ${width} channels`);
      }
    }
    channels.push(cout);
    const a = `blocks.${i}.1`;
    if ([...state.keys()].some((k) => k.startsWith(`${a}.`))) {
      const [keyChannels] = snLayer(`${a}.theta`, [null, cout, 1, 1], false, `a 1x1 conv over block ${i}'s ${cout} channels`);
      snLayer(`${a}.phi`, [keyChannels, cout, 1, 1], false, `a 1x1 conv like theta`);
      const [valueChannels] = snLayer(`${a}.g`, [null, cout, 1, 1], false, `a 1x1 conv over block ${i}'s ${cout} channels`);
      snLayer(`${a}.o`, [cout, valueChannels, 1, 1], false, `a 1x1 conv from g's ${valueChannels} channels back to ${cout}`);
      tensors.set(`${a}.gamma`, { ...float32(keys.scalar(`${a}.gamma`)), shape: [] });
      attention.push({ block: i, keyChannels, valueChannels });
    }
  }

  const c0 = channels[0];
  const bottomWidth = Math.round(Math.sqrt(linearOut / c0));
  if (bottomWidth * bottomWidth * c0 !== linearOut) {
    throw new ConversionError(
      `'linear.weight' has shape [${linearOut}, ${zChunk}]: ${linearOut} outputs are not ${c0} channels (block 0's input) times a square bottom width`,
      'linear.weight',
    );
  }
  const last = channels[blockCount];
  for (const k of ['gain', 'bias', 'stored_mean', 'stored_var']) copy(`output_layer.0.${k}`, [last]);
  const [outChannels] = snLayer('output_layer.2', [null, last, 3, 3], true, `a 3x3 conv from the last block's ${last} channels`);

  let hierarchical = false;
  let dimZ = zChunk;
  if (bnIn !== sharedDim) {
    if (bnIn !== sharedDim + zChunk) {
      throw new ConversionError(
        `'blocks.0.0.bn1.gain.weight' takes ${bnIn} inputs: neither shared_dim ${sharedDim} nor shared_dim + z chunk ${sharedDim}+${zChunk} (linear's inputs)`,
        'blocks.0.0.bn1.gain.weight',
      );
    }
    hierarchical = true;
    dimZ = zChunk * (blockCount + 1);
  }
  keys.checkAllUsed((k) => /\.sv\d+$/.test(k) || /\.u[1-9]\d*$/.test(k)); // training records / extra SVs
  const config: BigGANConfig = {
    resolution: bottomWidth * 2 ** blockCount,
    bottomWidth,
    dimZ,
    zChunk,
    nClasses,
    sharedDim,
    hierarchical,
    channels,
    attention,
    outChannels,
    eps: 1e-5,
  };
  return { format: 'biggan-generator', config, tensors, sigmas };
}

/** Number of consecutive indices under a prefix (0..n-1); a gap is an error naming the key past it. */
function countIndices(state: Map<string, HostTensor>, pattern: RegExp, what: string): number {
  const found = new Set<number>();
  const keyOf = new Map<number, string>();
  for (const k of state.keys()) {
    const m = pattern.exec(k);
    if (m) {
      const i = Number(m[1]);
      found.add(i);
      if (!keyOf.has(i)) keyOf.set(i, k);
    }
  }
  const n = found.size;
  for (const i of found) {
    if (i >= n) throw new ConversionError(`'${keyOf.get(i)}': ${what} are not numbered 0..${n - 1} (index ${i})`, keyOf.get(i));
  }
  return n;
}


/** A converted file's config comes from its metadata: check it before building from it. */
function checkConfig(c: BigGANConfig, source: string): BigGANConfig {
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

function summarize(model: ConvertedModel): string[] {
  const c = model.config as BigGANConfig;
  const bw = c.bottomWidth;
  const lines = [
    `BigGAN generator: ${c.resolution}x${c.resolution}, z ${c.dimZ}` +
      (c.hierarchical ? ` (hierarchical: ${c.channels.length} chunks of ${c.zChunk})` : '') +
      `, ${c.nClasses} class${c.nClasses === 1 ? '' : 'es'}, shared_dim ${c.sharedDim}`,
    `  linear ${c.zChunk} -> ${c.channels[0]}x${bw}x${bw}`,
  ];
  for (let i = 0; i + 1 < c.channels.length; i++) {
    const side = bw * 2 ** (i + 1);
    const att = c.attention.find((a) => a.block === i);
    lines.push(
      `  block ${i}: ${c.channels[i]} -> ${c.channels[i + 1]} channels, ${side}x${side}` +
        (att ? `, then attention (theta/phi ${att.keyChannels}, g ${att.valueChannels})` : ''),
    );
  }
  lines.push(`  output: batchnorm, relu, 3x3 conv ${c.channels.at(-1)} -> ${c.outChannels}, tanh`);
  if (model.sigmas && model.sigmas.size > 0) {
    const s = [...model.sigmas.values()];
    lines.push(`  spectral norm baked into ${s.length} weights (sigma ${Math.min(...s).toFixed(3)} .. ${Math.max(...s).toFixed(3)})`);
  }
  return lines;
}

/**
 * Checks a parity fixture's config row [resolution, ch, hier, n_classes, dim_z, shared_dim] where
 * it has one, read as BigGAN-PyTorch reads its arguments: shared_dim 0 (its default) means dim_z.
 */
export function checkGeneratorConfig(c: BigGANConfig, fixture: Map<string, HostTensor>): void {
  const row = fixture.get('config');
  if (!row || row.data.length < 6) return;
  const [resolution, , hier, nClasses, dimZ, sharedDim] = Array.from(toFloat32(row));
  const sharedDimUsed = sharedDim > 0 ? sharedDim : dimZ;
  const mismatch = [
    ['resolution', resolution, c.resolution],
    ['hierarchical', hier, c.hierarchical ? 1 : 0],
    ['n_classes', nClasses, c.nClasses],
    ['dim_z', dimZ, c.dimZ],
    ['shared_dim', sharedDimUsed, c.sharedDim],
  ].filter(([, a, b]) => a !== b);
  if (mismatch.length) {
    const note = sharedDim > 0 || !mismatch.some(([n]) => n === 'shared_dim') ? '' : ' (its shared_dim 0 stands for dim_z)';
    throw new Error(`the fixture was made for another generator: ${mismatch.map(([n, a, b]) => `${n} ${a} (model: ${b})`).join(', ')}${note}`);
  }
}

export const bigganGenerator: ModelFamily<BigGANConfig> = {
  format: 'biggan-generator',
  kind: 'generator',
  description: 'a BigGAN-PyTorch generator',
  name: 'a BigGAN generator',
  fits: fitsAny(BIGGAN_KEYS),
  convert: (state) => convertBigGAN(state),
  checkConfig,
  build: (config) => new BigGANGenerator(config),
  summarize,
  metadata: { spectral_norm: 'baked: one power-iteration step from u0, float64' },
  checkFixture: checkGeneratorConfig,
};
