// Any checkpoint file, whatever its format: the one place that tells PyTorch's files from
// safetensors, so that every command describes a file that is neither in the same words.
import { fileBytes, fileHead, fileStat } from '../../engine/files.js';
import { CheckpointError, type HostTensor } from './hostTensor.js';
import { readSafetensors } from './safetensors.js';
import { flattenStateDict, parseTorchCheckpoint } from './torch.js';

export type CheckpointFormat = 'pytorch' | 'safetensors';

export interface Checkpoint {
  format: CheckpointFormat;
  /** Dotted keys through nested dicts (a state dict is flat already). */
  tensors: Map<string, HostTensor>;
  /** safetensors' __metadata__ (empty for PyTorch files). */
  metadata: Record<string, string>;
}

/**
 * The format by the first bytes, or null. safetensors is tried first: its header length is
 * little-endian, so its first byte may be 0x80 like a pickle's; a plausible length followed by
 * '{' settles it.
 */
export function checkpointFormat(bytes: Uint8Array, fileSize = bytes.length): CheckpointFormat | null {
  if (bytes.length >= 10 && bytes[8] === 0x7b) {
    const headerLength = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
    if (headerLength >= 2n && headerLength <= BigInt(fileSize - 8)) return 'safetensors';
  }
  const zip = bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04;
  const pickle = bytes[0] === 0x80 && bytes[1] >= 2 && bytes[1] <= 5; // PROTO 2-5: torch.save's legacy stream
  return zip || pickle ? 'pytorch' : null;
}

export const NOT_A_CHECKPOINT = "neither a PyTorch checkpoint (torch.save's zip or legacy format) nor a safetensors file";

/** A file's bytes, with a missing file or a folder named as such. */
export function readCheckpointBytes(path: string): Uint8Array {
  const stat = fileStat(path);
  if (!stat) throw new CheckpointError(path, 'no such file');
  if (stat.isDirectory) throw new CheckpointError(path, 'is a folder, not a checkpoint file');
  return fileBytes(path);
}

/** The format of a checkpoint file from its first bytes, without reading it all (a check before long work). */
export function checkCheckpointFile(path: string): CheckpointFormat {
  const stat = fileStat(path);
  if (!stat) throw new CheckpointError(path, 'no such file');
  if (stat.isDirectory) throw new CheckpointError(path, 'is a folder, not a checkpoint file');
  const format = checkpointFormat(fileHead(path, 16), stat.size);
  if (format === null) throw new CheckpointError(path, NOT_A_CHECKPOINT);
  return format;
}

/** The tensors of a PyTorch checkpoint (.pth, either format) or a safetensors file. */
export function readCheckpoint(path: string): Checkpoint {
  return parseCheckpoint(readCheckpointBytes(path), path);
}

/** The same from a file's bytes (a page's fetch or dropped File); `path` names it in errors. */
export function parseCheckpoint(bytes: Uint8Array, path: string): Checkpoint {
  const format = checkpointFormat(bytes);
  if (format === 'safetensors') return { format, ...readSafetensors(bytes, path) };
  if (format === null) throw new CheckpointError(path, NOT_A_CHECKPOINT);
  const root = parseTorchCheckpoint(bytes, path);
  if (typeof root !== 'object' || root === null || Array.isArray(root)) {
    throw new CheckpointError(path, 'the checkpoint does not hold a dict of tensors (a state dict)');
  }
  return { format, tensors: flattenStateDict(root as Record<string, unknown>), metadata: {} };
}
