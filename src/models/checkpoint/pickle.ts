// A small pickle interpreter: just the opcodes that torch.save's pickles
// (protocol 2, and a few of protocol 4) contain. It never imports or runs
// anything: GLOBAL resolves names through an allow-list supplied by the
// caller, and any other name is refused. A checkpoint is untrusted input.
//
// Python values become: None → null, bool → boolean, int → number (bigint
// beyond 2^53), float → number, str → string, bytes → Uint8Array,
// tuple and list → array, dict → plain object (keys stringified).

import { CheckpointError } from './hostTensor.js';

/** A callable that REDUCE or NEWOBJ may apply (an allow-listed global). */
export class PickleFunction {
  constructor(
    readonly qualifiedName: string,
    readonly call: (args: unknown[]) => unknown,
  ) {}
}

export interface UnpickleOptions {
  /** 'module.name' → value; PickleFunction values can be called. */
  globals: ReadonlyMap<string, unknown>;
  /** Resolves BINPERSID ids (torch's storage references). */
  persistentLoad?: (pid: unknown) => unknown;
  /** Named in error messages. */
  fileName?: string;
}

export interface UnpickleResult {
  value: unknown;
  /** Offset just past the STOP opcode: where the next pickle would start. */
  end: number;
}

// Opcode bytes, named as in CPython's pickle.py.
const OP = {
  PROTO: 0x80,
  FRAME: 0x95,
  STOP: 0x2e, // '.'
  MARK: 0x28, // '('
  EMPTY_DICT: 0x7d, // '}'
  EMPTY_LIST: 0x5d, // ']'
  EMPTY_TUPLE: 0x29, // ')'
  BINPUT: 0x71, // 'q'
  LONG_BINPUT: 0x72, // 'r'
  MEMOIZE: 0x94,
  BINGET: 0x68, // 'h'
  LONG_BINGET: 0x6a, // 'j'
  BININT: 0x4a, // 'J'
  BININT1: 0x4b, // 'K'
  BININT2: 0x4d, // 'M'
  LONG1: 0x8a,
  LONG4: 0x8b,
  BINFLOAT: 0x47, // 'G'
  BINUNICODE: 0x58, // 'X'
  SHORT_BINUNICODE: 0x8c,
  BINUNICODE8: 0x8d,
  BINSTRING: 0x54, // 'T'
  SHORT_BINSTRING: 0x55, // 'U'
  BINBYTES: 0x42, // 'B'
  SHORT_BINBYTES: 0x43, // 'C'
  NONE: 0x4e, // 'N'
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  TUPLE: 0x74, // 't'
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  LIST: 0x6c, // 'l'
  APPEND: 0x61, // 'a'
  APPENDS: 0x65, // 'e'
  DICT: 0x64, // 'd'
  SETITEM: 0x73, // 's'
  SETITEMS: 0x75, // 'u'
  GLOBAL: 0x63, // 'c'
  STACK_GLOBAL: 0x93,
  REDUCE: 0x52, // 'R'
  BUILD: 0x62, // 'b'
  NEWOBJ: 0x81,
  BINPERSID: 0x51, // 'Q'
} as const;

// Far more than any torch pickle needs; keeps a hostile LONG4 cheap to refuse.
const MAX_LONG_BYTES = 64;

const utf8 = new TextDecoder('utf-8', { fatal: true });
const latin1 = new TextDecoder('latin1');

// Dicts built while unpickling (by EMPTY_DICT, DICT or an allow-listed
// callable such as OrderedDict): only they take SETITEM(S).
const dicts = new WeakSet<object>();

/** A new empty Python dict, for allow-listed callables that build one. */
export function newDict(): Record<string, unknown> {
  const dict: Record<string, unknown> = {};
  dicts.add(dict);
  return dict;
}

/** Runs one pickle starting at `start`; stops at its STOP opcode. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions, start = 0): UnpickleResult {
  return new Unpickler(bytes, options).run(start);
}

class Unpickler {
  private readonly view: DataView;
  private readonly file: string;
  private pos = 0;
  private opcodeStart = 0;
  private stack: unknown[] = [];
  private readonly marks: unknown[][] = [];
  private readonly memo = new Map<number, unknown>();

  constructor(
    private readonly bytes: Uint8Array,
    private readonly options: UnpickleOptions,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.file = options.fileName ?? '<pickle>';
  }

  run(start: number): UnpickleResult {
    this.pos = start;
    for (;;) {
      this.opcodeStart = this.pos;
      const op = this.u8();
      if (op === OP.STOP) return { value: this.pop(), end: this.pos };
      this.step(op);
    }
  }

  private step(op: number): void {
    switch (op) {
      case OP.PROTO: {
        const version = this.u8();
        if (version > 5) this.fail(`unsupported pickle protocol ${version}`);
        return;
      }
      case OP.FRAME: // framing is only a hint for buffered readers
        this.take(8);
        return;
      case OP.MARK:
        this.marks.push(this.stack);
        this.stack = [];
        return;

      // Memo.
      case OP.BINPUT:
        return this.put(this.u8());
      case OP.LONG_BINPUT:
        return this.put(this.u32());
      case OP.MEMOIZE:
        return this.put(this.memo.size);
      case OP.BINGET:
        return this.get(this.u8());
      case OP.LONG_BINGET:
        return this.get(this.u32());

      // Scalars.
      case OP.NONE:
        return this.push(null);
      case OP.NEWTRUE:
        return this.push(true);
      case OP.NEWFALSE:
        return this.push(false);
      case OP.BININT:
        return this.push(this.view.getInt32(this.take(4), true));
      case OP.BININT1:
        return this.push(this.u8());
      case OP.BININT2:
        return this.push(this.view.getUint16(this.take(2), true));
      case OP.LONG1:
        return this.push(this.long(this.u8()));
      case OP.LONG4:
        return this.push(this.long(this.u32()));
      case OP.BINFLOAT:
        return this.push(this.view.getFloat64(this.take(8), false)); // big-endian, unlike the rest
      case OP.BINUNICODE:
        return this.push(this.text(this.u32(), utf8));
      case OP.SHORT_BINUNICODE:
        return this.push(this.text(this.u8(), utf8));
      case OP.BINUNICODE8:
        return this.push(this.text(this.u64(), utf8));
      case OP.BINSTRING: // Python 2 str: bytes of unknown encoding
        return this.push(this.text(this.u32(), latin1));
      case OP.SHORT_BINSTRING:
        return this.push(this.text(this.u8(), latin1));
      case OP.BINBYTES:
        return this.push(this.copy(this.u32()));
      case OP.SHORT_BINBYTES:
        return this.push(this.copy(this.u8()));

      // Containers.
      case OP.EMPTY_TUPLE:
      case OP.EMPTY_LIST:
        return this.push([]);
      case OP.EMPTY_DICT:
        return this.push(newDict());
      case OP.TUPLE:
      case OP.LIST:
        return this.push(this.popMark());
      case OP.TUPLE1:
        return this.push(this.popN(1));
      case OP.TUPLE2:
        return this.push(this.popN(2));
      case OP.TUPLE3:
        return this.push(this.popN(3));
      case OP.APPEND: {
        const item = this.pop();
        this.list(this.top()).push(item);
        return;
      }
      case OP.APPENDS: {
        const items = this.popMark();
        const list = this.list(this.top());
        for (const item of items) list.push(item);
        return;
      }
      case OP.DICT: {
        const items = this.popMark();
        return this.push(this.setItems(newDict(), items));
      }
      case OP.SETITEM: {
        const value = this.pop();
        const key = this.pop();
        this.setItems(this.top(), [key, value]);
        return;
      }
      case OP.SETITEMS: {
        const items = this.popMark();
        this.setItems(this.top(), items);
        return;
      }

      // Objects: only allow-listed globals, never anything else.
      case OP.GLOBAL: {
        const module = this.line();
        const name = this.line();
        return this.push(this.findGlobal(module, name));
      }
      case OP.STACK_GLOBAL: {
        const name = this.pop();
        const module = this.pop();
        if (typeof module !== 'string' || typeof name !== 'string') {
          this.fail('STACK_GLOBAL needs two strings');
        }
        return this.push(this.findGlobal(module, name));
      }
      case OP.REDUCE: {
        const args = this.pop();
        const callable = this.pop();
        return this.push(this.call(callable, args));
      }
      case OP.NEWOBJ: {
        const args = this.pop();
        const cls = this.pop();
        return this.push(this.call(cls, args));
      }
      case OP.BUILD:
        // Sets Python attributes (e.g. a state dict's `_metadata`), which the
        // JS values have no use for: the state is dropped.
        this.pop();
        this.top();
        return;
      case OP.BINPERSID: {
        const pid = this.pop();
        const load = this.options.persistentLoad;
        if (!load) this.fail('persistent id found, but no loader given');
        return this.push(this.attempt(() => load(pid)));
      }
      default: {
        const printable = op >= 0x20 && op < 0x7f ? ` '${String.fromCharCode(op)}'` : '';
        this.fail(`unsupported pickle opcode 0x${op.toString(16).padStart(2, '0')}${printable}`);
      }
    }
  }

  // ---- stack ----

  private push(value: unknown): void {
    this.stack.push(value);
  }

  private pop(): unknown {
    if (this.stack.length === 0) this.fail('pickle stack underflow');
    return this.stack.pop();
  }

  private top(): unknown {
    if (this.stack.length === 0) this.fail('pickle stack underflow');
    return this.stack[this.stack.length - 1];
  }

  private popN(n: number): unknown[] {
    if (this.stack.length < n) this.fail('pickle stack underflow');
    return this.stack.splice(this.stack.length - n, n);
  }

  /** Everything pushed since the last MARK. */
  private popMark(): unknown[] {
    const items = this.stack;
    const below = this.marks.pop();
    if (!below) this.fail('pickle stack underflow (no MARK)');
    this.stack = below;
    return items;
  }

  private put(index: number): void {
    this.memo.set(index, this.top());
  }

  private get(index: number): void {
    if (!this.memo.has(index)) this.fail(`memo key ${index} was never stored`);
    this.push(this.memo.get(index));
  }

  // ---- objects ----

  private list(target: unknown): unknown[] {
    if (!Array.isArray(target)) this.fail('APPEND to something that is not a list');
    return target;
  }

  private setItems(target: unknown, items: unknown[]): Record<string, unknown> {
    if (typeof target !== 'object' || target === null || !dicts.has(target)) {
      this.fail('SETITEM on something that is not a dict');
    }
    if (items.length % 2 !== 0) this.fail('odd number of items for a dict');
    const dict = target as Record<string, unknown>;
    for (let i = 0; i < items.length; i += 2) {
      // defineProperty, not assignment: a key '__proto__' stays a plain key.
      Object.defineProperty(dict, this.dictKey(items[i]), {
        value: items[i + 1],
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    return dict;
  }

  private dictKey(key: unknown): string {
    const type = typeof key;
    if (type === 'string' || type === 'number' || type === 'bigint' || type === 'boolean') {
      return String(key);
    }
    if (key === null) return 'None';
    this.fail(`unsupported dict key (${Array.isArray(key) ? 'tuple' : type})`);
  }

  private findGlobal(module: string, name: string): unknown {
    const qualifiedName = `${module}.${name}`;
    if (!this.options.globals.has(qualifiedName)) {
      this.fail(
        `refusing global '${printable(qualifiedName)}' (not on the allow-list: a checkpoint is untrusted input)`,
      );
    }
    return this.options.globals.get(qualifiedName);
  }

  private call(callable: unknown, args: unknown): unknown {
    if (!(callable instanceof PickleFunction)) this.fail('REDUCE/NEWOBJ on an object that is not callable');
    if (!Array.isArray(args)) this.fail(`arguments to ${callable.qualifiedName} are not a tuple`);
    return this.attempt(() => callable.call(args));
  }

  /** Runs a caller's hook; its errors gain this opcode's offset. */
  private attempt<T>(hook: () => T): T {
    try {
      return hook();
    } catch (err) {
      this.fail(err instanceof CheckpointError ? err.detail : (err as Error).message);
    }
  }

  // ---- bounded reads ----

  /** Claims n bytes and returns their start offset. */
  private take(n: number): number {
    if (n > this.bytes.length - this.pos) {
      this.fail(`truncated: pickle needs ${n} more bytes, ${this.bytes.length - this.pos} left`);
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }

  private range(n: number): [number, number] {
    const at = this.take(n);
    return [at, at + n];
  }

  private u8(): number {
    return this.view.getUint8(this.take(1));
  }

  private u32(): number {
    return this.view.getUint32(this.take(4), true);
  }

  private u64(): number {
    const n = this.view.getBigUint64(this.take(8), true);
    if (n > BigInt(this.bytes.length)) this.fail(`truncated: pickle needs ${n} more bytes`);
    return Number(n);
  }

  /** n bytes, copied (a Node Buffer's slice() would share memory). */
  private copy(n: number): Uint8Array {
    return new Uint8Array(this.bytes.subarray(...this.range(n)));
  }

  private text(n: number, decoder: InstanceType<typeof TextDecoder>): string {
    const [begin, end] = this.range(n);
    try {
      return decoder.decode(this.bytes.subarray(begin, end));
    } catch {
      this.fail('string is not valid UTF-8');
    }
  }

  /** A newline-terminated ASCII line (GLOBAL's operands). */
  private line(): string {
    const newline = this.bytes.indexOf(0x0a, this.pos);
    if (newline < 0) this.fail('truncated: GLOBAL name has no end of line');
    const text = latin1.decode(this.bytes.subarray(this.pos, newline));
    this.pos = newline + 1;
    return text;
  }

  /** Little-endian two's complement integer of n bytes. */
  private long(n: number): number | bigint {
    if (n > MAX_LONG_BYTES) this.fail(`integer of ${n} bytes is too large`);
    const [begin, end] = this.range(n);
    let value = 0n;
    for (let i = end - 1; i >= begin; i--) value = (value << 8n) | BigInt(this.bytes[i]!);
    if (n > 0 && this.bytes[end - 1]! & 0x80) value -= 1n << BigInt(8 * n);
    const small = value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER);
    return small ? Number(value) : value;
  }

  private fail(detail: string): never {
    const op = this.bytes[this.opcodeStart];
    const where = op === undefined ? '' : ` (opcode 0x${op.toString(16).padStart(2, '0')} at offset ${this.opcodeStart})`;
    throw new CheckpointError(this.file, detail + where);
  }
}

/** A name from the file, safe to put in a message: escaped and shortened. */
function printable(text: string): string {
  const escaped = text.replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return escaped.length > 80 ? `${escaped.slice(0, 80)}...` : escaped;
}
