// A trained input generator in one file (the demo page's download): a safetensors file of the
// input generator's weights whose metadata holds, beside the input generator's own config, the
// run's TrainConfig (`run`), with the generator and classifier named by file name.
// `npm run sample -- --run FILE.safetensors` reads it as it reads a run folder. Node-free.
import { encodeSafetensors, readSafetensors } from '../models/checkpoint/safetensors.js';
import { float32Values } from '../models/checkpoint/hostTensor.js';
import { hostStateDict } from '../models/module.js';
import type { InputGenerator } from './inputGenerator.js';
import type { TrainConfig } from './trainer.js';

export const RUN_FILE_FORMAT = 'input-generator';

/** The bytes of a run file for this input generator and the config it was trained with. */
export async function encodeRunFile(inputGenerator: InputGenerator, config: TrainConfig): Promise<Uint8Array> {
  return encodeSafetensors(await hostStateDict(inputGenerator.stateDict()), { format: RUN_FILE_FORMAT, config: JSON.stringify(inputGenerator.config), run: JSON.stringify(config) });
}

/** A run file's TrainConfig and input-generator weights; throws naming `name` if it is not one. */
export function parseRunFile(
  bytes: Uint8Array,
  name: string,
): { config: TrainConfig; weights: Map<string, { shape: number[]; data: Float32Array }> } {
  const { tensors, metadata } = readSafetensors(bytes, name);
  if (metadata.format !== RUN_FILE_FORMAT || !metadata.run) {
    throw new Error(`${name}: not a trained input generator with its run config (the demo page's download; a run folder's checkpoint has no 'run' metadata, pass the folder instead)`);
  }
  let config: TrainConfig;
  try {
    config = JSON.parse(metadata.run) as TrainConfig;
  } catch (e) {
    throw new Error(`${name}: its 'run' metadata is not valid JSON (${(e as Error).message})`);
  }
  return { config, weights: float32Values(tensors) };
}
