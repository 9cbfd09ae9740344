// Each matmul kernel of the engine on the bench's square products, forced in turn (issue 19: which
// one a GPU should run): the plain kernel, the subgroup kernels (floats and vec4 reads) and the
// workgroup-memory kernel (shaders/matmulTiled.wgsl). Each is checked against float64 math
// (bench/check.ts) and timed on the GPU (timestamp queries, median of --reps).
//   npx tsx bench/matmulVariants.ts [--sizes 1024,2048,4096] [--reps 10] [--json out.json]
//     [--enable-dawn-features disable_robustness]   (Dawn's device toggles: what its bounds checks cost)
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { matmulSettings } from '../src/kernels/matmul.js';
import { checkOutput } from './check.js';
import { prepareOurs, rowInputs } from './ours.js';
import { allRows } from './rows.js';
import { GpuRepetitions, initTimedEngine, spread } from './timing.js';

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '1024,2048,4096' }, reps: { type: 'string', default: '10' }, json: { type: 'string' }, 'enable-dawn-features': { type: 'string' } } });
const sizes = values.sizes.split(',').map(Number);
const reps = Number(values.reps);

const VARIANTS: { name: string; settings: Partial<typeof matmulSettings> }[] = [
  { name: 'plain (matmul)', settings: { subgroups: false, vec4MinMacs: Infinity, tiled: false } },
  { name: 'subgroups (matmulShared)', settings: { subgroups: true, vec4MinMacs: Infinity, tiled: false } },
  { name: 'subgroups, vec4 reads (matmulSharedNN)', settings: { subgroups: true, vec4MinMacs: 0, tiled: false } },
  { name: 'workgroup memory (matmulTiled)', settings: { tiled: true, tiledMinMacs: 0, tiledStep: 8 } },
  { name: 'workgroup memory, 16 k a step (matmulTiled)', settings: { tiled: true, tiledMinMacs: 0, tiledStep: 16 } },
];

const defaults = { ...matmulSettings };
const toggles = values['enable-dawn-features'];
const { rt } = await initTimedEngine(toggles ? [`enable-dawn-features=${toggles}`] : []);
console.log(`adapter: ${rt.adapterName}${toggles ? `, Dawn toggles ${toggles}` : ''}`);
const results = [];
for (const n of sizes) {
  const row = allRows().find((r) => r.family === 'matmul' && r.where === 'square' && r.spec.kind === 'matmul' && r.spec.M === n);
  if (!row) throw new Error(`no square matmul row of size ${n} in bench/rows.ts`);
  const inputs = rowInputs(row);
  for (const v of VARIANTS) {
    Object.assign(matmulSettings, defaults, v.settings);
    if (v.name.startsWith('subgroups') && !rt.ctx.hasSubgroups) continue;
    const op = prepareOurs(row, inputs);
    const out = op.run();
    const check = checkOutput(row, inputs, (await out.data()) as Float32Array, true);
    out.dispose();
    const timed = new GpuRepetitions(() => op.run());
    const wall: number[] = [];
    for (let i = 0; i < reps + 1; i++) wall.push(await timed.sample());
    const gpu = (await timed.gpuTimes(1));
    const ms = spread(gpu.length ? gpu : wall.slice(1)).median;
    const tflops = (2 * n ** 3) / (ms * 1e9);
    op.dispose();
    results.push({ size: n, variant: v.name, check: check.message, ms, tflops, timer: gpu.length ? 'timestamps' : 'wall' });
    console.log(`${n}^3  ${v.name.padEnd(40)} ${check.ok ? 'ok' : 'FAILED ' + check.message}  ${ms.toFixed(3)} ms  ${tflops.toPrecision(3)} TFLOP/s`);
  }
}
Object.assign(matmulSettings, defaults);
if (values.json) writeFileSync(values.json, JSON.stringify({ adapter: rt.adapterName, toggles: toggles ?? null, reps, results }, null, 2));
process.exit(0);
