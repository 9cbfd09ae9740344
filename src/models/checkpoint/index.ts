// Checkpoint I/O: PyTorch checkpoints (read) and safetensors (read/write).
export {
  CheckpointError,
  decodeTensor,
  encodeTensor,
  float32Values,
  isHostTensor,
  numel,
  toFloat32,
  type DType,
  type HostData,
  type HostTensor,
} from './hostTensor.js';
export { flattenStateDict, parseTorchCheckpoint, readStateDict, readTorchFile } from './torch.js';
export { encodeSafetensors, readSafetensors, writeSafetensors, type Safetensors } from './safetensors.js';
export { checkCheckpointFile, checkpointFormat, parseCheckpoint, readCheckpoint, NOT_A_CHECKPOINT, type Checkpoint, type CheckpointFormat } from './read.js';
