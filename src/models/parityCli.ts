// `npm run parity -- <model> <fixture.io.pth> [--classifier <VGG>] [--upsample <n>] [--config <json>]`:
// runs a PyTorch fixture through the converted network(s) on the GPU and compares outputs and
// gradients; exits 1 when a relative error exceeds its tolerance, 2 when it cannot run.
import { Command } from 'commander';
import { count, requireCheckpoint } from '../cli/options.js';
import { init, runtime } from '../engine/runtime.js';
import { formatParity, runParity } from './parity.js';

const program = new Command()
  .name('cgan parity')
  .description('Compare a converted BigGAN generator or VGG classifier with a PyTorch fixture, on the GPU.')
  .argument('<model>', 'model: .pth checkpoint or converted .safetensors (the generator, for a pair fixture)')
  .argument('<fixture>', 'fixture .io.pth: generator (z, cotangent, image, grad_z), classifier (x, target, logits, loss, grad_x) or pair')
  .option('--classifier <path>', 'the VGG of a generator + classifier pair fixture')
  .option('--upsample <n>', "nearest upsampling between G and the classifier (default: classifier input size / G resolution, else 2)", count('--upsample'))
  .option('--config <path>', "BigGAN-deep: the model's config.json (default: NAME.config.json or config.json beside a .pth)")
  .action(async (model: string, fixture: string, opts: { classifier?: string; upsample?: number; config?: string }) => {
    try {
      // Before the device opens: a typo costs no shader compilation.
      requireCheckpoint(model, 'the model: a .pth checkpoint or a converted .safetensors');
      requireCheckpoint(fixture, 'a parity fixture .io.pth, made with PyTorch');
      if (opts.classifier) requireCheckpoint(opts.classifier, '--classifier: a VGG classifier, .pth or converted .safetensors');
      await init();
      const started = performance.now();
      const result = await runParity(model, fixture, opts);
      console.log(`${fixture}: ${result.kind} fixture`);
      console.log(formatParity(result));
      console.log(`${result.ok ? 'parity ok' : 'PARITY FAILED'} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
      process.exitCode = result.ok ? 0 : 1;
    } catch (err) {
      console.error(`parity: ${(err as Error).message}`);
      process.exitCode = 2;
    } finally {
      try {
        runtime().device.destroy();
      } catch {
        // no device was opened
      }
    }
  });

await program.parseAsync();
