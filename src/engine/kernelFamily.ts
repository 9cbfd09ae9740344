// One declaration per shader family: its uniform blocks and storage buffers, by name, in
// TypeScript. The WGSL `struct` and `@binding` lines are generated from it and put in front of the
// shader files, so a .wgsl file holds only code; launches pack uniforms and bind buffers by name,
// and a missing or unknown name throws before anything reaches the GPU.
//
//   const adam = kernelFamily('adam', {
//     uniforms: { p: { n: 'u32', lr: 'f32' } },
//     layouts: { adamStep: { uniform: 'p', buffers: { param: 'write f32', grad: 'read f32' } } },
//   });
//   runtime().launch({ kernel: adam, entry: 'adamStep', params: { n, lr }, buffers: { param, grad }, ... });
//
// A layout is the binding table of one or more entry points: its uniform block at binding 0, then
// its buffers at 1, 2, ... in the order written. A buffer `'read f32 vec4f'` is an array<f32>
// named as declared and, at the same binding, a view `<name>4: array<vec4<f32>>` (vec2f: `<name>2`).
// The same name in two layouts must be the same buffer at the same binding (checked here).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT } from './packageRoot.js';

/** A uniform field: a 32-bit scalar, or `array<vec4<u32>, n>` (shapes and strides, 4 to a vec4). */
export type ParamType = 'u32' | 'i32' | 'f32' | { vec4u: number };
export type ParamValues = Record<string, number | readonly number[]>;

const ELEMENTS = {
  f32: ['f32', ''],
  i32: ['i32', ''],
  u32: ['u32', ''],
  vec2f: ['vec2<f32>', '2'],
  vec4f: ['vec4<f32>', '4'],
  vec2i: ['vec2<i32>', '2'],
} as const;
type Element = keyof typeof ELEMENTS;

export interface LayoutDeclaration {
  /** Entry points using this layout (default: the layout's own name). */
  entries?: readonly string[];
  /** The uniform block at binding 0, a key of `uniforms`. */
  uniform?: string;
  /** name -> '<read|write> <element> [view elements...]', bound at 1, 2, ... in this order. */
  buffers: Record<string, string>;
}

export interface FamilyDeclaration {
  /** Uniform blocks: WGSL variable name -> fields in their struct order. */
  uniforms?: Record<string, Record<string, ParamType>>;
  layouts: Record<string, LayoutDeclaration>;
  /** WGSL put before the shader files (src/engine/wgsl.ts: shared helpers). */
  prelude?: readonly string[];
}

interface Binding {
  name: string;
  binding: number;
  write: boolean;
  element: Element;
  views: Element[];
}

interface Layout {
  uniform: string | null;
  buffers: Binding[];
}

const SHADER_DIR = join(PACKAGE_ROOT, 'shaders');

export class KernelFamily {
  /** The shader files, joined by '+': the pipeline cache key and what profiles print. */
  readonly name: string;
  private readonly layouts = new Map<string, Layout>();
  private readonly bindings = new Map<string, Binding>();

  constructor(
    readonly files: readonly string[],
    private readonly declaration: FamilyDeclaration,
  ) {
    this.name = files.join('+');
    const uniforms = declaration.uniforms ?? {};
    for (const [layoutName, layout] of Object.entries(declaration.layouts)) {
      if (layout.uniform !== undefined && !(layout.uniform in uniforms)) {
        throw new Error(`${this.name}: layout '${layoutName}' uses uniform '${layout.uniform}', which is not declared`);
      }
      const buffers = Object.entries(layout.buffers).map(([name, spec], i) => this.binding(name, spec, i + 1, layoutName));
      for (const entry of layout.entries ?? [layoutName]) {
        if (this.layouts.has(entry)) throw new Error(`${this.name}: entry '${entry}' is in two layouts`);
        this.layouts.set(entry, { uniform: layout.uniform ?? null, buffers });
      }
    }
  }

  /**
   * The same declaration compiled together with another shader file (e.g. subgroup variants):
   * `more` declares the layouts of that file's entry points, and WGSL to put in front of it
   * (what only that module can compile, such as code using subgroups).
   */
  with(file: string, more: Pick<FamilyDeclaration, 'layouts' | 'prelude'> = { layouts: {} }): KernelFamily {
    const family = new KernelFamily([...this.files, file], {
      ...this.declaration,
      layouts: { ...this.declaration.layouts, ...more.layouts },
      prelude: [...(this.declaration.prelude ?? []), ...(more.prelude ?? [])],
    });
    declaredFamilies.push(family);
    return family;
  }

  /** Every entry point some layout declares. */
  get entries(): string[] {
    return [...this.layouts.keys()];
  }

  /** The WGSL module: enable directives, the generated declarations, the prelude, the files. */
  source(read: (file: string) => string = readShader): string {
    const files = this.files.map(read);
    const directive = /^enable [^;]+;[ \t]*$/gm;
    const enables = new Set(files.flatMap((f) => f.match(directive) ?? []));
    return [...enables, this.header(), ...(this.declaration.prelude ?? []), ...files.map((f) => f.replace(directive, ''))].join('\n');
  }

  /** The generated struct and binding declarations. */
  header(): string {
    const lines = [`// Generated from the '${this.files[0]}' declaration in TypeScript (src/engine/kernelFamily.ts).`];
    for (const [name, fields] of Object.entries(this.declaration.uniforms ?? {})) {
      const body = Object.entries(fields).map(([f, t]) => `  ${f}: ${typeof t === 'string' ? t : `array<vec4<u32>, ${t.vec4u}>`},`);
      lines.push(`struct ${structName(name)} {`, ...body, '}', `@group(0) @binding(0) var<uniform> ${name}: ${structName(name)};`);
    }
    for (const b of this.bindings.values()) {
      const access = b.write ? 'read_write' : 'read';
      for (const [i, e] of [b.element, ...b.views].entries()) {
        const [type, suffix] = ELEMENTS[e];
        const name = i === 0 ? b.name : b.name + suffix;
        lines.push(`@group(0) @binding(${b.binding}) var<storage, ${access}> ${name}: array<${type}>;`);
      }
    }
    return lines.join('\n');
  }

  /** The uniform block of `entry`, packed by WGSL's layout rules; null if it has none. */
  pack(entry: string, params: ParamValues | undefined): ArrayBuffer | null {
    const layout = this.layout(entry);
    if (!layout.uniform) {
      if (params && Object.keys(params).length) throw new Error(`${this.name}.${entry}: takes no parameters, got ${Object.keys(params).join(', ')}`);
      return null;
    }
    const fields = this.declaration.uniforms![layout.uniform];
    const given = params ?? {};
    for (const key of Object.keys(given)) {
      if (!(key in fields)) throw new Error(`${this.name}.${entry}: unknown parameter '${key}' (${layout.uniform} has ${Object.keys(fields).join(', ')})`);
    }
    const view = new DataView(new ArrayBuffer(16 * 64));
    let offset = 0;
    for (const [field, type] of Object.entries(fields)) {
      const value = given[field];
      if (value === undefined) throw new Error(`${this.name}.${entry}: parameter '${field}' is missing`);
      const where = `${this.name}.${entry}: parameter '${field}'`;
      if (typeof type === 'object') {
        if (typeof value === 'number' || value.length > 4 * type.vec4u) throw new Error(`${where} must be at most ${4 * type.vec4u} numbers`);
        offset = Math.ceil(offset / 16) * 16;
        for (let i = 0; i < 4 * type.vec4u; i++) view.setUint32(offset + 4 * i, checkU32(where, value[i] ?? 0), true);
        offset += 16 * type.vec4u;
      } else {
        if (typeof value !== 'number') throw new Error(`${where} must be a number`);
        if (type === 'f32') view.setFloat32(offset, value, true);
        else if (type === 'u32') view.setUint32(offset, checkU32(where, value), true);
        else view.setInt32(offset, checkI32(where, value), true);
        offset += 4;
      }
    }
    return view.buffer.slice(0, Math.max(16, Math.ceil(offset / 16) * 16));
  }

  /**
   * Binding indices of `entry`'s buffers, in binding order. Every declared name must be given
   * (null: the entry point does not read it), and no other.
   */
  bind(entry: string, buffers: Record<string, GPUBuffer | null>): { binding: number; buffer: GPUBuffer }[] {
    const layout = this.layout(entry);
    const declared = new Set(layout.buffers.map((b) => b.name));
    for (const key of Object.keys(buffers)) {
      if (!declared.has(key)) throw new Error(`${this.name}.${entry}: unknown buffer '${key}' (the layout binds ${[...declared].join(', ')})`);
    }
    const out: { binding: number; buffer: GPUBuffer }[] = [];
    for (const b of layout.buffers) {
      const buffer = buffers[b.name];
      if (buffer === undefined) throw new Error(`${this.name}.${entry}: buffer '${b.name}' is missing (null if the entry does not use it)`);
      if (buffer) out.push({ binding: b.binding, buffer });
    }
    return out;
  }

  private layout(entry: string): Layout {
    const layout = this.layouts.get(entry);
    if (!layout) throw new Error(`${this.name}: no layout declares the entry point '${entry}'`);
    return layout;
  }

  private binding(name: string, spec: string, index: number, layoutName: string): Binding {
    const [access, ...elements] = spec.trim().split(/\s+/);
    const where = `${this.name}: buffer '${name}' of layout '${layoutName}'`;
    if (access !== 'read' && access !== 'write') throw new Error(`${where}: '${spec}' must start with read or write`);
    if (!elements.length) throw new Error(`${where}: '${spec}' names no element type`);
    for (const e of elements) if (!(e in ELEMENTS)) throw new Error(`${where}: unknown element type '${e}'`);
    const b: Binding = { name, binding: index, write: access === 'write', element: elements[0] as Element, views: elements.slice(1) as Element[] };
    const known = this.bindings.get(name);
    if (known) {
      if (JSON.stringify(known) !== JSON.stringify(b)) throw new Error(`${where}: declared differently in another layout (binding ${known.binding})`);
      return known;
    }
    this.bindings.set(name, b);
    return b;
  }
}

/** Every family declared so far (the suite compiles each one's module and entry points). */
export const declaredFamilies: KernelFamily[] = [];

/** A family of kernels in shaders/<file>.wgsl, declared once (see the header of this file). */
export function kernelFamily(file: string, declaration: FamilyDeclaration): KernelFamily {
  const family = new KernelFamily([file], declaration);
  declaredFamilies.push(family);
  return family;
}

function readShader(file: string): string {
  return readFileSync(join(SHADER_DIR, `${file}.wgsl`), 'utf8');
}

function structName(uniform: string): string {
  return `Params_${uniform}`;
}

function checkU32(where: string, v: number): number {
  if (!Number.isInteger(v) || v < 0 || v > 0xffffffff) throw new Error(`${where} must be a u32, got ${v}`);
  return v;
}

function checkI32(where: string, v: number): number {
  if (!Number.isInteger(v) || v < -0x80000000 || v > 0x7fffffff) throw new Error(`${where} must be an i32, got ${v}`);
  return v;
}
