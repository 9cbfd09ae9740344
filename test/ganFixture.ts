// Two alternating GAN steps against PyTorch's (tools/reference/make_cgan_fixture.py): the
// check test/dcgan.test.ts and test/spectralNorm.test.ts share.
import { expect } from 'vitest';
import type { DCGANDiscriminator, DCGANGenerator } from '../src/models/dcgan.js';
import type { GanLoss } from '../src/train/ganLoss.js';
import { ganStep } from '../src/train/ganStep.js';
import { Adam } from '../src/train/optim.js';
import { expectClose, type useFixture } from './helpers.js';
import { FIXTURE_OUTPUT_REL } from './tolerances.js';

/**
 * G and D load the fixture's initial weights (G.*, D.*) and take two steps of `kind` (Adam 2e-4,
 * betas 0.5 and 0.999) on its batch; their losses, weights and running statistics must match
 * PyTorch's after them (<kind>.losses, <kind>.G.*, <kind>.D.*).
 */
export async function expectGanStepsMatch(f: ReturnType<typeof useFixture>, G: DCGANGenerator, D: DCGANDiscriminator, kind: GanLoss): Promise<void> {
  G.loadStateDict(f.under('G.'));
  D.loadStateDict(f.under('D.'));
  const gan = {
    generator: G,
    discriminator: D,
    optimizerG: new Adam(G.parameters(), { lr: 2e-4, betas: [0.5, 0.999] }),
    optimizerD: new Adam(D.parameters(), { lr: 2e-4, betas: [0.5, 0.999] }),
    loss: kind,
  };
  const labels = Array.from(f.values('labels'));
  const losses: number[] = [];
  for (const z of ['z0', 'z1']) {
    const [lossD, lossG] = await ganStep(gan, f.tensor('real'), labels, f.tensor(z));
    losses.push(lossD, lossG);
  }
  expectClose(losses, f.values(`${kind}.losses`), FIXTURE_OUTPUT_REL, 'losses');
  for (const [name, model] of [['G', G], ['D', D]] as const) {
    const expected = f.under(`${kind}.${name}.`);
    const state = model.stateDict();
    expect([...state.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [key, t] of state) expectClose(await t.data(), expected.get(key)!.data, FIXTURE_OUTPUT_REL, `${name}.${key}`);
  }
}
