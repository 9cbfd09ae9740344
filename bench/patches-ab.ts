// A/B probe of the cGAN step and the ResNet judge (bench/results/patches-lavapipe-2026-12-02.md):
// the cGAN step at its defaults (best of 5 after 2 warm-ups) and the ResNet judge forward at batch 100 (best of 3).
//   npx tsx bench/patches-ab.ts
import { init } from '../src/engine/runtime.js';
import { tensor, scope } from '../src/engine/tensor.js';
import { noGrad } from '../src/engine/autograd.js';
import { Rng } from '../src/engine/random.js';
import { CGAN_DEFAULTS } from '../src/train/defaults.js';
import { DCGANGenerator, DCGANDiscriminator } from '../src/models/dcgan.js';
import { Adam } from '../src/train/optim.js';
import { ganStep } from '../src/train/ganStep.js';
import { discriminatorConfig, generatorConfig, type CganConfig } from '../src/train/cgan.js';
import { loadClassifier } from '../src/models/load.js';
await init();
const batch = 64;
const config: CganConfig = { ...CGAN_DEFAULTS, method: 'cgan' as const, data: '', classifier: '', classNames: Array.from({ length: 10 }, (_, i) => 'c' + i), stepsPerEpoch: 1, batch, out: '' };
const G = new DCGANGenerator(generatorConfig(config), 0);
const D = new DCGANDiscriminator(discriminatorConfig(config), 1);
const gan = { generator: G, discriminator: D, loss: 'bce' as const, optimizerG: new Adam(G.parameters(), { lr: 2e-4, betas: [0.5, 0.999] }), optimizerD: new Adam(D.parameters(), { lr: 2e-4, betas: [0.5, 0.999] }) };
const rng = new Rng(0);
const steps: number[] = [];
for (let s = 0; s < 7; s++) {
  const real = tensor(rng.fillUniform(new Float32Array(batch * 3 * 32 * 32), -1, 1), [batch, 3, 32, 32]);
  const z = tensor(rng.fillNormal(new Float32Array(batch * config.dimZ)), [batch, config.dimZ]);
  const labels = Array.from({ length: batch }, () => rng.int(10));
  const t0 = performance.now();
  await ganStep(gan, real, labels, z);
  if (s >= 2) steps.push(performance.now() - t0);
  real.dispose(); z.dispose();
}
const judge = await loadClassifier('models/fmnist_resnet_judge32.safetensors');
const x = tensor(new Float32Array(100 * 3 * 32 * 32).map(() => Math.random() * 2 - 1), [100, 3, 32, 32]);
const fw: number[] = [];
for (let r = 0; r < 4; r++) {
  const t0 = performance.now();
  const o = noGrad(() => scope(() => judge.forwardWithFeatures(x)));
  await o.logits.data();
  if (r > 0) fw.push(performance.now() - t0);
  o.logits.dispose(); o.features.dispose();
}
console.log(`RESULT ganStep ${Math.min(...steps).toFixed(0)} ms (median ${steps.sort((a, b) => a - b)[2].toFixed(0)}), resnetJudge100 ${Math.min(...fw).toFixed(0)} ms`);
