// WGSL of the conv kernels that repeats itself but for a type or a count, written once here and
// put in front of shaders/conv2d.wgsl and conv2dSubgroups.wgsl by their declaration in
// conv2d.ts: WGSL has no generics, and a thread's accumulators cannot be an array (sized by an
// override, or indexed at all: they would leave the registers), so each group's are written out.
// Each function returns the statements that used to be written out by hand, the same storage
// accesses in the same loops: on lavapipe every access site costs compile time (the header of
// shaders/conv2d.wgsl), so nothing here unrolls a loop the shaders keep.

/**
 * The output channels a 3x3 thread accumulates for each of its groups of 4 x 4 positions: 8 as
 * an Acc (channels 0-3 in lo, 4-7 in hi, a column each), or 4 as a mat4x4<f32> (conv3x3Shared4).
 */
interface Block {
  /** Suffix of the generated names: Rows4<name>, storeRows<name>, rows3x3Shared<name>. */
  name: string;
  channels: number;
  acc: string;
  /** Output channel j's column (a vec4 of 4 positions) of accumulator `a`. */
  column: (a: string, j: number) => string;
  /** The accumulator made of its columns, in channel order. */
  build: (columns: string[]) => string;
  /** Statements storing `a`, output row r of group g, at output channels o0 .. (storeCol's arguments). */
  store: (a: string) => string;
}

const ROW = '(g.oy0 + r) * p.Wo + g.ox0, p.Wo - g.ox0';

const BLOCK8: Block = {
  name: '',
  channels: 8,
  acc: 'Acc',
  column: (a, j) => `${a}.${j < 4 ? 'lo' : 'hi'}[${j % 4}]`,
  build: (c) => `Acc(mat4x4<f32>(${c.slice(0, 4).join(', ')}), mat4x4<f32>(${c.slice(4).join(', ')}))`,
  store: (a) => `store(${a}, g.b, o0, ${ROW});`,
};

const BLOCK4: Block = {
  name: 'Q',
  channels: 4,
  acc: 'mat4x4<f32>',
  column: (a, j) => `${a}[${j}]`,
  build: (c) => `mat4x4<f32>(${c.join(', ')})`,
  store: (a) => `for (var k = 0u; k < kept(4u); k++) { storeCol(${a}[k], g.b, o0 + k, ${ROW}); }`,
};

/**
 * rows3x3Shared<name>(a, x, t): rows3x3 of the subgroup kernels, whose weights come as the 9 taps
 * `t` of each lane's own output channel (lane j: channel j of the block). Channel by channel, its
 * 9 taps are broadcast from lane j and serve the 4 output rows; each row's 9 products are summed
 * onto its column in one expression, in the order of taps<name>, so the sums are the same.
 * lavapipe (no FMA, 16 vector registers, so the 64 accumulator columns live in memory) then
 * loads and stores a column once per input channel instead of once per tap, and holds the 9
 * weights it multiplies by in registers: 1.6-1.9x faster than tap after tap over every channel
 * with the broadcast weights kept in structs (bench/results/conv-order-lavapipe-2026-12-02.md).
 */
function rows3x3Shared(b: Block): string {
  const n = b.name;
  const lines = [0, 1, 2, 3, 4, 5].map((ry) => `  let s${ry} = shifted(x.x${ry});`);
  for (let j = 0; j < b.channels; j++) {
    lines.push(`  let w${j} = array<f32, 9>(${[...Array(9).keys()].map((t) => `subgroupBroadcast(t[${t}], ${j}u)`).join(', ')});`);
    for (let r = 0; r < 4; r++) {
      const terms = [0, 1, 2].flatMap((ky) => [0, 1, 2].map((kx) => `s${r + ky}.s${kx} * w${j}[${3 * ky + kx}]`));
      lines.push(`  let r${r}c${j} = ${b.column(`a.r${r}`, j)} + ${terms.join(' + ')};`);
    }
  }
  return /* wgsl */ `
fn rows3x3Shared${n}(a: Rows4${n}, x: Windows, t: array<f32, 9>) -> Rows4${n} {
${lines.join('\n')}
  return ${rowsOf(b)};
}`;
}

/** Rows4<name> of the columns r<row>c<channel>. */
function rowsOf(b: Block): string {
  const row = (r: number) => b.build(Array.from({ length: b.channels }, (_, j) => `r${r}c${j}`));
  return `Rows4${b.name}(${[0, 1, 2, 3].map(row).join(',\n    ')})`;
}

/** A group's 4 output rows of one block, and their store. */
function rows4(b: Block): string {
  const { name: n, acc } = b;
  return /* wgsl */ `
struct Rows4${n} {
  r0: ${acc}, r1: ${acc}, r2: ${acc}, r3: ${acc},
}

fn storeRows${n}(a: Rows4${n}, g: Group, o0: u32) {
  if (!g.valid) { return; }
  let rows = array<${acc}, 4>(a.r0, a.r1, a.r2, a.r3);
  for (var r = 0u; r < min(4u, p.Ho - g.oy0); r++) {
    ${b.store('rows[r]')}
  }
}`;
}

/** The plain kernels' step: one output row += one input row through one kernel row. */
const TAPS = /* wgsl */ `
fn taps(a: Acc, x: Window, k: KRow) -> Acc {
  var r = accumulate(a, x.a, k.lo0, k.hi0);
  r = accumulate(r, vec4<f32>(x.a.yzw, x.b.x), k.lo1, k.hi1);
  return accumulate(r, vec4<f32>(x.a.zw, x.b), k.lo2, k.hi2);
}`;

/**
 * An entry point whose thread owns `count` groups of output positions g0, g1, ... (placed by the
 * WGSL function `group`), each with its own accumulator a0, a1, ..., for the output channels from
 * o0 = wg.y * channels. Per input channel c it runs `channel` (what its groups share: the
 * weights), then `update` of every group; at the end `store` of every group (# in them: the
 * group's number). The groups are separate variables, written out: an array of accumulators
 * would leave the registers. Plain kernels return past the last group; subgroup kernels must not
 * (uniform control flow): they compute a clamped copy of it and skip only its store.
 */
interface PerThread {
  entry: string;
  count: number;
  group: string;
  acc: string;
  channels: number;
  subgroups?: boolean;
  /** Statements after o0, before the channel loop. */
  setup?: string[];
  channel: string[];
  update: string;
  store: string;
}

function perThread(k: PerThread): string {
  const each = (line: (i: number) => string) => Array.from({ length: k.count }, (_, i) => line(i));
  const numbered = (line: string) => each((i) => line.replaceAll('#', String(i)));
  const lines = [
    'let t = threadIndex(gid, groups);',
    ...(k.subgroups ? [] : [`if (${k.count}u * t >= p.quads) { return; }`]),
    ...each((i) => `let g${i} = ${k.group}(${k.count}u * t${i ? ` + ${i}u` : ''});`),
    `let o0 = wg.y * ${k.channels}u;`,
    ...(k.setup ?? []),
    ...numbered(`var a#: ${k.acc};`),
    'for (var c = 0u; c < p.C; c++) {',
    ...[...k.channel, ...numbered(k.update)].map((line) => `  ${line}`),
    '}',
    ...numbered(k.store),
  ];
  const lane = k.subgroups ? ', @builtin(subgroup_invocation_id) lane: u32' : '';
  return /* wgsl */ `
@compute @workgroup_size(WORKGROUP)
fn ${k.entry}(@builtin(global_invocation_id) gid: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
    @builtin(workgroup_id) wg: vec3<u32>${lane}) {
${lines.map((line) => `  ${line}`).join('\n')}
}`;
}

/**
 * conv3x3's input channel c for one group of 4 output rows: input row ry (window) is read once,
 * then serves output rows ry - 2 .. ry, through kernel rows 2 .. 0.
 */
function channel3x3(): string {
  const lines: string[] = [];
  for (let ry = 0; ry < 6; ry++) {
    lines.push(`let x${ry} = window(plane, g, ${ry}u);`);
    for (let r = Math.max(0, ry - 2); r <= Math.min(3, ry); r++) lines.push(`r.r${r} = taps(r.r${r}, x${ry}, k${ry - r});`);
  }
  return /* wgsl */ `
fn channel3x3(a: Rows4, g: Group, c: u32, k0: KRow, k1: KRow, k2: KRow) -> Rows4 {
  let plane = (g.b * p.C + c) * p.H;
  var r = a;
${lines.map((line) => `  ${line}`).join('\n')}
  return r;
}`;
}

/** In front of shaders/conv2d.wgsl: its entry points (its sections say what their groups are). */
export const CONV2D_WGSL = [
  rows4(BLOCK8),
  TAPS,
  channel3x3(),
  perThread({
    entry: 'conv3x3', count: 2, group: 'group', acc: 'Rows4', channels: 8,
    channel: ['var k: array<KRow, 3>;', 'for (var ky = 0u; ky < kept(3u); ky++) { k[ky] = kernelRow(o0, c, ky); }'],
    update: 'a# = channel3x3(a#, g#, c, k[0], k[1], k[2]);',
    store: 'storeRows(a#, g#, o0);',
  }),
  perThread({
    entry: 'conv1x1', count: 4, group: 'quad', acc: 'Acc', channels: 8,
    channel: ['let lo = weight4(o0, c, 0u, 0u);', 'let hi = weight4(o0 + 4u, c, 0u, 0u);'],
    update: 'a# = accumulate(a#, quadInput(g#, c), lo, hi);',
    store: 'storeQuad(a#, g#, o0);',
  }),
  perThread({
    entry: 'convGeneric', count: 2, group: 'group1', acc: 'Acc', channels: 8, channel: [],
    update: 'a# = channelGeneric(a#, g#, o0, c);',
    store: 'if (g#.valid) { store(a#, g#.b, o0, g#.oy0 * p.Wo + g#.ox0, p.Wo - g#.ox0); }',
  }),
];

/**
 * conv3x3 with the weights read once per subgroup (shaders/conv2dSubgroups.wgsl): conv3x3Shared8
 * (8 channels x two groups) and conv3x3Shared4 (4 channels x four groups).
 */
function conv3x3Shared(entry: string, b: Block, count: number): string {
  return perThread({
    entry, count, group: 'group', acc: `Rows4${b.name}`, channels: b.channels, subgroups: true,
    setup: ['let o = laneChannel(o0, lane);'],
    channel: ['let t = laneTaps(o, c);'],
    update: `a# = rows3x3Shared${b.name}(a#, windows((g#.b * p.C + c) * p.H, g#), t);`,
    store: `storeRows${b.name}(a#, g#, o0);`,
  });
}

/**
 * The upsample + conv kernels' rows, as rows3x3Shared (which says why): a lane holds the taps of
 * its own output channel, broadcast channel by channel onto the 4 output rows.
 * upRowsShared(a, t0 .. t4, w): output row r += source rows r (taps x, y) and r + 1 (z, w).
 * gradRowsShared(a, c0 .. c9, k0 .. k3): output row y += dy window rows 2y + r through kernel row
 * r (its 4 taps s in k<r>), for r = 0 .. 3.
 */
function upRowsShared(): string {
  const lines: string[] = [];
  for (let j = 0; j < 8; j++) {
    lines.push(`  let w${j} = vec4<f32>(${['x', 'y', 'z', 'w'].map((c) => `subgroupBroadcast(w.${c}, ${j}u)`).join(', ')});`);
    for (let r = 0; r < 4; r++) {
      const terms = [`t${r}.c0 * w${j}.x`, `t${r}.c1 * w${j}.y`, `t${r + 1}.c0 * w${j}.z`, `t${r + 1}.c1 * w${j}.w`];
      lines.push(`  let r${r}c${j} = ${BLOCK8.column(`a.r${r}`, j)} + ${terms.join(' + ')};`);
    }
  }
  const params = [0, 1, 2, 3, 4].map((i) => `t${i}: TapCols`).join(', ');
  return /* wgsl */ `
fn upRowsShared(a: Rows4, ${params}, w: vec4<f32>) -> Rows4 {
${lines.join('\n')}
  return ${rowsOf(BLOCK8)};
}`;
}

function gradRowsShared(): string {
  const lines: string[] = [];
  const taps = [0, 1, 2, 3].flatMap((r) => ['x', 'y', 'z', 'w'].map((c) => `k${r}.${c}`));
  for (let j = 0; j < 8; j++) {
    lines.push(`  let w${j} = array<f32, 16>(${taps.map((t) => `subgroupBroadcast(${t}, ${j}u)`).join(', ')});`);
    for (let y = 0; y < 4; y++) {
      const terms = [0, 1, 2, 3].flatMap((r) => [0, 1, 2, 3].map((s) => `c${2 * y + r}.s${s} * w${j}[${4 * r + s}]`));
      lines.push(`  let r${y}c${j} = ${BLOCK8.column(`a.r${y}`, j)} + ${terms.join(' + ')};`);
    }
  }
  const params = [...Array(10).keys()].map((i) => `c${i}: GradCols`).join(', ');
  return /* wgsl */ `
fn gradRowsShared(a: Rows4, ${params},
    k0: vec4<f32>, k1: vec4<f32>, k2: vec4<f32>, k3: vec4<f32>) -> Rows4 {
${lines.join('\n')}
  return ${rowsOf(BLOCK8)};
}`;
}

/** In front of shaders/conv2dSubgroups.wgsl. */
export const CONV2D_SUBGROUPS_WGSL = [
  upRowsShared(),
  gradRowsShared(),
  rows4(BLOCK4),
  rows3x3Shared(BLOCK8),
  rows3x3Shared(BLOCK4),
  conv3x3Shared('conv3x3Shared8', BLOCK8, 2),
  conv3x3Shared('conv3x3Shared4', BLOCK4, 4),
];
