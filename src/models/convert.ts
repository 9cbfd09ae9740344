// Checkpoint conversion: recognise a model family from its state-dict keys (families/index.ts
// lists them), let the family infer the whole architecture from key names and shapes (MODELS.md)
// and convert the weights, and describe the result in safetensors metadata, so that loading
// needs nothing but the converted file.
//
// Everything here runs on the CPU; nothing touches the GPU.
import { basename } from '../engine/files.js';
import { numel, type HostTensor } from './checkpoint/index.js';
import { FAMILIES, familyOf } from './families/index.js';
import { ConversionError, type ConvertedModel, type ConvertOptions, type ModelConfig, type ModelFamily, type ModelFormat } from './family.js';

export { ConversionError, type ConvertedModel, type ConvertOptions, type ModelConfig, type ModelFormat } from './family.js';

// ---- layout recognition ---------------------------------------------------------------------

/** "a, b nor c": the families' descriptions, for a refusal. */
function neither(families: readonly ModelFamily[]): string {
  const names = families.map((f) => f.description);
  return names.length < 2 ? names.join('') : `${names.slice(0, -1).join(', ')} nor ${names.at(-1)}`;
}

/**
 * The family whose layout the keys follow: the one most keys fit. Refuses an empty or unknown key
 * set, a tie between families, and a key that does not fit the likeliest family's layout.
 */
export function detectFamily(keys: Iterable<string>): ModelFamily {
  const list = [...keys];
  if (list.length === 0) throw new ConversionError('the checkpoint holds no tensors');
  const scored = FAMILIES.map((family) => ({ family, score: list.filter((k) => family.fits(k)).length })).sort((a, b) => b.score - a.score);
  const [best, second] = scored;
  if (best.score === 0) {
    const fits = FAMILIES.length === 2 ? 'fits neither layout' : 'fits none of these layouts';
    throw new ConversionError(`not ${neither(FAMILIES)}: key '${list[0]}' ${fits}`, list[0]);
  }
  if (second && second.score === best.score) {
    const tied = scored.filter((s) => s.score === best.score).map((s) => `${s.family.description} (key '${list.find(s.family.fits)}')`);
    throw new ConversionError(`ambiguous layout: as many keys (${best.score}) fit ${tied.join(' as ')}`);
  }
  const odd = list.find((k) => !best.family.fits(k));
  if (odd !== undefined) {
    throw new ConversionError(`looks like ${best.family.description}, but key '${odd}' does not fit that layout`, odd);
  }
  return best.family;
}

/** The format of the family whose layout the keys follow (see detectFamily). */
export function detectFormat(keys: Iterable<string>): ModelFormat {
  return detectFamily(keys).format;
}

/** Drops a prefix that every key shares when it is a wrapper's (DataParallel's module., a saved dict's state_dict.). */
export function stripWrapperPrefix(state: Map<string, HostTensor>): Map<string, HostTensor> {
  for (const prefix of ['module.', 'state_dict.', 'model.', 'generator.', 'G.']) {
    if (state.size > 0 && [...state.keys()].every((k) => k.startsWith(prefix))) {
      return new Map([...state].map(([k, v]) => [k.slice(prefix.length), v]));
    }
  }
  return state;
}

/** Recognises and converts a checkpoint's state dict. */
export function convertStateDict(raw: Map<string, HostTensor>, options: ConvertOptions = {}): ConvertedModel {
  const state = stripWrapperPrefix(raw);
  return detectFamily(state.keys()).convert(state, options);
}

// ---- metadata and summaries -----------------------------------------------------------------

export const FORMAT_VERSION = '1';

/** The family of a converted model (its format is one of the registry's). */
export function familyOfModel(model: { format: ModelFormat }): ModelFamily {
  const family = familyOf(model.format);
  if (!family) throw new ConversionError(`unknown model format '${model.format}'`);
  return family;
}

/** The safetensors __metadata__ of a converted model. */
export function conversionMetadata(model: ConvertedModel, source?: string): Record<string, string> {
  const meta: Record<string, string> = {
    format: model.format,
    format_version: FORMAT_VERSION,
    config: JSON.stringify(model.config),
    converter: 'webgpu-cgan src/models/convert.ts',
  };
  if (source) meta.source = basename(source);
  return { ...meta, ...familyOfModel(model).metadata };
}

/** Reads back what conversionMetadata wrote; null when the metadata is not a converted model's. */
export function parseConversionMetadata(meta: Record<string, string>): { format: ModelFormat; config: ModelConfig } | null {
  const format = meta.format;
  if (format === undefined || !familyOf(format)) return null;
  let config: unknown;
  try {
    config = JSON.parse(meta.config ?? '');
  } catch {
    throw new ConversionError(`converted ${format} file has no valid 'config' in its metadata`);
  }
  if (typeof config !== 'object' || config === null) throw new ConversionError(`converted ${format} file: 'config' is not an object`);
  return { format, config };
}

export function summarize(model: ConvertedModel): string {
  const params = [...model.tensors.values()].reduce((n, t) => n + numel(t.shape), 0);
  return [...familyOfModel(model).summarize(model), `  ${params.toLocaleString('en-US')} parameters`].join('\n');
}
