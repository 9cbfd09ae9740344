// `npm run train | sample | eval`: the method of "Conditioning GAN Without Training Dataset"
// on the embedded default pair (or any BigGAN / VGG checkpoints given by flag).
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { count, nonNegative, requireCheckpoint, requireDir, requireFile, wholeNumber } from '../cli/options.js';
import { PACKAGE_ROOT } from '../engine/packageRoot.js';
import { Rng } from '../engine/random.js';
import { init } from '../engine/runtime.js';
import { loadClassifier } from '../models/load.js';
import { evaluate, formatReport, writeReport, type Report } from './evaluate.js';
import { TRAINING_DEFAULTS } from './defaults.js';
import { DEBIAN_FASHION_MNIST, FASHION_MNIST_CLASSES, fashionMnistFiles } from './fashionMnist.js';
import { prepareRunFolder, shownPath, writeFileAtomic } from './files.js';
import { npyBytes, writeImageGrid } from './images.js';
import { buildPipeline, generateImages, recoverCheckpoint, restoreCheckpoint, train, type TrainConfig } from './trainer.js';

const ROOT = PACKAGE_ROOT;
export const DEFAULTS = {
  generator: join(ROOT, 'models', 'fmnist_biggan32_G.safetensors'),
  classifier: join(ROOT, 'models', 'fmnist_vgg_bn64.safetensors'),
  judge: join(ROOT, 'models', 'fmnist_vgg_judge32.safetensors'),
};

/** Where a judge's yardsticks live: models/fmnist_vgg_judge32.safetensors -> fmnist_vgg_judge32_yardsticks.json. */
function judgeYardsticks(judge: string): string {
  return judge.replace(/\.(safetensors|pth|pt|bin)$/i, '') + '_yardsticks.json';
}

const float = nonNegative;
const truncationArg = (v: string) => {
  const t = Number(v);
  if (!(t > 0 && t <= 1)) throw new InvalidArgumentError(`--truncation must be in (0, 1], got ${v}`);
  return t;
};

// Every path is checked before the GPU is opened, so a typo costs no shader compilation.
function checkModels(config: Pick<TrainConfig, 'generator' | 'classifier'>, judge: string | null): void {
  requireCheckpoint(config.generator, 'the generator: a BigGAN-PyTorch .pth or a converted .safetensors');
  requireCheckpoint(config.classifier, 'the classifier: a torchvision VGG or ResNet .pth or a converted .safetensors');
  if (judge) requireCheckpoint(judge, "the judge: a VGG or ResNet .pth or a converted .safetensors, or --judge none");
}

function checkRealData(dir: string | undefined): string | null {
  if (dir === undefined) return null;
  requireDir(dir, `--real-data: Fashion-MNIST's idx files, e.g. ${DEBIAN_FASHION_MNIST}`);
  fashionMnistFiles(dir);
  return dir;
}

/** A run folder's config, once its checkpoint and the models it names are known to be there. */
function readRun(dir: string, judge: string | null): TrainConfig {
  const what = 'a run folder written by `cgan train`';
  requireDir(dir, what);
  const path = requireFile(join(dir, 'config.json'), `the config.json of ${what}`);
  let config: TrainConfig;
  try {
    config = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  requireFile(join(dir, 'checkpoint', 'state.json'), `the checkpoint of ${what}; this run has not saved one yet`);
  checkModels(config, judge);
  return config;
}

function defaultEvalSamples(isSoftware: boolean, asked: number | undefined): number {
  if (asked !== undefined) return asked;
  if (isSoftware) {
    console.log('note: software adapter, so the report grades 2,000 samples instead of 64,000 (--eval-samples to change)');
    return 2000;
  }
  return 64000;
}

async function report(dir: string, config: TrainConfig, evalSamples: number | undefined, judgePath: string | null, realData: string | null) {
  const rt = await init();
  const pipeline = await buildPipeline(config);
  restoreCheckpoint(dir, pipeline);
  const judge = judgePath ? await loadClassifier(judgePath) : null;
  // A judge's real-image figures from every test image (npm run yardsticks), kept beside it.
  const yardsticks = judgePath ? judgeYardsticks(judgePath) : null;
  const realReference = yardsticks && existsSync(yardsticks) ? JSON.parse(readFileSync(yardsticks, 'utf8')) : null;
  const samples = defaultEvalSamples(rt.ctx.info.isSoftware, evalSamples);
  let last = 0;
  const result: Report = await evaluate(pipeline, {
    samples,
    seed: config.seed + 1000,
    batch: 100,
    judge,
    judgeName: judgePath ? relative(process.cwd(), judgePath) : undefined,
    realReference,
    realReferenceName: yardsticks ? relative(process.cwd(), yardsticks) : undefined,
    realData,
    classNames: config.classNames,
    onProgress: (done, total) => {
      if (done - last >= total / 10 || done === total) {
        console.log(`eval ${done}/${total}`);
        last = done;
      }
    },
  });
  writeReport(dir, result);
  console.log(formatReport(result));
}

const program = new Command('cgan').description(
  'Condition a frozen unconditional BigGAN through a frozen VGG classifier, with no training data (Mekonnen, 2024).',
);

program
  .command('train')
  .description('train the input generator; writes a run folder with checkpoints, metrics, grids, curves and a report')
  .option('--generator <path>', 'BigGAN generator (.pth or converted .safetensors)', DEFAULTS.generator)
  .option('--classifier <path>', 'frozen classifier, a VGG or ResNet (.pth or .safetensors)', DEFAULTS.classifier)
  .option('--judge <path>', "independent classifier for the report ('none' to skip)", DEFAULTS.judge)
  .option('--class-names <names>', 'comma-separated class names (default: Fashion-MNIST for the default pair)')
  .option('--epochs <n>', 'epochs', count('--epochs'), TRAINING_DEFAULTS.epochs)
  .option('--steps-per-epoch <n>', 'optimizer steps per epoch (an epoch = this many batches of fresh class/noise draws)', count('--steps-per-epoch'), TRAINING_DEFAULTS.stepsPerEpoch)
  .option('--batch <n>', 'batch size', count('--batch'), TRAINING_DEFAULTS.batch)
  .option('--lr <x>', 'Adam learning rate', float('--lr'), TRAINING_DEFAULTS.lr)
  .option('--seed <n>', 'random seed (classes, noise, shifts, initial weights)', wholeNumber('--seed'), TRAINING_DEFAULTS.seed)
  .option('--classifier-size <n>', "classifier input size; G's images are nearest-upsampled to it by a whole factor, else resized bilinearly (align_corners=False)", count('--classifier-size'), TRAINING_DEFAULTS.classifierSize)
  .option('--generator-class <n>', 'class embedding of a class-conditional G (0 for an unconditional one)', wholeNumber('--generator-class'), TRAINING_DEFAULTS.generatorClass)
  .option('--learn-class-vector', "class-conditional G: learn G's class vector too, a softmax over its classes per target class, starting 0.9 on --generator-class (beyond the paper)")
  .option('--truncation <t>', "BigGAN-deep: the truncation in (0, 1] its batchnorm statistics are interpolated for (default: the converted file's, else 1)", truncationArg)
  .option('--hidden <n>', 'width of the input generator trunk', count('--hidden'), TRAINING_DEFAULTS.hidden)
  .option('--components <n>', 'Gaussians per class in the input generator, picked uniformly per sample (beyond the paper; 1 = the paper)', count('--components'), TRAINING_DEFAULTS.components)
  .option('--anchor-pool <n>', "with --components > 1: start the components at latents the classifier is sure of, among this many samples of G's prior (0 = off)", wholeNumber('--anchor-pool'), TRAINING_DEFAULTS.anchorPool)
  .option('--anchor-candidates <n>', "the anchors of a class are picked far apart among its this many most confident pool latents", count('--anchor-candidates'), TRAINING_DEFAULTS.anchorCandidates)
  .option('--variance-weight <x>', "weight of the paper's variance regulariser, -mean(log sigma)", float('--variance-weight'), TRAINING_DEFAULTS.weights.variance)
  .option('--kl-weight <x>', 'weight of KL(N(mu, sigma^2) || N(0, I)) (beyond the paper)', float('--kl-weight'), TRAINING_DEFAULTS.weights.kl)
  .option('--diversity-weight <x>', 'weight of the within-class feature-spread term (beyond the paper; see pipeline.ts)', float('--diversity-weight'), TRAINING_DEFAULTS.weights.diversity)
  .option('--confidence <p>', "stop pushing a sample once the frozen classifier gives it this probability (hinged cross-entropy; beyond the paper; 0 = off)", float('--confidence'), TRAINING_DEFAULTS.weights.confidence)
  .option('--shift <px>', 'random shift of the classifier input, in pixels (beyond the paper; 0 = off)', wholeNumber('--shift'), TRAINING_DEFAULTS.weights.shift)
  .option('--eval-samples <n>', 'generated samples graded in the final report (default 64000; 2000 on a software adapter)', count('--eval-samples'))
  .option('--real-data <dir>', `Fashion-MNIST idx folder for real-image figures and Fréchet distances (e.g. ${DEBIAN_FASHION_MNIST})`)
  .option('--log-every <n>', 'steps between metrics.jsonl lines', count('--log-every'), TRAINING_DEFAULTS.logEvery)
  .option('--grid-per-class <n>', 'samples per class in the epoch grids', count('--grid-per-class'), TRAINING_DEFAULTS.gridPerClass)
  .option('--out <dir>', 'run folder', 'runs/default')
  .option('--resume', 'continue the run in --out from its last checkpoint')
  .option('--force', 'start over in an --out that holds a run, after moving the old run aside to <out>.old-N')
  .addOption(new Option('--quiet', 'no progress output').hideHelp())
  .action(async (o) => {
    // Before any GPU work: every path checked, and never a write over an old run by accident.
    const out = resolve(o.out);
    const judge = o.judge === 'none' ? null : resolve(o.judge);
    const realData = checkRealData(o.realData);
    let config: TrainConfig;
    if (o.resume) {
      if (o.force) throw new Error('--resume continues the run and --force starts it over: pick one');
      recoverCheckpoint(out);
      config = readRun(out, judge);
      console.log(`resuming ${out}`);
    } else {
      const isDefaultPair = o.generator === DEFAULTS.generator && o.classifier === DEFAULTS.classifier;
      config = {
        generator: resolve(o.generator),
        classifier: resolve(o.classifier),
        classNames: o.classNames ? String(o.classNames).split(',') : isDefaultPair ? FASHION_MNIST_CLASSES : null,
        epochs: o.epochs,
        stepsPerEpoch: o.stepsPerEpoch,
        batch: o.batch,
        lr: o.lr,
        seed: o.seed,
        classifierSize: o.classifierSize,
        generatorClass: o.generatorClass,
        learnClassVector: Boolean(o.learnClassVector),
        truncation: o.truncation,
        hidden: o.hidden,
        components: o.components,
        anchorPool: o.anchorPool,
        anchorCandidates: o.anchorCandidates,
        minSigma: TRAINING_DEFAULTS.minSigma,
        weights: { variance: o.varianceWeight, kl: o.klWeight, shift: o.shift, diversity: o.diversityWeight, confidence: o.confidence },
        logEvery: o.logEvery,
        gridPerClass: o.gridPerClass,
        out,
      };
      checkModels(config, judge);
      const aside = prepareRunFolder(out, { force: o.force });
      if (aside) console.log(`--force: moved the old run in ${o.out} to ${shownPath(aside)}`);
    }
    const rt = await init();
    console.log(`adapter: ${rt.adapterName}`);
    const stopSignal = { stop: false };
    process.on('SIGINT', () => {
      if (stopSignal.stop) process.exit(130);
      console.log('\ninterrupt: saving the state after this step (Ctrl-C again to quit at once)');
      stopSignal.stop = true;
    });
    const result = await train(config, { resume: Boolean(o.resume), stopSignal, quiet: o.quiet });
    if (result.interrupted) {
      console.log(`stopped; state saved in ${out}/checkpoint. Continue with: cgan train --out ${o.out} --resume (npm run train -- ... in a checkout)`);
      return;
    }
    await report(out, config, o.evalSamples, judge, realData);
    console.log(`run folder: ${out}`);
  });

program
  .command('eval')
  .description("grade a run's samples with the frozen classifier and an independent judge")
  .requiredOption('--run <dir>', 'run folder')
  .option('--judge <path>', "independent classifier ('none' to skip)", DEFAULTS.judge)
  .option('--eval-samples <n>', 'generated samples to grade', count('--eval-samples'))
  .option('--real-data <dir>', 'Fashion-MNIST idx folder for real-image figures and Fréchet distances')
  .action(async (o) => {
    const dir = resolve(o.run);
    const judge = o.judge === 'none' ? null : resolve(o.judge);
    const realData = checkRealData(o.realData);
    await report(dir, readRun(dir, judge), o.evalSamples, judge, realData);
  });

program
  .command('sample')
  .description('generate images of one class from a trained run: a PNG grid, or raw float32 (N, 3, H, W) in [-1, 1] as .npy')
  .requiredOption('--run <dir>', 'run folder')
  .requiredOption('--class <index or name>', 'class to generate')
  .option('--n <n>', 'number of images', count('--n'), 64)
  .option('--seed <n>', 'noise seed', wholeNumber('--seed'), 0)
  .requiredOption('--out <file>', 'output .png or .npy')
  .action(async (o) => {
    const dir = resolve(o.run);
    const config = readRun(dir, null);
    requireDir(dirname(resolve(o.out)), `the folder of --out ${o.out}`);
    const names = config.classNames ?? [];
    const byName = names.findIndex((n) => n.toLowerCase() === String(o.class).toLowerCase());
    const cls = byName >= 0 ? byName : /^\d+$/.test(o.class) ? Number(o.class) : -1;
    const badClass = (numClasses: number | string) =>
      new Error(`--class ${o.class}: expected an index in [0, ${numClasses})${names.length ? ` or one of: ${names.join(', ')}` : ''}`);
    if (cls < 0 || (names.length && cls >= names.length)) throw badClass(names.length || 'the number of classes');
    await init();
    const pipeline = await buildPipeline(config);
    restoreCheckpoint(dir, pipeline);
    if (cls >= pipeline.numClasses) throw badClass(pipeline.numClasses);
    const dimZ = pipeline.inputGenerator.config.dimZ;
    const rng = new Rng(o.seed);
    const eps = rng.fillNormal(new Float32Array(o.n * dimZ));
    const images = await generateImages(pipeline, new Array(o.n).fill(cls), eps, pipeline.inputGenerator.drawComponents(o.n, rng));
    const r = pipeline.generator.resolution;
    if (String(o.out).endsWith('.npy')) writeFileAtomic(o.out, npyBytes(images, [o.n, 3, r, r]));
    else writeImageGrid(o.out, images, [o.n, 3, r, r], Math.ceil(Math.sqrt(o.n)), { title: `${names[cls] ?? `class ${cls}`}: ${o.n} samples, seed ${o.seed}` });
    console.log(`wrote ${o.n} images of class ${names[cls] ?? cls} to ${o.out}`);
  });

program.parseAsync().catch((e: Error) => {
  console.error(`error: ${e.message}`);
  process.exit(1);
});
