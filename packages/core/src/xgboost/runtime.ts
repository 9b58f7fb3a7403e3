/** XGBoost boosters as a model kind (see ../runtime.ts): stored as UBJ, served as `input` FP32 [rows, features]. */
import { invalidField, requestedOutputs, type ModelRuntime, type TensorOutput, type TensorSpec } from "../runtime";
import { XgbModel } from "./model";

const INPUT = "input";
const FORMATS = { "xgboost-ubj": "ubj", "xgboost-json": "json" } as const;

const tensor = (name: string, datatype: string, shape: number[]): TensorSpec => ({ name, datatype, shape });

const classNamesJson = new WeakMap<XgbModel, Record<string, string> | undefined>();
/** The `class_names` output parameter of a model (JSON), computed once per loaded model. */
function classNamesParameter(model: XgbModel): Record<string, string> | undefined {
  if (!classNamesJson.has(model)) classNamesJson.set(model, model.classNames.length ? { class_names: JSON.stringify(model.classNames) } : undefined);
  return classNamesJson.get(model);
}

export const xgboostRuntime: ModelRuntime<XgbModel> = {
  kind: "xgboost",
  platform: "xgboost_ubj",
  formats: ["xgboost-ubj", "xgboost-json"],

  load: (bytes) => XgbModel.fromBuffer(bytes),

  async import(bytes, _format, options) {
    // JSON or UBJ, detected: the untrusted path decodes, checks and probes the forest once.
    const model = await XgbModel.fromUntrustedBuffer(bytes);
    try {
      if (options.classNames?.length) model.setClassNames(options.classNames);
      return {
        model,
        bytes: model.toBuffer("ubj"),
        format: "xgboost-ubj",
        parameters: { imported: "true", objective: model.objective },
        labels: model.classNames,
        featureNames: model.featureNames,
      };
    } catch (err) {
      model.dispose();
      throw err;
    }
  },

  async export(model, stored, format) {
    return format === "xgboost-json" ? (await model()).toBuffer(FORMATS[format]) : stored();
  },

  async describe(_meta, load) {
    const model = await load();
    const outputs = model.isClassifier
      ? [tensor("predict", "INT64", [-1]), tensor("predict_proba", "FP32", [-1, model.numClass > 1 ? model.numClass : 2])]
      : [tensor("predict", "FP32", [-1])];
    return { inputs: [tensor(INPUT, "FP32", [-1, model.numFeatures || -1])], outputs };
  },

  async infer(model, meta, inputs, requested) {
    if (inputs.length !== 1) {
      throw invalidField("inputs", `an XGBoost model takes one input tensor (FP32 or FP64, shape [rows, features]), got ${inputs.length}`);
    }
    const input = inputs[0];
    input.checkDatatype(["FP32", "FP64"]);
    const shape = input.shape;
    if (shape.length !== 2) throw invalidField(`${input.field}.shape`, `must be [rows, features], got [${shape.join(", ")}]`);
    input.count();
    const [rows, cols] = shape;
    if (rows === 0) throw invalidField(`${input.field}.shape[0]`, "rows must be > 0");
    if (cols === 0) throw invalidField(`${input.field}.shape[1]`, "features must be > 0");
    const values = input.floats();
    if (model.numFeatures && cols !== model.numFeatures) {
      throw invalidField(`${input.field}.shape[1]`, `model '${meta.name}' expects ${model.numFeatures} features per row, got ${cols}`);
    }
    const parameters = classNamesParameter(model);
    if (!model.isClassifier) {
      requestedOutputs(requested, meta.name, ["predict"], ["predict"], ` (objective ${model.objective}, not a classifier)`);
      const pred = await model.predictAsync(values, rows, cols, "default");
      return [{ name: "predict", shape: pred.cols === 1 ? [rows] : [rows, pred.cols], data: { datatype: "FP32", values: pred.values } }];
    }
    const wanted = requestedOutputs(requested, meta.name, ["predict", "predict_proba"], ["predict", "predict_proba"]);
    const pred = await model.predictAsync(values, rows, cols, "probabilities");
    let k = pred.cols;
    let probs = pred.values;
    const classes = new Array<number>(rows);
    if (k === 1) {
      // binary: P(class 1) → [P(class 0), P(class 1)], as scikit-learn's predict_proba
      k = 2;
      probs = new Float32Array(rows * 2);
      for (let r = 0; r < rows; r++) {
        const p = pred.values[r];
        probs[2 * r] = 1 - p;
        probs[2 * r + 1] = p;
        classes[r] = p > 0.5 ? 1 : 0;
      }
    } else {
      for (let r = 0; r < rows; r++) {
        let best = 0;
        for (let c = 1; c < k; c++) if (probs[r * k + c] > probs[r * k + best]) best = c;
        classes[r] = best;
      }
    }
    return wanted.map(
      (name): TensorOutput =>
        name === "predict"
          ? { name, shape: [rows], data: { datatype: "INT64", values: classes }, parameters }
          : { name, shape: [rows, k], data: { datatype: "FP32", values: probs }, parameters },
    );
  },
};
