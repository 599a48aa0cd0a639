/**
 * A small ONNX graph builder on top of `onnx-proto`: named values, initializers
 * from typed arrays (raw_data), and ops of the default and `com.microsoft`
 * domains. Produces the serialized ModelProto bytes onnxruntime loads.
 */
import onnxProto from "onnx-proto";

const { onnx } = onnxProto;

/** ONNX element types used here (TensorProto.DataType). */
export const Elem = Object.freeze({ FLOAT: 1, UINT8: 2, INT64: 7, FLOAT16: 10 });
export type ElemType = (typeof Elem)[keyof typeof Elem];

/** Attribute values an op may take. */
export type AttrValue = number | string | readonly number[] | { float: number } | { ints: readonly number[] };

const DEFAULT_OPSET = 17;
const MS_DOMAIN = "com.microsoft";

/** A weight the graph takes as an input, fed on every run (not embedded in the protobuf). */
export interface GraphWeightInput {
  readonly name: string;
  /** Row-major values of `dims`. */
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

/** Bytes of an initializer stored outside the protobuf: ONNX external data in a named in-memory "file". */
export interface ExternalInitializer {
  /** The `location` the TensorProto names (a relative file name, unique in the graph). */
  readonly path: string;
  readonly data: Uint8Array;
  /** ONNX element type of the tensor ({@link Elem}). */
  readonly elem: number;
  /** See {@link TensorOptions.packedOnly}. */
  readonly packedOnly?: boolean;
}

/** Options of an initializer. */
export interface TensorOptions {
  /**
   * onnxruntime copies this tensor into a kernel's pre-packed weights and never reads it again once the
   * session is built, although it keeps it (MatMulNBits' f32 scales on x86-64 with int8 activations:
   * the packed B holds its own copy of the scales and the block sums). A session built from files may
   * drop such a tensor's pages afterwards (model/blocks/build-files.ts).
   */
  readonly packedOnly?: boolean;
}

/** A serialized graph and the weights it takes as inputs. */
export interface BuiltGraph {
  /** ModelProto bytes. */
  readonly model: Uint8Array;
  readonly weights: readonly GraphWeightInput[];
  /**
   * Initializers kept out of the protobuf (see {@link GraphBuilderOptions.externalMinBytes}), handed to
   * onnxruntime as in-memory external data: no protobuf copy of the bytes is ever made.
   */
  readonly external: readonly ExternalInitializer[];
}

/** Options of a {@link GraphBuilder}. */
export interface GraphBuilderOptions {
  /**
   * Initializers of at least this many bytes are stored as ONNX external data (default 1 MiB) instead of
   * raw_data in the protobuf: the protobuf encoder would copy them once and onnxruntime's parser again.
   * Infinity embeds everything.
   */
  readonly externalMinBytes?: number;
}

/** Default {@link GraphBuilderOptions.externalMinBytes}. */
export const DEFAULT_EXTERNAL_MIN_BYTES = 1 << 20;

/** Builds one graph; every method returns the name of the value it created. */
export class GraphBuilder {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly initializers: { name: string; dataType: number; dims: number[]; raw: Uint8Array; packedOnly: boolean }[] = [];
  private readonly inputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly outputs: InstanceType<typeof onnx.ValueInfoProto>[] = [];
  private readonly weightInputs: GraphWeightInput[] = [];
  private readonly externalMinBytes: number;
  private counter = 0;
  private usesMs = false;
  /** Values renamed to a graph output's name ({@link output}). */
  private readonly renamed = new Map<string, string>();

  constructor(
    private readonly name: string,
    opts: GraphBuilderOptions = {},
  ) {
    this.externalMinBytes = opts.externalMinBytes ?? DEFAULT_EXTERNAL_MIN_BYTES;
  }

  /** A fresh unique value name with a readable prefix. */
  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  /** Declare a graph input; dims are numbers or symbolic names. */
  input(name: string, elem: ElemType, dims: readonly (number | string)[]): string {
    this.inputs.push(valueInfo(name, elem, dims));
    return name;
  }

  /**
   * Declare `value` as a graph output named `name`. A value an op of this graph produced is renamed to
   * `name` (in every node; later ops may still use the old name): an Identity would be one more node per
   * run, and a copy of the output (the head's logits: 512 KB at V = 131072). Otherwise (a graph input, an
   * initializer, a value already output under another name) an Identity copies it.
   */
  output(name: string, value: string, elem: ElemType, dims: readonly (number | string)[]): void {
    const v = this.resolve(value);
    const producer = this.nodes.find((n) => n.output.includes(v));
    const taken = this.outputs.some((o) => o.name === v || o.name === name) || this.inputs.some((i) => i.name === name) || this.initializers.some((t) => t.name === name);
    if (v !== name && producer && !taken) {
      for (const n of this.nodes) {
        n.output = n.output.map((o) => (o === v ? name : o));
        n.input = n.input.map((i) => (i === v ? name : i));
      }
      this.renamed.set(value, name);
      if (v !== value) this.renamed.set(v, name);
    } else if (v !== name) this.nodes.push(onnx.NodeProto.create({ opType: "Identity", input: [v], output: [name], name: `out_${name}` }));
    this.outputs.push(valueInfo(name, elem, dims));
  }

  /** The current name of a value (an output renamed it, see {@link output}). */
  private resolve(value: string): string {
    return this.renamed.get(value) ?? value;
  }

  /**
   * A float32 weight taken as a graph input (fed on every run from `data`, no copy): for weights too
   * large to embed (a ModelProto cannot exceed 2 GB).
   */
  weightInput(prefix: string, data: Float32Array, dims: readonly number[]): string {
    const name = this.fresh(prefix);
    this.inputs.push(valueInfo(name, Elem.FLOAT, dims));
    this.weightInputs.push({ name, data, dims: [...dims] });
    return name;
  }

  /**
   * The serialized graph with the weights it takes as inputs; initializers of at least
   * {@link GraphBuilderOptions.externalMinBytes} are left out of the protobuf as external data
   * ({@link BuiltGraph.external}). ({@link toBytes} embeds everything, for callers that create the session themselves.)
   */
  build(): BuiltGraph {
    const external: ExternalInitializer[] = [];
    const model = this.serialize((t) => {
      if (t.raw.byteLength < this.externalMinBytes) return undefined;
      const path = `${t.name}.bin`;
      external.push({ path, data: t.raw, elem: t.dataType, ...(t.packedOnly ? { packedOnly: true } : {}) });
      return path;
    });
    return { model, weights: [...this.weightInputs], external };
  }

  /** A float32 initializer of the given dims. */
  f32(prefix: string, data: Float32Array, dims: readonly number[], opts: TensorOptions = {}): string {
    return this.tensor(prefix, Elem.FLOAT, new Uint8Array(data.buffer, data.byteOffset, data.byteLength), dims, opts);
  }

  /** A uint8 initializer of the given dims. */
  u8(prefix: string, data: Uint8Array, dims: readonly number[]): string {
    return this.tensor(prefix, Elem.UINT8, data, dims);
  }

  /** An int64 initializer (shapes, axes). */
  i64(prefix: string, values: readonly number[]): string {
    const data = new BigInt64Array(values.map((v) => BigInt(v)));
    return this.tensor(prefix, Elem.INT64, new Uint8Array(data.buffer), [values.length]);
  }

  /** A float32 scalar constant. */
  scalar(prefix: string, v: number): string {
    return this.f32(prefix, new Float32Array([v]), []);
  }

  private tensor(prefix: string, dataType: number, raw: Uint8Array, dims: readonly number[], opts: TensorOptions = {}): string {
    const name = this.fresh(prefix);
    this.initializers.push({ name, dataType, dims: [...dims], raw, packedOnly: opts.packedOnly === true });
    return name;
  }

  /** Append an op; returns its (first) output name. */
  op(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, domain = ""): string {
    return this.opN(opType, inputs, 1, attrs, domain)[0]!;
  }

  /** Append an op with `nOut` outputs. */
  opN(opType: string, inputs: readonly string[], nOut: number, attrs: Record<string, AttrValue> = {}, domain = ""): string[] {
    const output = Array.from({ length: nOut }, () => this.fresh(opType.toLowerCase()));
    if (domain === MS_DOMAIN) this.usesMs = true;
    this.nodes.push(
      onnx.NodeProto.create({
        opType,
        input: inputs.map((i) => this.resolve(i)),
        output,
        name: this.fresh(`n_${opType}`),
        domain,
        attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
      }),
    );
    return output;
  }

  /** Serialize to ModelProto bytes (opset 17 + com.microsoft 1 when used), every initializer embedded. */
  toBytes(): Uint8Array {
    return this.serialize(() => undefined);
  }

  /** ModelProto bytes; an initializer for which `externalPath` names a file is stored as external data there. */
  private serialize(externalPath: (t: { name: string; dataType: number; raw: Uint8Array; packedOnly: boolean }) => string | undefined): Uint8Array {
    const initializer = this.initializers.map((t) => {
      const path = externalPath(t);
      if (path === undefined) return onnx.TensorProto.create({ name: t.name, dataType: t.dataType, dims: t.dims, rawData: t.raw });
      const externalData = [
        { key: "location", value: path },
        { key: "offset", value: "0" },
        { key: "length", value: String(t.raw.byteLength) },
      ];
      return onnx.TensorProto.create({ name: t.name, dataType: t.dataType, dims: t.dims, dataLocation: onnx.TensorProto.DataLocation.EXTERNAL, externalData });
    });
    const opsetImport = [onnx.OperatorSetIdProto.create({ domain: "", version: DEFAULT_OPSET })];
    if (this.usesMs) opsetImport.push(onnx.OperatorSetIdProto.create({ domain: MS_DOMAIN, version: 1 }));
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: "moe-serve",
      opsetImport,
      graph: onnx.GraphProto.create({
        name: this.name,
        node: this.nodes,
        initializer,
        input: this.inputs,
        output: this.outputs,
      }),
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, elemType: number, dims: readonly (number | string)[]) {
  return onnx.ValueInfoProto.create({
    name,
    type: onnx.TypeProto.create({
      tensorType: onnx.TypeProto.Tensor.create({
        elemType,
        shape: onnx.TensorShapeProto.create({
          dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })),
        }),
      }),
    }),
  });
}

function attribute(name: string, v: AttrValue) {
  const A = onnx.AttributeProto.AttributeType;
  if (typeof v === "string") return onnx.AttributeProto.create({ name, type: A.STRING, s: new TextEncoder().encode(v) });
  if (typeof v === "number") {
    if (!Number.isInteger(v)) throw new Error(`attribute ${name}: use {float: x} for non-integer ${v}`);
    return onnx.AttributeProto.create({ name, type: A.INT, i: v });
  }
  if ("float" in v) return onnx.AttributeProto.create({ name, type: A.FLOAT, f: v.float });
  const ints = "ints" in v ? v.ints : (v as readonly number[]);
  return onnx.AttributeProto.create({ name, type: A.INTS, ints: [...ints] });
}

export { MS_DOMAIN };

/**
 * `model` (ModelProto bytes) with the initializers stored as the given external data embedded as raw_data
 * instead (the others stay external).
 */
export function embedExternal(model: Uint8Array, external: readonly ExternalInitializer[]): Uint8Array {
  const byPath = new Map(external.map((e) => [e.path, e.data]));
  const m = onnx.ModelProto.decode(model);
  m.graph!.initializer = (m.graph!.initializer ?? []).map((t) => {
    const at = t.externalData?.find((kv) => kv.key === "location")?.value;
    const data = at != null ? byPath.get(at) : undefined;
    if (data === undefined) return t;
    return onnx.TensorProto.create({ name: t.name, dataType: t.dataType, dims: t.dims, rawData: data });
  });
  return onnx.ModelProto.encode(m).finish();
}

