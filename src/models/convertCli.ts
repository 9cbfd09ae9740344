// `npm run convert -- <checkpoint.pth> -o <model.safetensors>`: recognise a BigGAN-PyTorch
// generator, a torchvision VGG or ResNet, infer its architecture, bake spectral norm, and write a
// safetensors file whose metadata describes the network (format, config).
import { Command } from 'commander';
import { count, requireCheckpoint } from '../cli/options.js';
import { writeSafetensors } from './checkpoint/index.js';
import { conversionMetadata, summarize } from './convert.js';
import { FAMILIES } from './families/index.js';
import { readModelFile } from './load.js';

interface Options {
  output?: string;
  inputSize?: number;
  normalize?: boolean;
  finalPool: boolean;
}

const program = new Command()
  .name('cgan convert')
  .description('Convert a BigGAN-PyTorch generator or a torchvision VGG or ResNet checkpoint into a self-describing .safetensors file.')
  .argument('<checkpoint>', 'PyTorch checkpoint (.pth, zip or legacy format) or a safetensors state dict')
  .option('-o, --output <path>', 'output file (default: the checkpoint name with .safetensors)')
  .option('--input-size <n>', 'VGG, ResNet: the input side it was trained at, recorded in the config', count('--input-size'))
  .option('--normalize', 'VGG, ResNet: apply ImageNet normalisation inside forward (default: on for ImageNet-shaped ones: 1000 classes, a 7x7 pool for VGG)')
  .option('--no-normalize', 'VGG, ResNet: no ImageNet normalisation')
  .option('--no-final-pool', 'VGG: no max-pool after the last conv (torchvision cfgs all have one)')
  .addHelpText('after', `\nModel families it recognises:\n${FAMILIES.map((f) => `  ${f.format}: ${f.description}`).join('\n')}`)
  .action((checkpoint: string, opts: Options) => {
    try {
      requireCheckpoint(checkpoint, 'a BigGAN-PyTorch generator or torchvision VGG or ResNet checkpoint (.pth), or a safetensors state dict');
      const output = opts.output ?? `${checkpoint.replace(/\.(pth|pt|bin|safetensors)$/i, '')}.safetensors`;
      if (output === checkpoint) throw new Error('the output would overwrite the checkpoint: give -o');
      const model = readModelFile(checkpoint, {
        inputSize: opts.inputSize,
        normalize: opts.normalize,
        finalPool: opts.finalPool,
        source: checkpoint,
      });
      writeSafetensors(output, model.tensors, conversionMetadata(model, checkpoint));
      console.log(summarize(model));
      console.log(`wrote ${output}`);
    } catch (err) {
      console.error(`convert: ${(err as Error).message}`);
      process.exitCode = 1;
    }
  });

program.parse();
