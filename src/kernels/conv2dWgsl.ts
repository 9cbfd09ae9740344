// WGSL of the conv kernels that repeats itself but for a type or a count, written once here and
// put in front of shaders/conv2d.wgsl and conv2dSubgroups.wgsl by their declaration in
// conv2d.ts: WGSL has no generics, and a thread's accumulators cannot be an array (sized by an
// override, or indexed at all: they would leave the registers), so each group's are written out.
// Each function returns the statements that used to be written out by hand, the same storage
// accesses in the same loops: on lavapipe every access site costs compile time (the header of
// shaders/conv2d.wgsl), so nothing here unrolls a loop the shaders keep.

/**
 * The output channels a 3x3 thread accumulates for each of its groups of 4 x 4 positions: 8 as
 * an Acc (channels 0-3 in lo, 4-7 in hi, a column each) of KRow weights, or 4 as a mat4x4<f32> of
 * KRowQ weights (conv3x3Shared4).
 */
interface Block {
  /** Suffix of the generated names: taps<name>, Rows4<name>, storeRows<name>, ... */
  name: string;
  channels: number;
  acc: string;
  kRow: string;
  /** The WGSL expression `m` + input columns `x` (a vec4) outer the weights of tap `t` of `k`. */
  madd: (m: string, x: string, t: number) => string;
  /** Statements storing `a`, output row r of group g, at output channels o0 .. (storeCol's arguments). */
  store: (a: string) => string;
}

const ROW = '(g.oy0 + r) * p.Wo + g.ox0, p.Wo - g.ox0';

const BLOCK8: Block = {
  name: '',
  channels: 8,
  acc: 'Acc',
  kRow: 'KRow',
  madd: (m, x, t) => `accumulate(${m}, ${x}, k.lo${t}, k.hi${t})`,
  store: (a) => `store(${a}, g.b, o0, ${ROW});`,
};

const BLOCK4: Block = {
  name: 'Q',
  channels: 4,
  acc: 'mat4x4<f32>',
  kRow: 'KRowQ',
  madd: (m, x, t) => `outer(${m}, ${x}, k.k${t})`,
  store: (a) => `for (var k = 0u; k < kept(4u); k++) { storeCol(${a}[k], g.b, o0 + k, ${ROW}); }`,
};

/** A group's 4 output rows of one block: accumulated from an input channel's windows, stored. */
function rows3x3(b: Block): string {
  const { name: n, acc, kRow } = b;
  return /* wgsl */ `
// One output row += one input row through one kernel row.
fn taps${n}(a: ${acc}, x: Window, k: ${kRow}) -> ${acc} {
  var r = ${b.madd('a', 'x.a', 0)};
  r = ${b.madd('r', 'vec4<f32>(x.a.yzw, x.b.x)', 1)};
  return ${b.madd('r', 'vec4<f32>(x.a.zw, x.b)', 2)};
}

struct Rows4${n} {
  r0: ${acc}, r1: ${acc}, r2: ${acc}, r3: ${acc},
}

// Output row r += input rows r .. r + 2 through kernel rows 0 .. 2.
fn outputRow${n}(a: ${acc}, x0: Window, x1: Window, x2: Window, k0: ${kRow}, k1: ${kRow}, k2: ${kRow}) -> ${acc} {
  return taps${n}(taps${n}(taps${n}(a, x0, k0), x1, k1), x2, k2);
}

fn rows3x3${n}(a: Rows4${n}, x: Windows, k0: ${kRow}, k1: ${kRow}, k2: ${kRow}) -> Rows4${n} {
  return Rows4${n}(outputRow${n}(a.r0, x.x0, x.x1, x.x2, k0, k1, k2), outputRow${n}(a.r1, x.x1, x.x2, x.x3, k0, k1, k2),
               outputRow${n}(a.r2, x.x2, x.x3, x.x4, k0, k1, k2), outputRow${n}(a.r3, x.x3, x.x4, x.x5, k0, k1, k2));
}

fn storeRows${n}(a: Rows4${n}, g: Group, o0: u32) {
  if (!g.valid) { return; }
  let rows = array<${acc}, 4>(a.r0, a.r1, a.r2, a.r3);
  for (var r = 0u; r < min(4u, p.Ho - g.oy0); r++) {
    ${b.store('rows[r]')}
  }
}`;
}

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
  rows3x3(BLOCK8),
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
    channel: [0, 1, 2].map((ky) => `let k${ky} = sharedKernelRow${b.name}(o, c, ${ky}u);`),
    update: `a# = rows3x3${b.name}(a#, windows((g#.b * p.C + c) * p.H, g#), k0, k1, k2);`,
    store: `storeRows${b.name}(a#, g#, o0);`,
  });
}

/** In front of shaders/conv2dSubgroups.wgsl. */
export const CONV2D_SUBGROUPS_WGSL = [
  rows3x3(BLOCK4),
  conv3x3Shared('conv3x3Shared8', BLOCK8, 2),
  conv3x3Shared('conv3x3Shared4', BLOCK4, 4),
];
