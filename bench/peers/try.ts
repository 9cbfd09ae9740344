/**
 * Smoke test of the peers: every kind on a small shape in every peer, checked against the float64
 * references, with ms per run; then matmul 256^3 and 512^3 throughput.
 *
 *   npx tsx bench/peers/try.ts [--only=kind,kind] [--peers=tfjs-webgpu,ort-webgpu] [--layout=NCHW|NHWC]
 *
 * Exits 1 if a supported op disagrees with its reference or a peer fails to set up.
 */
import {
  createPeers, makeInputs, reference, compare, timeRun, isUnsupported, specFlops,
  type KernelSpec, type Peer,
} from './index.js';

const arg = (name: string): string | undefined =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);

const SMALL: KernelSpec[] = [
  { kind: 'matmul', M: 64, K: 48, N: 80 },
  { kind: 'conv2d', N: 2, C: 8, H: 16, W: 16, O: 16, k: 3, stride: 1, pad: 1, bias: true },
  { kind: 'conv2d', N: 1, C: 4, H: 16, W: 16, O: 8, k: 3, stride: 2, pad: 1, bias: false },
  { kind: 'conv2dInputGrad', N: 2, C: 8, H: 16, W: 16, O: 16, k: 3, stride: 1, pad: 1 },
  { kind: 'conv2dInputGrad', N: 1, C: 4, H: 16, W: 16, O: 8, k: 3, stride: 2, pad: 1 },
  { kind: 'batchnorm', N: 2, C: 16, H: 8, W: 8 },
  { kind: 'upsampleNearest', N: 2, C: 8, H: 8, W: 8, factor: 2 },
  { kind: 'maxPool2x2', N: 2, C: 8, H: 16, W: 16 },
  { kind: 'adaptiveAvgPool', N: 2, C: 16, H: 8, W: 8, outH: 1, outW: 1 },
  { kind: 'adaptiveAvgPool', N: 2, C: 8, H: 8, W: 8, outH: 2, outW: 2 },
  { kind: 'adaptiveAvgPool', N: 1, C: 4, H: 7, W: 7, outH: 3, outW: 3 },
  { kind: 'softmaxCrossEntropy', B: 16, classes: 100 },
  { kind: 'softmaxCrossEntropy', B: 16, classes: 100, reduction: 'none' },
  { kind: 'attention', N: 1, C: 32, H: 8, W: 8 },
];

const describe = (s: KernelSpec): string =>
  `${s.kind}(${Object.entries(s).filter(([k]) => k !== 'kind').map(([k, v]) => `${k}=${v}`).join(',')})`;

async function main(): Promise<void> {
  const only = arg('only')?.split(',');
  const wantPeers = arg('peers')?.split(',');
  const layout = arg('layout') as 'NCHW' | 'NHWC' | undefined;
  let failures = 0;

  const peers: Peer[] = [];
  for (const p of createPeers({ ort: { preferredLayout: layout } })) {
    if (wantPeers && !wantPeers.includes(p.name)) continue;
    try {
      await p.setup();
      console.log(`[${p.name}] adapter: ${p.adapterInfo()}`);
      peers.push(p);
    } catch (e) {
      failures++;
      console.log(`[${p.name}] SETUP FAILED: ${(e as Error).message}`);
    }
  }

  console.log('\n== correctness vs float64 reference, ms per run (median; run() = one execution + GPU sync; batched = runMany(10)/10)');
  for (const spec of SMALL) {
    if (only && !only.includes(spec.kind)) continue;
    const inputs = makeInputs(spec, 7);
    const ref = reference(spec, inputs);
    console.log(`\n${describe(spec)}`);
    for (const p of peers) {
      const r = await p.prepare(spec, inputs);
      if (isUnsupported(r)) {
        console.log(`  ${p.name.padEnd(12)} unsupported: ${r.unsupported}`);
        continue;
      }
      try {
        const got = await r.read();
        const c = compare(spec, got, ref);
        if (!c.ok) failures++;
        const t = await timeRun(r, { targetMs: 150 });
        const tb = await timeRun(r, { batch: 10, targetMs: 150, maxSamples: 10, minSamples: 3 });
        console.log(`  ${p.name.padEnd(12)} ${c.ok ? 'OK  ' : 'FAIL'} maxAbsErr=${c.maxAbsErr.toExponential(2)}` +
          `  ${t.msPerRun.toFixed(3)} ms/run  (batched ${tb.msPerRun.toFixed(3)} ms)${c.ok ? '' : '  ' + c.message}`);
        console.log(`  ${''.padEnd(12)} ${r.notes.join('; ')}`);
      } finally {
        r.dispose();
      }
    }
  }

  if (!only || only.includes('matmul')) {
    console.log('\n== matmul throughput');
    for (const n of [256, 512]) {
      const spec: KernelSpec = { kind: 'matmul', M: n, K: n, N: n };
      const inputs = makeInputs(spec, 3);
      for (const p of peers) {
        const r = await p.prepare(spec, inputs);
        if (isUnsupported(r)) {
          console.log(`  ${n}^3 ${p.name}: unsupported: ${r.unsupported}`);
          continue;
        }
        const t = await timeRun(r, { targetMs: 1000, maxSamples: 30 });
        const tb = await timeRun(r, { batch: 10, targetMs: 1000, maxSamples: 5, minSamples: 2 });
        const gf = (ms: number) => (specFlops(spec) / (ms * 1e6)).toFixed(2);
        console.log(`  ${n}^3 ${p.name.padEnd(12)} ${t.msPerRun.toFixed(2)} ms/run = ${gf(t.msPerRun)} GFLOP/s` +
          `   batched: ${tb.msPerRun.toFixed(2)} ms = ${gf(tb.msPerRun)} GFLOP/s`);
        r.dispose();
      }
    }
  }

  for (const p of peers) await p.dispose();
  console.log(failures ? `\n${failures} problem(s)` : '\nall supported ops match their references');
  process.exitCode = failures ? 1 : 0;
}

await main();
