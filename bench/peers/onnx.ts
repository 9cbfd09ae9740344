/**
 * Minimal ONNX ModelProto encoder for the bench's tiny single-op graphs.
 *
 * The schema below is a subset of onnx/onnx.proto (field numbers copied verbatim from the official
 * schema); protobufjs parses it at load time and does the wire encoding, so no bytes are hand-rolled.
 * Only the messages needed to describe a graph of float32/int64 tensors with attributes are kept.
 */
import protobuf from 'protobufjs';

const ONNX_SUBSET_PROTO = `
syntax = "proto2";
package onnx;

message AttributeProto {
  enum AttributeType {
    UNDEFINED = 0; FLOAT = 1; INT = 2; STRING = 3; TENSOR = 4; GRAPH = 5;
    FLOATS = 6; INTS = 7; STRINGS = 8; TENSORS = 9; GRAPHS = 10;
  }
  optional string name = 1;
  optional AttributeType type = 20;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  optional TensorProto t = 5;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
}

message ValueInfoProto {
  optional string name = 1;
  optional TypeProto type = 2;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  optional string domain = 7;
  repeated AttributeProto attribute = 5;
}

message ModelProto {
  optional int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional GraphProto graph = 7;
}

message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
}

message TensorProto {
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  optional string name = 8;
  optional bytes raw_data = 9;
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
  }
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor {
    optional int32 elem_type = 1;
    optional TensorShapeProto shape = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
  }
}

message OperatorSetIdProto {
  optional string domain = 1;
  optional int64 version = 2;
}
`;

const root = protobuf.parse(ONNX_SUBSET_PROTO, { keepCase: true }).root;
const ModelProto = root.lookupType('onnx.ModelProto');

/** TensorProto.DataType values used here. */
export const DT = { FLOAT: 1, INT64: 7 } as const;
export type ElemType = (typeof DT)[keyof typeof DT];

const ATTR = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

export type AttrValue = number | string | number[] | { float: number } | { floats: number[] };
/** Attribute map: integers -> INT, number[] -> INTS, strings -> STRING, {float}/{floats} for float attributes. */
export type Attrs = Record<string, AttrValue>;

export interface OnnxNode {
  op: string;
  inputs: string[];
  outputs: string[];
  attrs?: Attrs;
  name?: string;
}
export interface OnnxValueInfo {
  name: string;
  shape: number[];
  type?: ElemType; // default FLOAT
}
export interface OnnxInitializer {
  name: string;
  shape: number[];
  data: Float32Array | BigInt64Array;
}
export interface OnnxGraph {
  nodes: OnnxNode[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  initializers?: OnnxInitializer[];
  /** Default opset of the ai.onnx domain. */
  opset?: number;
}

function attrProto(name: string, v: AttrValue): Record<string, unknown> {
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw new Error(`attribute ${name}: use {float: x} for float attributes`);
    return { name, type: ATTR.INT, i: v };
  }
  if (typeof v === 'string') return { name, type: ATTR.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: ATTR.INTS, ints: v };
  if ('float' in v) return { name, type: ATTR.FLOAT, f: v.float };
  return { name, type: ATTR.FLOATS, floats: v.floats };
}

function valueInfo(v: OnnxValueInfo): Record<string, unknown> {
  return {
    name: v.name,
    type: { tensor_type: { elem_type: v.type ?? DT.FLOAT, shape: { dim: v.shape.map((d) => ({ dim_value: d })) } } },
  };
}

/** Encode a graph as a serialized ONNX ModelProto (IR version 8, ai.onnx opset 17 by default). */
export function encodeModel(g: OnnxGraph): Uint8Array {
  const model = {
    ir_version: 8,
    producer_name: 'webgpu-cgan-bench',
    opset_import: [{ domain: '', version: g.opset ?? 17 }],
    graph: {
      name: 'bench',
      node: g.nodes.map((n, i) => ({
        name: n.name ?? `${n.op}_${i}`,
        op_type: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attrs ?? {}).map(([k, v]) => attrProto(k, v)),
      })),
      input: g.inputs.map(valueInfo),
      output: g.outputs.map(valueInfo),
      initializer: (g.initializers ?? []).map((t) => ({
        name: t.name,
        dims: t.shape,
        data_type: t.data instanceof Float32Array ? DT.FLOAT : DT.INT64,
        raw_data: new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      })),
    },
  };
  const err = ModelProto.verify(model);
  if (err) throw new Error(`ONNX model does not verify: ${err}`);
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}
