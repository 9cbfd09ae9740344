#!/usr/bin/env node
// `cgan <command> [options]`: runs one of the package's commands in a child process (see
// launch.js for why). An installed package runs the compiled dist/. A git checkout runs dist/ too
// while it is newer than every source (builtAfterSources), and otherwise the TypeScript sources
// through tsx, so an edit needs no rebuild.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { builtAfterSources } from './built.js';
import { runNode } from './launch.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/** command: [entry without extension, arguments before the user's, what it does, checkout only] */
const COMMANDS = {
  train: ['src/train/cli', ['train'], 'train the input generator on a frozen BigGAN + VGG pair'],
  cgan: ['src/train/cli', ['cgan'], "the baseline: a conditional DCGAN trained on Fashion-MNIST's labelled images"],
  sample: ['src/train/cli', ['sample'], 'generate images of one class from a trained run'],
  eval: ['src/train/cli', ['eval'], "grade a run's samples with the frozen classifier and a panel of judges"],
  convert: ['src/models/convertCli', [], 'convert a BigGAN-PyTorch generator or torchvision VGG to .safetensors'],
  parity: ['src/models/parityCli', [], "compare a converted model with PyTorch's outputs and gradients"],
  adapter: ['src/engine/adapterCli', [], 'print the WebGPU adapter the engine would use'],
  yardsticks: ['src/train/yardsticks', [], "a judge's real-image figures (accuracy, variety) from every Fashion-MNIST test image"],
  ablation: ['src/train/ablation', [], 'the ablation table of docs/ablation.md (git checkout only)', true],
  baseline: ['src/train/baselineTable', [], 'the table of docs/baseline.md, from the runs of its rows (git checkout only)', true],
  bench: ['bench/index', [], 'kernel throughput against TensorFlow.js and ONNX Runtime (git checkout only)', true],
};

function usage() {
  const width = Math.max(...Object.keys(COMMANDS).map((c) => c.length));
  const lines = Object.entries(COMMANDS).map(([name, [, , what]]) => `  ${name.padEnd(width)}  ${what}`);
  return `Usage: cgan <command> [options]   (cgan <command> --help for its options)\n\nCommands:\n${lines.join('\n')}\n`;
}

/** tsx's loader, when it is installed (a checkout after npm ci). */
function tsxLoader() {
  try {
    return import.meta.resolve('tsx');
  } catch {
    return null;
  }
}

const [command, ...rest] = process.argv.slice(2);
if (!command || command === '--help' || command === '-h' || command === 'help') {
  process.stdout.write(usage());
} else if (command === '--version' || command === '-V') {
  console.log(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
} else if (!Object.hasOwn(COMMANDS, command)) {
  process.stderr.write(`cgan: unknown command '${command}'\n\n${usage()}`);
  process.exitCode = 1;
} else {
  const [entry, before, , checkoutOnly] = COMMANDS[command];
  const source = join(ROOT, `${entry}.ts`);
  const compiled = join(ROOT, 'dist', `${entry}.js`);
  const inCheckout = existsSync(source);
  const fresh = existsSync(compiled) && inCheckout && builtAfterSources(ROOT);
  const tsx = inCheckout && !fresh ? tsxLoader() : null;
  if (tsx) {
    runNode(['--import', tsx, source, ...before, ...rest]);
  } else if ((fresh || !checkoutOnly) && existsSync(compiled)) {
    runNode([compiled, ...before, ...rest]);
  } else if (checkoutOnly) {
    process.stderr.write(
      `cgan ${command} needs a git checkout of webgpu-cgan with its dev dependencies (it is not part of the npm package):\n` +
        `  git clone <repository> && cd webgpu-cgan && npm ci && npm run ${command}\n`,
    );
    process.exitCode = 1;
  } else {
    process.stderr.write(`cgan: ${compiled} is missing: run \`npm run build\` first\n`);
    process.exitCode = 1;
  }
}
