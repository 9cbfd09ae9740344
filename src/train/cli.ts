// `npm run train | sample | eval`: the method of "Conditioning GAN Without Training Dataset"
// on the embedded default pair (or any BigGAN / VGG checkpoints given by flag).
import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { DISCRIMINATOR_CONDITIONINGS, GENERATOR_CONDITIONINGS, GENERATOR_UPSAMPLINGS } from '../models/dcgan.js';
import { LATENT_CLASSIFIER_DEFAULTS, trainingRows } from './latentClassifier.js';
import { count, nonNegative, oneOf, requireCheckpoint, requireDir, requireFile, unitInterval, wholeNumber } from '../cli/options.js';
import { PACKAGE_ROOT } from '../engine/packageRoot.js';
import { Rng } from '../engine/random.js';
import { init } from '../engine/runtime.js';
import { cganGrader, checkCganSampling, collectJudges, gradeRun, LATENT_FILTER_DEFAULTS, latentScreenFor, PUBLIC_JUDGES, reportStem, resolveJudges, type PriorFilterSampler } from './grade.js';
import { CGAN_DEFAULTS, TRAINING_DEFAULTS } from './defaults.js';
import { ANCHOR_CHOICES } from './anchors.js';
import { cganPipeline, cganSamplingGenerator, generatorDimZ, isCganRun, STANDING_BATCH, trainCgan, type CganConfig, type CganSampling } from './cgan.js';
import { GAN_LOSSES } from './ganLoss.js';
import { DEBIAN_FASHION_MNIST, FASHION_MNIST_CLASSES, fashionMnistFiles } from './fashionMnist.js';
import { prepareRunFolder, shownPath, writeFileAtomic } from './files.js';
import { chooseTemperature, choiceFile, TEMPERATURE_CHOICE_DEFAULTS, TEMPERATURES } from './temperatureChoice.js';
import { npyBytes, writeImageGrid } from './images.js';
import { DEFAULT_PASSES_PER_SAMPLE, filterProgress, generateLatents, priorFilter } from './priorFilter.js';
import { parseRunFile } from './runFile.js';
import type { LatentSampler } from './inputGenerator.js';
import type { ConditioningPipeline } from './pipeline.js';
import { buildPipeline, generateImages, recoverCheckpoint, restoreCheckpoint, train, type TrainConfig } from './trainer.js';

const ROOT = PACKAGE_ROOT;
export const DEFAULTS = {
  generator: join(ROOT, 'models', 'fmnist_biggan32_G.safetensors'),
  classifier: join(ROOT, 'models', 'fmnist_vgg_bn64.safetensors'),
  /** The first judge of the default panel (see PUBLIC_JUDGES for all of it). */
  judge: PUBLIC_JUDGES[0],
};

const JUDGE_HELP =
  'independent classifiers that grade the report side by side, each against the <name>_yardsticks.json beside it: ' +
  "a comma-separated list, or the option repeated; 'none' for no judge. Judges only grade: never in a loss, never picking samples (default: " +
  PUBLIC_JUDGES.map((j) => relative(process.cwd(), j)).join(',') +
  ')';

const confidenceArg = (flag: string) => unitInterval(flag, 'a probability ');

const samplerArg = oneOf('--sampler', ['input-generator', 'prior-filter', 'latent-filter']);
const SAMPLER_HELP =
  "input-generator (the run's); prior-filter: G's prior N(0, I) (the run's --generator-class and truncation) kept where the frozen " +
  'classifier (never a judge) gives the class >= --confidence, the posterior baseline and ceiling row; or latent-filter: the same ' +
  "prior draws screened first by a classifier on z, distilled from the frozen classifier's labels of a pool of G's prior samples " +
  '(trained once per run folder and kept there as latent-classifier_pool<N>.safetensors), so that only draws it gives the class ' +
  '>= --screen go through G: about one G pass a sample';

/** A latent-filter without --latent-pool uses the pool its run's training labelled (train --latent-pool), else the default. */
function withRunPool(sampler: PriorFilterSampler, config: TrainConfig | CganConfig): PriorFilterSampler {
  if (sampler.kind !== 'latent-filter' || sampler.pool !== undefined) return sampler;
  return { ...sampler, pool: ('latentPool' in config && config.latentPool) || LATENT_FILTER_DEFAULTS.pool };
}

/** The filter sampler the flags ask for (undefined: the input generator), with each kind's default --confidence. */
function filterSampler(o: { sampler: string; confidence?: number; budget?: number; screen: number; latentPool?: number }): PriorFilterSampler | undefined {
  if (o.sampler === 'prior-filter') return { kind: 'prior-filter', confidence: o.confidence ?? 0.9, budget: o.budget };
  if (o.sampler === 'latent-filter') {
    return { kind: 'latent-filter', confidence: o.confidence ?? LATENT_FILTER_DEFAULTS.confidence, budget: o.budget, screen: o.screen, pool: o.latentPool };
  }
  return undefined;
}

/** --confidence, --budget, --screen and --latent-pool, shared by eval and sample. */
function filterOptions(command: Command, per: string): Command {
  return command
    .option(
      '--confidence <p>',
      `prior-filter / latent-filter: the probability the frozen classifier must give the class (default 0.9 / ${LATENT_FILTER_DEFAULTS.confidence})`,
      confidenceArg('--confidence'),
    )
    .option('--budget <passes>', `prior-filter / latent-filter: most G passes to spend (default ${DEFAULT_PASSES_PER_SAMPLE} per ${per})`, count('--budget'))
    .option('--screen <q>', 'latent-filter: the probability the classifier on z must give the class', confidenceArg('--screen'), LATENT_FILTER_DEFAULTS.screen)
    .option('--latent-pool <n>', `latent-filter: G's prior samples the frozen classifier labels to train the classifier on z (default: the run's own --latent-pool, else ${LATENT_FILTER_DEFAULTS.pool})`, count('--latent-pool'));
}

const float = nonNegative;
const decayArg = (v: string) => {
  const d = Number(v);
  if (!(d >= 0 && d < 1)) throw new InvalidArgumentError(`--ema must be in [0, 1), got ${v}`);
  return d;
};
const truncationArg = unitInterval('--truncation');
const TEMPERATURE_HELP =
  "a cGAN run: draw z from N(0, T^2 I) instead of N(0, I), T in (0, 1]: nearer the prior's centre, more typical images and less variety " +
  '(reduced temperature, the smooth form of BigGAN\'s truncation; docs/baseline.md measures it)';
const TEMPERATURE_AUTO_HELP =
  `, or auto: the one of ${TEMPERATURES.join(', ')} whose samples lie closest to the run's training images on the frozen classifier's features ` +
  '(kernel distance, per class; no judge; kept in the run folder as temperature-choice[_standing<batches>].json)';
/** --temperature: T in (0, 1], or 'auto' (temperatureChoice.ts). */
const temperatureArg = (v: string): number | 'auto' => (v === 'auto' ? 'auto' : unitInterval('--temperature')(v));

/** --temperature and --standing-stats as drawn: 'auto' becomes the run's chosen temperature (after init(): it samples G). */
async function cganSampling(o: { temperature?: number | 'auto'; standingStats?: number }, dir: string, config: TrainConfig | CganConfig): Promise<CganSampling> {
  if (o.temperature !== 'auto') return { temperature: o.temperature, standingStats: o.standingStats };
  const choice = await chooseTemperature(dir, config as CganConfig, { ...TEMPERATURE_CHOICE_DEFAULTS, standingStats: o.standingStats });
  return { temperature: choice.temperature, standingStats: o.standingStats, chosenBy: `--temperature auto, ${shownPath(choiceFile(dir, o.standingStats))}` };
}
const STANDING_HELP =
  `a cGAN run: first measure G's batchnorm statistics on <batches> batches of ${STANDING_BATCH} draws at the sampling temperature, instead of those it stored ` +
  "(BigGAN's standing statistics, torch.optim.swa_utils.update_bn; BigGAN's default is 16)";

// Every path is checked before the GPU is opened, so a typo costs no shader compilation.
function checkModels(config: Pick<TrainConfig, 'generator' | 'classifier'>): void {
  requireCheckpoint(config.generator, 'the generator: a BigGAN-PyTorch .pth or a converted .safetensors');
  requireCheckpoint(config.classifier, 'the classifier: a torchvision VGG or ResNet .pth or a converted .safetensors');
}

function checkRealData(dir: string | undefined): string | null {
  if (dir === undefined) return null;
  requireDir(dir, `--real-data: Fashion-MNIST's idx files, e.g. ${DEBIAN_FASHION_MNIST}`);
  fashionMnistFiles(dir);
  return dir;
}

/**
 * A run folder's config, once its checkpoint (unless `checkpoint` is false: the prior filter needs
 * only the config's G, classifier and generator class) and the models it names are known to be there.
 */
function readRun(dir: string, checkpoint = true): TrainConfig | CganConfig {
  const what = 'a run folder written by `cgan train` or `cgan cgan`';
  requireDir(dir, what);
  const path = requireFile(join(dir, 'config.json'), `the config.json of ${what}`);
  let config: TrainConfig | CganConfig;
  try {
    config = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: not valid JSON (${(e as Error).message})`);
  }
  if (checkpoint) requireFile(join(dir, 'checkpoint', 'state.json'), `the checkpoint of ${what}; this run has not saved one yet`);
  if (isCganRun(config)) {
    if (checkpoint) requireCheckpoint(join(dir, cganSamplingGenerator(config)), "the cGAN run's generator");
    requireCheckpoint(config.classifier, 'the frozen classifier that grades the run');
  } else checkModels(config);
  return config;
}

/**
 * The demo page's download (`npm run demo`): one .safetensors holding the input generator and, in
 * its metadata, the run's config; the generator and classifier it names by file name are looked
 * for beside it, then in models/ (or given by --generator / --classifier).
 */
function readRunFile(path: string, overrides: { generator?: string; classifier?: string }): { config: TrainConfig; weights: ReturnType<typeof parseRunFile>['weights'] } {
  const { config, weights } = parseRunFile(readFileSync(path), path);
  const find = (name: string, flag: string) => {
    const candidates = [resolve(dirname(path), name), join(ROOT, 'models', name)];
    const found = candidates.find((c) => existsSync(c));
    if (!found) throw new Error(`${path} was trained with ${name}; put it beside that file or pass ${flag} <path>`);
    return found;
  };
  config.generator = overrides.generator ?? find(config.generator, '--generator');
  config.classifier = overrides.classifier ?? find(config.classifier, '--classifier');
  checkModels(config);
  return { config, weights };
}

const program = new Command('cgan').description(
  'Condition a frozen unconditional BigGAN through a frozen VGG classifier, with no training data (Mekonnen, 2024).',
);

/** Set by the first Ctrl-C, so the run saves its state after the current step; a second quits at once. */
function stopOnInterrupt(): { stop: boolean } {
  const stopSignal = { stop: false };
  process.on('SIGINT', () => {
    if (stopSignal.stop) process.exit(130);
    console.log('\ninterrupt: saving the state after this step (Ctrl-C again to quit at once)');
    stopSignal.stop = true;
  });
  return stopSignal;
}

/** Options --resume takes (besides cgan's --epochs, to train on): where the run is, how it reports and shows progress. */
const RESUME_OPTIONS = new Set(['out', 'resume', 'force', 'evalSamples', 'realData', 'realCache', 'judge', 'quiet', 'replay']);

/** --resume's run folder, its checkpoint recovered from an interrupted save, refused when the other command wrote it. */
function runToResume(o: { out: string; force?: boolean }, command: 'train' | 'cgan', cli: Command): TrainConfig | CganConfig {
  if (o.force) throw new Error('--resume continues the run and --force starts it over: pick one');
  // The run continues as its config.json has it: a training flag given now would be silently ignored.
  for (const option of cli.options) {
    const name = option.attributeName();
    if (cli.getOptionValueSource(name) === 'cli' && !RESUME_OPTIONS.has(name) && !(name === 'epochs' && command === 'cgan')) {
      throw new Error(`${option.long}: --resume continues the run in ${o.out} as it was started (its config.json); drop ${option.long}, or start a new run`);
    }
  }
  const out = resolve(o.out);
  recoverCheckpoint(out);
  const read = readRun(out);
  const other = command === 'train' ? 'cgan' : 'train';
  if (isCganRun(read) !== (command === 'cgan')) throw new Error(`--resume: ${o.out} is a run of \`cgan ${other}\`; continue it with ${other} --resume`);
  console.log(`resuming ${out}`);
  // The folder it is in now: a run moved or copied since it started writes here, not where it began.
  return { ...read, out };
}

/** The options of a command that writes a run folder (train, cgan): its report, its logs, and the folder's guard. */
function runFolderOptions(command: Command, defaults: { logEvery: number; gridPerClass: number; out: string }): Command {
  return command
    .option('--eval-samples <n>', 'generated samples graded in the final report (default 64000; 2000 on a software adapter)', count('--eval-samples'))
    .option('--real-data <dir>', `Fashion-MNIST idx folder for real-image figures and Fréchet distances (e.g. ${DEBIAN_FASHION_MNIST})`)
    .option('--real-cache <dir>', "keep the judges' real-image figures (from --real-data) in this folder, for later runs")
    .option('--log-every <n>', 'steps between metrics.jsonl lines', count('--log-every'), defaults.logEvery)
    .option('--grid-per-class <n>', 'samples per class in the epoch grids', count('--grid-per-class'), defaults.gridPerClass)
    .option('--out <dir>', 'run folder', defaults.out)
    .option('--resume', 'continue the run in --out from its last checkpoint')
    .option('--force', 'start over in an --out that holds a run, after moving the old run aside to <out>.old-N')
    .addOption(new Option('--quiet', 'no progress output').hideHelp());
}

runFolderOptions(program
  .command('train')
  .description('train the input generator; writes a run folder with checkpoints, metrics, grids, curves and a report')
  .option('--generator <path>', 'BigGAN generator (.pth or converted .safetensors)', DEFAULTS.generator)
  .option('--classifier <path>', 'frozen classifier, a VGG or ResNet (.pth or .safetensors)', DEFAULTS.classifier)
  .option('--judge <paths>', JUDGE_HELP, collectJudges)
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
  .option(
    '--latent-pool <n>',
    "prior samples the frozen classifier labels to train a classifier on z (the anchors take the first --anchor-pool of them); the report then also grades the latent-filter sampler, G's prior screened by it (report_latent-filter_*.md; 0 = off)",
    wholeNumber('--latent-pool'),
    TRAINING_DEFAULTS.latentPool,
  )
  .option('--anchor-candidates <n>', "the anchors of a class are picked among its this many most confident pool latents", count('--anchor-candidates'), TRAINING_DEFAULTS.anchorCandidates)
  .option('--initial-sigma <x>', "the input generator's sigma at the start (beyond the paper; default: its layer's initialisation, 0.69)", float('--initial-sigma'), TRAINING_DEFAULTS.initialSigma)
  .option('--free-components', "with --components > 1: each component's mean offset from its anchor and its sigma are its own parameters, with no shared trunk or heads (beyond the paper)")
  .option('--fixed-means', "with --free-components: each component's mean stays on its anchor, and only its sigma (per latent dimension) learns (beyond the paper)")
  .option('--anchor-choice <rule>', `how the anchors are picked among the candidates: ${ANCHOR_CHOICES.join(', ')} (far apart in z, or uniformly among those the classifier gives the class >= 0.9; src/train/anchors.ts)`, oneOf('--anchor-choice', ANCHOR_CHOICES), TRAINING_DEFAULTS.anchorChoice)
  .option('--keep-components-above <p>', "after training, sample only the components the frozen classifier gives their class on at least this share of 16 draws each, a class keeping its best one at least (beyond the paper; components.json; 0 = all)", float('--keep-components-above'), TRAINING_DEFAULTS.keepComponentsAbove)
  .option('--variance-weight <x>', "weight of the paper's variance regulariser, -mean(log sigma)", float('--variance-weight'), TRAINING_DEFAULTS.weights.variance)
  .option('--kl-weight <x>', 'weight of KL(N(mu, sigma^2) || N(0, I)) (beyond the paper)', float('--kl-weight'), TRAINING_DEFAULTS.weights.kl)
  .option('--diversity-weight <x>', 'weight of the within-class feature-spread term (beyond the paper; see pipeline.ts)', float('--diversity-weight'), TRAINING_DEFAULTS.weights.diversity)
  .option('--confidence <p>', "stop pushing a sample once the frozen classifier gives it this probability (hinged cross-entropy; beyond the paper; 0 = off)", float('--confidence'), TRAINING_DEFAULTS.weights.confidence)
  .option('--shift <px>', 'random shift of the classifier input, in pixels (beyond the paper; 0 = off)', wholeNumber('--shift'), TRAINING_DEFAULTS.weights.shift)
  .option('--prior-range-weight <x>', "weight of the penalty on samples whose classifier features leave the range G's own prior samples of their class span, measured on the anchor pool (beyond the paper; 0 = off)", float('--prior-range-weight'), TRAINING_DEFAULTS.weights.priorRange)
  .option('--latent-class-weight <x>', "weight of -log q(c | z), the classifier on z's probability of the requested class at the input generator's draws: pulls them toward where G's prior samples of the class lie (beyond the paper; needs --latent-pool; 0 = off)", float('--latent-class-weight'), TRAINING_DEFAULTS.weights.latentClass)
  .option('--anchor-weight <x>', "weight of the mean square distance of each component's mean from its anchor, holding each component near where it started (beyond the paper; needs --components > 1 and an --anchor-pool; 0 = off)", float('--anchor-weight'), TRAINING_DEFAULTS.weights.anchor),
  { logEvery: TRAINING_DEFAULTS.logEvery, gridPerClass: TRAINING_DEFAULTS.gridPerClass, out: 'runs/default' })
  .option('--no-replay', 'record every training step anew instead of recording it once and replaying it (the same numbers either way)')
  .action(async (o, command: Command) => {
    // Before any GPU work: every path checked, and never a write over an old run by accident.
    const out = resolve(o.out);
    const judges = resolveJudges(o.judge);
    const realData = checkRealData(o.realData);
    let config: TrainConfig;
    if (o.resume) {
      config = runToResume(o, 'train', command) as TrainConfig;
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
        latentPool: o.latentPool,
        anchorCandidates: o.anchorCandidates,
        anchorChoice: o.anchorChoice,
        keepComponentsAbove: o.keepComponentsAbove,
        minSigma: TRAINING_DEFAULTS.minSigma,
        initialSigma: o.initialSigma,
        freeComponents: Boolean(o.freeComponents),
        fixedMeans: Boolean(o.fixedMeans),
        weights: { variance: o.varianceWeight, kl: o.klWeight, shift: o.shift, diversity: o.diversityWeight, confidence: o.confidence, priorRange: o.priorRangeWeight, anchor: o.anchorWeight, latentClass: o.latentClassWeight },
        logEvery: o.logEvery,
        gridPerClass: o.gridPerClass,
        out,
      };
      checkModels(config);
      if ((config.weights.latentClass ?? 0) > 0 && !(config.latentPool ?? 0)) {
        throw new Error(`--latent-pool 0: the latent-class term (--latent-class-weight ${config.weights.latentClass}) needs the classifier on z trained on that pool; give --latent-pool a size, or --latent-class-weight 0`);
      }
      if ((config.weights.priorRange ?? 0) > 0 && !(config.anchorPool ?? 0)) {
        throw new Error(
          `--anchor-pool 0: the prior-range term (--prior-range-weight ${config.weights.priorRange}; on by default) measures its range on the anchor pool; ` +
            'give --anchor-pool a size, or --prior-range-weight 0',
        );
      }
      const latentPool = config.latentPool ?? 0;
      const { batch: mlpBatch, heldOut } = LATENT_CLASSIFIER_DEFAULTS;
      if (latentPool > 0 && trainingRows(latentPool, heldOut) < mlpBatch) {
        throw new Error(`--latent-pool ${latentPool}: the classifier on z trains on ${1 - heldOut} of the pool in batches of ${mlpBatch}; give a larger pool, or 0 for none`);
      }
      if ((config.weights.anchor ?? 0) > 0 && !((config.components ?? 1) > 1 && (config.anchorPool ?? 0) > 0)) {
        throw new Error(`--anchor-weight ${config.weights.anchor}: the anchor term needs anchored components (--components > 1 and an --anchor-pool); give them, or --anchor-weight 0`);
      }
      const aside = prepareRunFolder(out, { force: o.force });
      if (aside) console.log(`--force: moved the old run in ${o.out} to ${shownPath(aside)}`);
    }
    const rt = await init();
    console.log(`adapter: ${rt.adapterName}`);
    const stopSignal = stopOnInterrupt();
    const result = await train(config, { resume: Boolean(o.resume), stopSignal, quiet: o.quiet, replay: o.replay });
    if (result.interrupted) {
      console.log(`stopped; state saved in ${out}/checkpoint. Continue with: cgan train --out ${o.out} --resume (npm run train -- ... in a checkout)`);
      return;
    }
    // One pipeline for both reports: the trained input generator's, and the latent filter's (which uses only G and the classifier).
    const pipeline = await buildPipeline(config);
    restoreCheckpoint(out, pipeline);
    const grading = { judges, defaultPanel: o.judge === undefined, evalSamples: o.evalSamples, realData, realCache: o.realCache, pipeline };
    await gradeRun(out, config, grading);
    if (config.latentPool) {
      // G's posterior at about one G pass a sample, beside the trained sampler (docs/ablation.md, "A classifier on z").
      console.log('\nthe latent-filter sampler: prior draws screened by the classifier on z, then checked by the frozen classifier');
      await gradeRun(out, config, { ...grading, sampler: { kind: 'latent-filter', confidence: LATENT_FILTER_DEFAULTS.confidence, pool: config.latentPool } });
    }
    console.log(`run folder: ${out}`);
  });


runFolderOptions(program
  .command('cgan')
  .description(
    "the baseline: a conditional DCGAN trained on Fashion-MNIST's 60,000 labelled training images; writes a run folder " +
      'like train (checkpoints, metrics, grids, curves, the report) that sample and eval read',
  )
  .option('--data <dir>', `Fashion-MNIST idx folder with the training split (Debian: apt-get install dataset-fashion-mnist)`, DEBIAN_FASHION_MNIST)
  .option('--epochs <n>', 'passes over the training images (with --resume: train on to this many)', count('--epochs'), CGAN_DEFAULTS.epochs)
  .option('--steps-per-epoch <n>', 'batches per epoch (default: the whole shuffled training set, the last partial batch dropped)', count('--steps-per-epoch'))
  .option('--batch <n>', 'batch size', count('--batch'), CGAN_DEFAULTS.batch)
  .option('--lr <x>', "Adam's learning rate, both networks (with --lr-new: G's pretrained weights)", float('--lr'), CGAN_DEFAULTS.lr)
  .option('--lr-new <x>', "when fine-tuning (--generator): the learning rate of what starts fresh, D and G's class embedding, while G's pretrained weights take --lr", float('--lr-new'))
  .option('--beta1 <x>', "Adam's first beta, both networks", float('--beta1'), CGAN_DEFAULTS.beta1)
  .option('--loss <kind>', `adversarial loss: ${GAN_LOSSES.join(', ')} (least squares: lsgan)`, oneOf('--loss', GAN_LOSSES), CGAN_DEFAULTS.loss)
  .option('--width <n>', "network width w: G's channels 4w, 2w, w; D's w, 2w, 4w", count('--width'), CGAN_DEFAULTS.width)
  .option('--dim-z <n>', 'length of z', count('--dim-z'), CGAN_DEFAULTS.dimZ)
  .option('--embed-dim <n>', "width of G's class embedding", count('--embed-dim'), CGAN_DEFAULTS.embedDim)
  .option('--seed <n>', 'random seed (initial weights, data order, noise)', wholeNumber('--seed'), CGAN_DEFAULTS.seed)
  .option('--classifier <path>', 'the frozen classifier that grades the report (never in a loss)', DEFAULTS.classifier)
  .option('--classifier-size <n>', "the classifier's input size; G's images are upsampled to it", count('--classifier-size'), CGAN_DEFAULTS.classifierSize)
  .option('--judge <paths>', JUDGE_HELP, collectJudges)
  .option(
    '--grade-every <steps>',
    "steps between gradings of G by the frozen classifier and the judges during training (grades.jsonl, judge-curve.png: accuracy against training time); 0 for none (default: a quarter of an epoch)",
    wholeNumber('--grade-every'),
  )
  .option('--grade-samples <n>', 'samples each grading draws, an equal share a class', count('--grade-samples'), CGAN_DEFAULTS.gradeSamples)
  .option(
    '--generator <path>',
    "the transfer question: fine-tune this pretrained BigGAN generator (.pth or converted .safetensors) with a fresh discriminator instead of training a DCGAN; its class embedding gets a row a class, each starting as the generator's own",
  )
  .option('--from-scratch', "with --generator: train that generator's architecture from fresh weights (the transfer question's comparison)")
  .option('--fresh-embedding', "when fine-tuning (--generator): draw the class embedding's rows fresh, N(0, 1) as from scratch, instead of copying the generator's own row")
  .option('--spectral-norm', "spectral norm on every convolution of the discriminator (Miyato et al. 2018, SNGAN's recipe)")
  .option(
    '--discriminator <conditioning>',
    "how the class enters the discriminator: concat (an embedded map beside the image, as in Milosevic's CDCGAN), projection (the inner product of the class's embedding with its last features, Miyato & Koyama 2018) or auxiliary (D sees the image alone and also classifies it; both networks learn to make it name the class: AC-GAN, Odena et al. 2017)",
    oneOf('--discriminator', DISCRIMINATOR_CONDITIONINGS),
    CGAN_DEFAULTS.discriminator,
  )
  .option(
    '--upsampling <how>',
    "how the DCGAN generator doubles the side: transposed (4x4 stride-2 transposed convs, DCGAN's) or nearest (nearest-neighbour upsampling and a 3x3 conv, free of the transposed convs' checkerboard: Odena et al. 2016)",
    oneOf('--upsampling', GENERATOR_UPSAMPLINGS),
    CGAN_DEFAULTS.upsampling,
  )
  .option(
    '--generator-conditioning <how>',
    "how the class enters the DCGAN generator: concat (its embedding beside z, as in Milosevic's CDCGAN) or batchnorm (z alone; the class sets each batchnorm's gain and bias, conditional batchnorm as in SNGAN's and BigGAN's generators; --embed-dim unused)",
    oneOf('--generator-conditioning', GENERATOR_CONDITIONINGS),
    CGAN_DEFAULTS.generatorConditioning,
  )
  .option(
    '--ema <decay>',
    "sample from an exponential moving average of G's weights with this decay (0.999: about the last thousand steps), kept beside G in the checkpoint; grids, gradings, the report, sample and eval use it, training is unchanged; 0 for G's own weights",
    decayArg,
    CGAN_DEFAULTS.emaDecay,
  )
  .option('--train-images <n>', "train on this many labelled images, an equal share a class (a multiple of 10), drawn with the seed; an epoch keeps the whole set's number of batches, reading them as many times as that takes", count('--train-images')),
  { logEvery: CGAN_DEFAULTS.logEvery, gridPerClass: CGAN_DEFAULTS.gridPerClass, out: 'runs/cgan' })
  .action(async (o, command: Command) => {
    // As train: every path checked and the folder guarded before the GPU is opened.
    const out = resolve(o.out);
    const judges = resolveJudges(o.judge);
    const realData = checkRealData(o.realData);
    let config: CganConfig;
    if (o.resume) {
      config = runToResume(o, 'cgan', command) as CganConfig;
      // --epochs with --resume trains on past the run's own epochs (the same steps as a run started with them).
      if (command.getOptionValueSource('epochs') === 'cli' && o.epochs !== config.epochs) {
        if (o.epochs < config.epochs) throw new Error(`--epochs ${o.epochs}: the run in ${o.out} has ${config.epochs}; --resume can add epochs, not remove them`);
        console.log(`--epochs: training on from ${config.epochs} to ${o.epochs} epochs`);
        config = { ...config, epochs: o.epochs };
        writeFileAtomic(join(out, 'config.json'), JSON.stringify(config, null, 2));
      }
    } else {
      requireDir(o.data, `--data: Fashion-MNIST's idx files (Debian: apt-get install dataset-fashion-mnist, then ${DEBIAN_FASHION_MNIST})`);
      fashionMnistFiles(o.data, 'train');
      requireCheckpoint(o.classifier, 'the frozen classifier that grades the report: a VGG or ResNet .pth or .safetensors');
      if (o.fromScratch && !o.generator) throw new Error('--from-scratch: give the generator whose architecture to train (--generator <path>)');
      if (o.freshEmbedding && (!o.generator || o.fromScratch)) throw new Error('--fresh-embedding: only when fine-tuning (--generator without --from-scratch)');
      if (o.generator && o.upsampling !== CGAN_DEFAULTS.upsampling) throw new Error('--upsampling: for the DCGAN generator; --generator brings its own architecture');
      if (o.generator && o.generatorConditioning !== CGAN_DEFAULTS.generatorConditioning) {
        throw new Error('--generator-conditioning: for the DCGAN generator; --generator brings its own (a BigGAN conditions its batchnorms already)');
      }
      if (o.generatorConditioning === 'batchnorm' && command.getOptionValueSource('embedDim') === 'cli') {
        throw new Error("--embed-dim: the width of the class embedding beside z, which --generator-conditioning batchnorm does not have");
      }
      if (o.lrNew !== undefined && (!o.generator || o.fromScratch)) {
        throw new Error('--lr-new: only when fine-tuning (--generator without --from-scratch); otherwise every weight starts fresh: use --lr');
      }
      if (o.generator) requireCheckpoint(o.generator, '--generator: a pretrained BigGAN generator, .pth or converted .safetensors');
      // Fashion-MNIST's training split: 60,000 images (trainCgan checks the files it reads again).
      const images = o.trainImages ?? 60000;
      if (images > 60000 || images % FASHION_MNIST_CLASSES.length !== 0) {
        throw new Error(`--train-images ${images}: a multiple of ${FASHION_MNIST_CLASSES.length} (an equal share a class), at most the 60,000 training images`);
      }
      if (Math.floor(images / o.batch) < 1) throw new Error(`--batch ${o.batch}: more than the ${images} training images`);
      // An epoch is the whole training set's batches, with --train-images too: a run on fewer
      // images trains as long as one on all of them, reading its images more often.
      const batches = Math.floor(60000 / o.batch);
      if (o.trainImages === undefined && o.stepsPerEpoch > batches) {
        throw new Error(`--steps-per-epoch ${o.stepsPerEpoch}: 60,000 training images make ${batches} batches of ${o.batch}`);
      }
      const transfer = o.generator
        ? { generator: resolve(o.generator), generatorInit: o.fromScratch ? ('scratch' as const) : ('pretrained' as const), dimZ: generatorDimZ(o.generator, FASHION_MNIST_CLASSES.length) }
        : {};
      config = {
        method: 'cgan',
        data: resolve(o.data),
        classifier: resolve(o.classifier),
        classifierSize: o.classifierSize,
        classNames: FASHION_MNIST_CLASSES,
        epochs: o.epochs,
        stepsPerEpoch: o.stepsPerEpoch ?? batches,
        batch: o.batch,
        lr: o.lr,
        ...(o.lrNew === undefined ? {} : { lrNew: o.lrNew }),
        ...(o.freshEmbedding ? { freshEmbedding: true } : {}),
        ...(o.spectralNorm ? { spectralNorm: true } : {}),
        ...(o.discriminator === 'concat' ? {} : { discriminator: o.discriminator }),
        ...(o.upsampling === 'transposed' ? {} : { upsampling: o.upsampling }),
        ...(o.generatorConditioning === 'concat' ? {} : { generatorConditioning: o.generatorConditioning }),
        ...(o.ema ? { emaDecay: o.ema } : {}),
        beta1: o.beta1,
        loss: o.loss,
        seed: o.seed,
        dimZ: o.dimZ,
        embedDim: o.embedDim,
        width: o.width,
        logEvery: o.logEvery,
        gridPerClass: o.gridPerClass,
        gradeEvery: o.gradeEvery ?? Math.ceil((o.stepsPerEpoch ?? batches) / CGAN_DEFAULTS.gradesPerEpoch),
        gradeSamples: o.gradeSamples,
        ...transfer,
        ...(o.trainImages === undefined ? {} : { trainImages: o.trainImages }),
        out,
      };
      const aside = prepareRunFolder(out, { force: o.force });
      if (aside) console.log(`--force: moved the old run in ${o.out} to ${shownPath(aside)}`);
    }
    const rt = await init();
    console.log(`adapter: ${rt.adapterName}`);
    const stopSignal = stopOnInterrupt();
    const grade = config.gradeEvery ? await cganGrader(config, judges, o.judge === undefined) : undefined;
    const result = await trainCgan(config, { resume: Boolean(o.resume), stopSignal, quiet: o.quiet, grade });
    if (result.interrupted) {
      console.log(`stopped; state saved in ${out}/checkpoint. Continue with: cgan cgan --out ${o.out} --resume (npm run cgan -- ... in a checkout)`);
      return;
    }
    await gradeRun(out, config, { judges, defaultPanel: o.judge === undefined, evalSamples: o.evalSamples, realData, realCache: o.realCache });
    console.log(`run folder: ${out}`);
  });

const evalCommand = program
  .command('eval')
  .description("grade a run's samples with the frozen classifier and a panel of independent judges; writes report.md / report.json in the run folder")
  .requiredOption('--run <dir>', 'run folder')
  .option('--judge <paths>', JUDGE_HELP, collectJudges)
  .option('--eval-samples <n>', 'generated samples to grade', count('--eval-samples'))
  .option('--real-data <dir>', 'Fashion-MNIST idx folder for real-image figures and Fréchet distances')
  .option('--real-cache <dir>', "keep the judges' real-image figures (from --real-data) in this folder, for later runs")
  .option('--sampler <kind>', `${SAMPLER_HELP} (filters write report_prior-filter_<p> or report_latent-filter_<screen>_<p>_pool<N> .md / .json, and samples_ .png of the same name)`, samplerArg, 'input-generator')
  .option('--temperature <T>', `${TEMPERATURE_HELP}${TEMPERATURE_AUTO_HELP}; writes report_temperature<T> .md / .json and samples_temperature<T>.png`, temperatureArg)
  .option('--standing-stats <batches>', `${STANDING_HELP}; writes report_standing<batches> (report_temperature<T>_standing<batches> with --temperature) and a grid of the same name`, count('--standing-stats'));
filterOptions(evalCommand, 'graded sample')
  .action(async (o) => {
    const dir = resolve(o.run);
    const judges = resolveJudges(o.judge);
    const realData = checkRealData(o.realData);
    const asked = filterSampler(o);
    const config = readRun(dir, !asked);
    const sampler = asked && withRunPool(asked, config);
    if (sampler && isCganRun(config)) throw new Error(`--sampler ${sampler.kind}: ${o.run} is a cGAN run, which draws from its own class-conditional generator`);
    checkCganSampling(o, config, o.run);
    await init();
    const sampling = await cganSampling(o, dir, config);
    await gradeRun(dir, config, { judges, defaultPanel: o.judge === undefined, evalSamples: o.evalSamples, realData, realCache: o.realCache, sampler, ...sampling });
    console.log(`wrote ${shownPath(join(dir, reportStem(sampler, sampling)))}.md and .json`);
  });

const sampleCommand = program
  .command('sample')
  .description('generate images of one class from a trained run: a PNG grid, or raw float32 (N, 3, H, W) in [-1, 1] as .npy')
  .requiredOption('--run <dir or file>', "run folder, or the demo page's .safetensors download (npm run demo)")
  .requiredOption('--class <index or name>', 'class to generate')
  .option('--generator <path>', "with a .safetensors --run: the generator it was trained with (default: the file it names, beside it or in models/)")
  .option('--classifier <path>', 'with a .safetensors --run: the classifier it was trained with (likewise)')
  .option('--n <n>', 'number of images', count('--n'), 64)
  .option('--seed <n>', 'noise seed', wholeNumber('--seed'), 0)
  .requiredOption('--out <file>', 'output .png or .npy')
  .option('--sampler <kind>', SAMPLER_HELP, samplerArg, 'input-generator')
  .option('--temperature <T>', TEMPERATURE_HELP + TEMPERATURE_AUTO_HELP, temperatureArg)
  .option('--standing-stats <batches>', STANDING_HELP, count('--standing-stats'));
filterOptions(sampleCommand, 'requested image')
  .action(async (o) => {
    const dir = resolve(o.run);
    const runFile = existsSync(dir) && statSync(dir).isFile() ? readRunFile(dir, o) : null;
    const asked = filterSampler(o);
    const config = runFile?.config ?? readRun(dir, !asked);
    const sampler = asked && withRunPool(asked, config);
    requireDir(dirname(resolve(o.out)), `the folder of --out ${o.out}`);
    const names = config.classNames ?? [];
    const byName = names.findIndex((n) => n.toLowerCase() === String(o.class).toLowerCase());
    const cls = byName >= 0 ? byName : /^\d+$/.test(o.class) ? Number(o.class) : -1;
    const badClass = (numClasses: number | string) =>
      new Error(`--class ${o.class}: expected an index in [0, ${numClasses})${names.length ? ` or one of: ${names.join(', ')}` : ''}`);
    if (cls < 0 || (names.length && cls >= names.length)) throw badClass(names.length || 'the number of classes');
    if (isCganRun(config) && sampler) {
      throw new Error(`--sampler ${sampler.kind}: ${o.run} is a cGAN run, which draws from its own class-conditional generator`);
    }
    checkCganSampling(o, config, o.run);
    await init();
    const sampling = await cganSampling(o, dir, config);
    let pipeline: ConditioningPipeline<LatentSampler>;
    if (isCganRun(config)) pipeline = await cganPipeline(dir, config, sampling);
    else {
      const built = await buildPipeline(config);
      if (runFile) built.inputGenerator.loadStateDict(runFile.weights, { source: dir });
      else if (!sampler) restoreCheckpoint(dir, built);
      pipeline = built;
    }
    if (cls >= pipeline.numClasses) throw badClass(pipeline.numClasses);
    const dimZ = pipeline.inputGenerator.config.dimZ;
    const className = names[cls] ?? `class ${cls}`;
    let images: Float32Array;
    let title = `${className}: ${o.n} samples, seed ${o.seed}${sampling.temperature === undefined ? '' : `, temperature ${sampling.temperature}`}${o.standingStats ? `, standing statistics ${o.standingStats}` : ''}`;
    if (sampler) {
      const quota = new Array<number>(pipeline.numClasses).fill(0);
      quota[cls] = o.n;
      const budget = sampler.budget ?? DEFAULT_PASSES_PER_SAMPLE * o.n;
      const screen = sampler.kind === 'latent-filter' ? await latentScreenFor(dir, pipeline, sampler, config.seed, console.log) : undefined;
      const kept = await priorFilter(pipeline, quota, {
        confidence: sampler.confidence, budget, seed: o.seed, screen, classNames: config.classNames,
        onProgress: filterProgress(sampler.kind, screen !== undefined, console.log),
      });
      images = await generateLatents(pipeline, kept.z[cls]);
      const cost = kept.passes / o.n;
      const least = Math.min(...kept.probability[cls]);
      const screened = screen ? ` after screening ${kept.draws} prior draws on z at >= ${screen.threshold}` : ' (prior draws)';
      console.log(
        `${sampler.kind}: ${kept.passes} G passes${screened} for ${o.n} samples of ${className} the frozen classifier gives >= ${sampler.confidence} ` +
          `(least: ${least.toFixed(4)}): ${cost.toFixed(2)} G passes per accepted sample; budget ${budget}`,
      );
      title = screen ? `${className}: screen ${screen.threshold}, p >= ${sampler.confidence}` : `${className}: prior, p >= ${sampler.confidence}`;
    } else {
      const rng = new Rng(o.seed);
      const eps = rng.fillNormal(new Float32Array(o.n * dimZ));
      const classes = new Array<number>(o.n).fill(cls);
      images = await generateImages(pipeline, classes, eps, pipeline.inputGenerator.drawComponents(classes, rng));
    }
    const r = pipeline.generator.resolution;
    if (String(o.out).endsWith('.npy')) writeFileAtomic(o.out, npyBytes(images, [o.n, 3, r, r]));
    else writeImageGrid(o.out, images, [o.n, 3, r, r], Math.ceil(Math.sqrt(o.n)), { title });
    console.log(`wrote ${o.n} images of class ${names[cls] ?? cls} to ${o.out}`);
  });

program.parseAsync().catch((e: Error) => {
  console.error(`error: ${e.message}`);
  process.exit(1);
});
