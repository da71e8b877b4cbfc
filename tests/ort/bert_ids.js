// Runs a convert-bert export with ONNX Runtime on one list of token ids and
// writes "output" as .npy. usage: node bert_ids.js MODEL.onnx IDS.json OUT.npy
// (IDS.json: one JSON array, as `sbv2 bert --ids` prints it).
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');
const { writeNpy } = require('./npy');

async function main() {
  const [model, idsPath, out] = process.argv.slice(2);
  if (!out) throw new Error('usage: node bert_ids.js MODEL.onnx IDS.json OUT.npy');
  const ids = JSON.parse(fs.readFileSync(idsPath, 'utf8').trim());
  const T = ids.length;
  const session = await ort.InferenceSession.create(model, { graphOptimizationLevel: 'all', logSeverityLevel: 2, intraOpNumThreads: 2 });
  const res = await session.run({
    input_ids: new ort.Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, T]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(T).fill(1n), [1, T]),
  });
  writeNpy(out, res.output.data, res.output.dims);
}
main().catch((e) => { console.error(e.message); process.exit(1); });
