// What the commands share: option parsers that refuse a bad value before any work, and checks
// that a path given on the command line is there, saying what was expected there.
import { statSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { checkCheckpointFile } from '../models/checkpoint/index.js';

/** A count: a whole number of at least 1 (a batch, a number of samples, epochs, widths). */
export const count = (flag: string) => (v: string) => {
  if (!/^\s*\d+\s*$/.test(v) || Number(v) < 1) throw new InvalidArgumentError(`${flag} must be a whole number of at least 1`);
  return Number(v);
};

/** A whole number where 0 means something (off, none, the first). */
export const wholeNumber = (flag: string) => (v: string) => {
  if (!/^\s*\d+\s*$/.test(v)) throw new InvalidArgumentError(`${flag} must be a whole number (0 or more)`);
  return Number(v);
};

/** One of a fixed list of names (a loss, a sampler, a rule). */
export const oneOf =
  <T extends string>(flag: string, values: readonly T[]) =>
  (v: string): T => {
    if (!(values as readonly string[]).includes(v)) throw new InvalidArgumentError(`${flag} must be one of ${values.join(', ')}, got ${v}`);
    return v as T;
  };

/** A number in (0, 1]: a probability (`what` 'a probability '), a truncation, a temperature. */
export const unitInterval = (flag: string, what = '') => (v: string) => {
  const t = Number(v);
  if (!(t > 0 && t <= 1)) throw new InvalidArgumentError(`${flag} must be ${what}in (0, 1], got ${v}`);
  return t;
};

export const nonNegative = (flag: string) => (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${flag} must be a number of at least 0`);
  return n;
};

/** Thrown for a path given on the command line that is missing or of the wrong kind. */
export class PathError extends Error {
  override name = 'PathError';
}

/** `path` must be a file; `what` says what belongs there, e.g. '--generator: a BigGAN generator (.pth or .safetensors)'. */
export function requireFile(path: string, what: string): string {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) throw new PathError(`${path}: no such file (expected ${what})`);
  if (!stat.isFile()) throw new PathError(`${path}: not a file (expected ${what})`);
  return path;
}

/** `path` must be a folder. */
export function requireDir(path: string, what: string): string {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) throw new PathError(`${path}: no such folder (expected ${what})`);
  if (!stat.isDirectory()) throw new PathError(`${path}: not a folder (expected ${what})`);
  return path;
}

/** `path` must be a PyTorch checkpoint or a safetensors file (by its first bytes). */
export function requireCheckpoint(path: string, what: string): string {
  requireFile(path, what);
  checkCheckpointFile(path);
  return path;
}
