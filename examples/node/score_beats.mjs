// Score beats with the shipped ecgdl ONNX classifier in Node.js (onnxruntime-node, CPU).
//
//   node score_beats.mjs ../../ecgdl/shipped/ecgdl_cnn.onnx beats.json > proba.json
//
// beats.json holds the model inputs exactly as Python's BeatClassifier.inputs() builds them
// (ecgdl.features.make_inputs with the sidecar's recipe):
//   {"beats": {"dims": [n, C, T], "data": [...float32 row-major...]},
//    "rr":    {"dims": [n, F],    "data": [...]}}
// The class names come from the sidecar JSON beside the model (never from a literal). The CNN also has the
// output "embedding" (n, 64; its sidecar lists onnx.outputs): read here only as session.run(...).logits.
// Output: {"classes": [...], "provider": "cpu", "logits": [[...]], "proba": [[...]], "label": [...]}.
import { readFileSync } from "node:fs";
import * as ort from "onnxruntime-node";

function softmax(row) {
  const m = Math.max(...row);
  const e = row.map((v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

async function main() {
  const [modelPath, inputPath] = process.argv.slice(2);
  if (!modelPath || !inputPath) {
    console.error("usage: node score_beats.mjs MODEL.onnx INPUTS.json");
    process.exit(2);
  }
  const meta = JSON.parse(readFileSync(modelPath.replace(/\.onnx$/, ".json"), "utf8"));
  const input = JSON.parse(readFileSync(inputPath, "utf8"));
  const session = await ort.InferenceSession.create(modelPath, { executionProviders: ["cpu"] });
  const feeds = {
    beats: new ort.Tensor("float32", Float32Array.from(input.beats.data), input.beats.dims),
    rr: new ort.Tensor("float32", Float32Array.from(input.rr.data), input.rr.dims),
  };
  const out = (await session.run(feeds)).logits;
  const [n, k] = out.dims;
  const logits = [];
  for (let i = 0; i < n; i++) logits.push(Array.from(out.data.slice(i * k, (i + 1) * k)));
  const proba = logits.map(softmax);
  const label = proba.map((p) => meta.classes[p.indexOf(Math.max(...p))]);
  process.stdout.write(JSON.stringify({ classes: meta.classes, provider: "cpu", logits, proba, label }) + "\n");
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
