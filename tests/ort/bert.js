// Runs a convert-bert export with ONNX Runtime on every case of a golden BERT
// folder (one session, all lengths) and compares "output" with the hidden
// state SBV2 reads. usage: node bert.js MODEL.onnx GOLDEN_BERT_DIR [--opt all|disabled]
// Prints the worst max|d|; exits 1 above 1e-4 or on any ORT warning.
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require('onnxruntime-node');
const { readNpy } = require('./npy');

async function main() {
  const [model, dir, flag, opt] = process.argv.slice(2);
  const cases = JSON.parse(fs.readFileSync(path.join(dir, 'cases.json'), 'utf8'));
  const layer = cases.model.sbv2_layer_index;
  const session = await ort.InferenceSession.create(model, {
    graphOptimizationLevel: flag === '--opt' ? opt : 'all', logSeverityLevel: 2, intraOpNumThreads: 2,
  });
  let worst = 0;
  for (const c of cases.cases) {
    const ids = readNpy(path.join(dir, c.files.input_ids));
    const ref = readNpy(path.join(dir, c.files.hidden_states));
    const T = ids.shape[0], H = ref.shape[2];
    const mask = new BigInt64Array(T).fill(1n);
    const out = await session.run({
      input_ids: new ort.Tensor('int64', ids.data, [1, T]),
      attention_mask: new ort.Tensor('int64', mask, [1, T]),
    });
    const o = out.output;
    if (o.dims.length !== 2 || o.dims[0] !== T || o.dims[1] !== H) throw new Error(`${c.id}: output dims ${o.dims}`);
    let d = 0;
    for (let i = 0; i < T * H; i++) d = Math.max(d, Math.abs(o.data[i] - ref.data[layer * T * H + i]));
    worst = Math.max(worst, d);
  }
  console.log(`${cases.cases.length} cases, worst max|d| ${worst.toExponential(2)}`);
  process.exit(worst <= 1e-4 ? 0 : 1);
}
main().catch((e) => { console.error(e.message); process.exit(1); });
