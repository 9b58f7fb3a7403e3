/**
 * CRFsuite taggers as a model kind (see ../runtime.ts): stored in CRFsuite's
 * own format, served from `attributes` (BYTES [tokens], CRFsuite's attribute
 * syntax) or `tokens` (BYTES [tokens, columns], through the model's feature
 * template), cut into sequences by `sequence_lengths`.
 */
import type { NativeItem } from "../binding";
import { InvalidInputError } from "../errors";
import { invalidField, quoted, requestedOutputs, type ModelRuntime, type RuntimeMeta, type TensorInput, type TensorOutput, type TensorSpec } from "../runtime";
import { CRF_PRESETS, compileTemplate, itemFromRow, templateColumns } from "./features";
import { CrfModel } from "./model";

const tensor = (name: string, datatype: string, shape: number[]): TensorSpec => ({ name, datatype, shape });

/** The CSV columns a model's `tokens` tensor holds, in order. */
function columns(meta: RuntimeMeta): string[] {
  return meta.featureNames.length ? meta.featureNames : templateColumns(meta.featureTemplate ?? []);
}

/**
 * Parses one token's attributes: tab-separated, each `name` (weight 1) or
 * `name:weight`; in names, `\:` is a colon and `\\` a backslash (CRFsuite's
 * own data format).
 */
export function parseAttributes(text: string, field: string): NativeItem {
  const item: NativeItem = [];
  for (const part of text.split("\t")) {
    if (part === "") continue;
    let name = "";
    let i = 0;
    for (; i < part.length; i++) {
      const ch = part[i];
      if (ch === "\\" && i + 1 < part.length) name += part[++i];
      else if (ch === ":") break;
      else name += ch;
    }
    let weight = 1;
    if (i < part.length) {
      const w = part.slice(i + 1);
      weight = Number(w);
      if (w.trim() === "" || !Number.isFinite(weight)) throw invalidField(field, `attribute ${quoted(part)}: weight ${quoted(w)} is not a finite number`);
    }
    if (!name) throw invalidField(field, `attribute ${quoted(part)} has an empty name`);
    item.push([name, weight]);
  }
  return item;
}

/** The request's items, one per token, from `attributes` or `tokens`. */
function items(meta: RuntimeMeta, attrs: TensorInput | undefined, tokens: TensorInput | undefined): NativeItem[] {
  if (attrs) {
    attrs.checkDatatype(["BYTES"]);
    if (attrs.shape.length !== 1) throw invalidField(`${attrs.field}.shape`, `must be [tokens], got [${attrs.shape.join(", ")}]`);
    return attrs.strings().map((s, i) => parseAttributes(s, `${attrs.field} element ${i}`));
  }
  const t = tokens!;
  t.checkDatatype(["BYTES"]);
  if (!meta.featureTemplate) throw invalidField(t.field, `model '${meta.name}' was trained on attributes, without a feature template: send 'attributes'`);
  const cols = columns(meta);
  const shape = t.shape;
  if (shape.length !== 2 || shape[1] !== cols.length) {
    throw invalidField(`${t.field}.shape`, `must be [tokens, ${cols.length}] (columns ${cols.join(", ")}), got [${shape.join(", ")}]`);
  }
  const cells = t.strings();
  const compiled = compileTemplate(meta.featureTemplate, new Map(cols.map((c, i) => [c, i])));
  return Array.from({ length: shape[0] }, (_, r) => itemFromRow(cells.slice(r * cols.length, (r + 1) * cols.length), compiled));
}

export const crfRuntime: ModelRuntime<CrfModel> = {
  kind: "crf",
  platform: "crfsuite",
  formats: ["crfsuite"],

  load: (bytes) => CrfModel.fromBuffer(bytes),

  async import(bytes, _format, options) {
    let model: CrfModel;
    try {
      model = CrfModel.fromBuffer(bytes);
    } catch (err) {
      throw new InvalidInputError(`chunk: not a CRFsuite model: ${(err as Error).message}`);
    }
    const template = options.featureTemplate ?? CRF_PRESETS.book.template;
    return {
      model,
      bytes,
      format: "crfsuite",
      parameters: { imported: "true" },
      labels: model.labels,
      featureNames: [...new Set(template.map((t) => t.column))],
      featureTemplate: template,
    };
  },

  export: (_model, stored) => stored(),

  async describe(meta) {
    const inputs = [tensor("attributes", "BYTES", [-1])];
    if (meta.featureTemplate) inputs.push(tensor("tokens", "BYTES", [-1, columns(meta).length]));
    inputs.push(tensor("sequence_lengths", "INT64", [-1]));
    return {
      inputs,
      outputs: [tensor("labels", "BYTES", [-1]), tensor("probability", "FP64", [-1]), tensor("marginals", "FP64", [-1, meta.labels.length || -1])],
    };
  },

  async infer(model, meta, inputs, requested) {
    const known = ["attributes", "tokens", "sequence_lengths"];
    const byName = new Map<string, TensorInput>();
    for (const input of inputs) {
      if (!known.includes(input.name)) {
        throw invalidField(
          `${input.field}.name`,
          `a CRF model takes inputs 'attributes' or 'tokens', and optionally 'sequence_lengths'; got ${quoted(input.name)}`,
        );
      }
      if (byName.has(input.name)) throw invalidField(`${input.field}.name`, `input '${input.name}' given twice`);
      byName.set(input.name, input);
    }
    const attrs = byName.get("attributes");
    const tokens = byName.get("tokens");
    if (!attrs === !tokens) throw invalidField("inputs", "give exactly one of 'attributes' (BYTES [tokens]) and 'tokens' (BYTES [tokens, columns])");
    const all = items(meta, attrs, tokens);
    const n = all.length;
    let lengths = [n];
    const lens = byName.get("sequence_lengths");
    if (lens) {
      if (lens.shape.length !== 1) throw invalidField(`${lens.field}.shape`, `must be [sequences], got [${lens.shape.join(", ")}]`);
      lengths = lens.integers();
      lengths.forEach((l, i) => {
        if (!(l > 0)) throw invalidField(lens.field, `element ${i}: a sequence length must be > 0, got ${l}`);
      });
      const total = lengths.reduce((a, b) => a + b, 0);
      if (total !== n) throw invalidField(lens.field, `the lengths add up to ${total}, but ${n} tokens were given`);
    }
    if (n === 0) throw invalidField(`${(attrs ?? tokens)!.field}.shape`, "at least one token is required");
    const sequences: NativeItem[][] = [];
    let at = 0;
    for (const l of lengths) {
      sequences.push(all.slice(at, at + l));
      at += l;
    }
    const wanted = requestedOutputs(requested, meta.name, ["labels", "probability", "marginals"], ["labels"]);
    const probability = wanted.includes("probability");
    const marginals = wanted.includes("marginals");
    const results = await model.tagMany(sequences, { probability, marginals });
    const labels = model.labels;
    return wanted.map((name): TensorOutput => {
      if (name === "labels") return { name, shape: [n], data: { datatype: "BYTES", values: results.flatMap((r) => r.labels) } };
      if (name === "probability")
        return { name, shape: [results.length], data: { datatype: "FP64", values: Float64Array.from(results, (r) => r.probability ?? 0) } };
      const m = new Float64Array(n * labels.length);
      let row = 0;
      for (const r of results) {
        m.set(r.marginals!, row * labels.length);
        row += r.labels.length;
      }
      return { name, shape: [n, labels.length], data: { datatype: "FP64", values: m }, parameters: { labels: JSON.stringify(labels) } };
    });
  },
};
