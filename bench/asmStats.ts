// What lavapipe made of a shader: reads the x86 assembly Mesa prints with GALLIVM_DEBUG=asm (it
// works in Debian's release build) and, for the largest compiled function (a kernel's body), counts
// the instructions between its first and last vector multiply (the unrolled work of one trip of
// its main loop): arithmetic, stack traffic (spilled registers), masked blends.
//
//   MESA_SHADER_CACHE_DISABLE=true GALLIVM_DEBUG=asm npx tsx bench/conv-try.ts --batch=2 --reps=1 --only=fwd 2> asm.txt
//   npx tsx bench/asmStats.ts asm.txt
import { readFileSync } from 'node:fs';

const file = process.argv[2];
if (!file) throw new Error('usage: npx tsx bench/asmStats.ts <file with GALLIVM_DEBUG=asm output>');

interface Instruction { op: string; args: string }
const functions: { name: string; body: Instruction[] }[] = [];
for (const line of readFileSync(file, 'utf8').split('\n')) {
  const label = /^([A-Za-z_.][\w.]*):$/.exec(line);
  if (label) functions.push({ name: label[1], body: [] });
  const ins = /^\s*[0-9a-f]+:\t(\S+)\s*(.*)$/.exec(line);
  if (ins && functions.length) functions.at(-1)!.body.push({ op: ins[1], args: ins[2] });
}
if (!functions.length) throw new Error(`${file}: no GALLIVM_DEBUG=asm output in it`);
const largest = functions.reduce((a, b) => (b.body.length > a.body.length ? b : a));
const muls = largest.body.flatMap((ins, i) => (ins.op === 'vmulps' ? [i] : []));
const span = muls.length ? largest.body.slice(muls[0], muls.at(-1)! + 1) : largest.body;
const count = (test: (ins: Instruction) => boolean) => span.filter(test).length;
const byOp = new Map<string, number>();
for (const ins of span) byOp.set(ins.op, (byOp.get(ins.op) ?? 0) + 1);

const arithmetic = count((i) => /^v(mul|add|sub|fmadd\w*)ps$/.test(i.op));
const stack = count((i) => i.args.includes('(%rsp)'));
console.log(`${largest.name}: ${largest.body.length} instructions; from its first to its last vmulps: ${span.length}`);
console.log(`  vector multiplies and adds: ${arithmetic} (${((100 * arithmetic) / span.length).toFixed(0)}%), of which fused: ${count((i) => i.op.startsWith('vfmadd'))}`);
console.log(`  with a stack operand (spills): ${stack} (${((100 * stack) / span.length).toFixed(0)}%)`);
console.log(`  masked blends (vblendvps): ${byOp.get('vblendvps') ?? 0}`);
console.log('  most frequent:', [...byOp].sort((a, b) => b[1] - a[1]).slice(0, 12).map(([op, n]) => `${op} ${n}`).join(', '));
