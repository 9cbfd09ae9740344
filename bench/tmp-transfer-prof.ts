import { init, runtime } from '../src/engine/runtime.js';
import { LaunchProfiler } from '../src/engine/profiler.js';
import { tensor } from '../src/engine/tensor.js';
import { Rng } from '../src/engine/random.js';
import { bigganForClasses } from '../src/train/cgan.js';
import { DCGANDiscriminator } from '../src/models/dcgan.js';
import { Adam } from '../src/train/optim.js';
import { ganStep } from '../src/train/ganStep.js';
await init();
const rt = runtime();
const B = Number(process.argv[2] ?? 64);
const G = bigganForClasses('/work/main/models/fmnist_biggan32_G.safetensors', 10, 'pretrained', 0);
const D = new DCGANDiscriminator({ numClasses: 10, inChannels: 3, channels: [16, 32, 64], resolution: 32, slope: 0.2, eps: 1e-5 }, 1);
const gan = { generator: G, discriminator: D, optimizerG: new Adam(G.parameters(), { lr: 2e-4, betas: [0.5, 0.999] }), optimizerD: new Adam(D.parameters(), { lr: 2e-4, betas: [0.5, 0.999] }), loss: 'bce' as const };
const rng = new Rng(0);
const labels = Array.from({ length: B }, (_, i) => i % 10);
const mk = (n: number) => tensor(rng.fillNormal(new Float32Array(n)), [n]);
for (let i = 0; i < 3; i++) {
  const t0 = performance.now();
  await ganStep(gan, mk(B * 3 * 32 * 32).reshape(B, 3, 32, 32), labels, mk(B * 120).reshape(B, 120));
  console.log('step', (performance.now() - t0).toFixed(0), 'ms');
}
const prof = new LaunchProfiler(rt);
rt.profile(prof);
await ganStep(gan, mk(B * 3 * 32 * 32).reshape(B, 3, 32, 32), labels, mk(B * 120).reshape(B, 120));
rt.profile(null);
const times = await prof.times();
const by = new Map<string, [number, number]>();
prof.records.forEach((r, i) => {
  const k = `${r.family}.${r.entry} ${r.op ?? ''}`;
  const v = by.get(k) ?? [0, 0];
  by.set(k, [v[0] + times[i], v[1] + 1]);
});
console.log('total', times.reduce((a, b) => a + b, 0).toFixed(0));
for (const [k, [t, n]] of [...by].sort((a, b) => b[1][0] - a[1][0]).slice(0, 25)) console.log(t.toFixed(1).padStart(8), String(n).padStart(4), k);
