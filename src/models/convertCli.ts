// `npm run convert -- <checkpoint.pth> -o <model.safetensors>`: recognise a BigGAN-PyTorch or
// BigGAN-deep generator, a torchvision VGG, VGG-Face or torchvision ResNet, infer its architecture, bake spectral norm, and write a
// safetensors file whose metadata describes the network (format, config).
import { Command, InvalidArgumentError } from 'commander';
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
  config?: string;
  truncation?: number;
  mean?: number[];
}

/** --mean r,g,b: finite numbers, comma-separated. */
const numberList = (flag: string) => (v: string) => {
  const xs = v.split(',').map((s) => (s.trim() === '' ? NaN : Number(s)));
  if (!xs.every(Number.isFinite)) throw new InvalidArgumentError(`${flag} must be comma-separated numbers, e.g. 129.186,104.762,93.594`);
  return xs;
};

const program = new Command()
  .name('cgan convert')
  .description('Convert a BigGAN-PyTorch or BigGAN-deep generator, or a torchvision VGG, VGG-Face or torchvision ResNet classifier checkpoint into a self-describing .safetensors file.')
  .argument('<checkpoint>', 'PyTorch checkpoint (.pth, zip or legacy format) or a safetensors state dict')
  .option('-o, --output <path>', 'output file (default: the checkpoint name with .safetensors)')
  .option('--input-size <n>', 'VGG, ResNet: the input side it was trained at, recorded in the config', count('--input-size'))
  .option('--normalize', 'VGG, ResNet: apply ImageNet normalisation inside forward (default: on for ImageNet-shaped ones: 1000 classes, a 7x7 pool for VGG)')
  .option('--no-normalize', 'VGG, ResNet: no ImageNet normalisation')
  .option('--no-final-pool', 'VGG: no max-pool after the last conv (torchvision cfgs all have one)')
  .option('--config <path>', "BigGAN-deep: its config.json (default: NAME.config.json or config.json beside the checkpoint)")
  .option('--truncation <t>', 'BigGAN-deep: the truncation in (0, 1] its batchnorm statistics are interpolated for (default 1)', Number)
  .option('--mean <r,g,b>', "VGG-Face: the per-channel mean (0..255) subtracted from its input (default: the vgg_face_dag port's)", numberList('--mean'))
  .addHelpText('after', `\nModel families it recognises:\n${FAMILIES.map((f) => `  ${f.format}: ${f.description}`).join('\n')}`)
  .action((checkpoint: string, opts: Options) => {
    try {
      requireCheckpoint(checkpoint, 'a BigGAN-PyTorch or BigGAN-deep generator, or a torchvision VGG, VGG-Face or torchvision ResNet classifier checkpoint (.pth), or a safetensors state dict');
      const output = opts.output ?? `${checkpoint.replace(/\.(pth|pt|bin|safetensors)$/i, '')}.safetensors`;
      if (output === checkpoint) throw new Error('the output would overwrite the checkpoint: give -o');
      const model = readModelFile(checkpoint, {
        inputSize: opts.inputSize,
        normalize: opts.normalize,
        finalPool: opts.finalPool,
        config: opts.config,
        truncation: opts.truncation,
        mean: opts.mean,
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
