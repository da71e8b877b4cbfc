// ONNX Runtime's session creation on a model file, for scripts/bench_load.sh:
// prints the seconds InferenceSession.create took (full optimisation, N threads).
// usage: node load.js MODEL.onnx [THREADS]
'use strict';
const ort = require('onnxruntime-node');

async function main() {
  const [file, th] = process.argv.slice(2);
  const t0 = process.hrtime.bigint();
  const s = await ort.InferenceSession.create(file, { graphOptimizationLevel: 'all', intraOpNumThreads: Number(th || 1), interOpNumThreads: 1 });
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  if (!s.inputNames.includes('x_tst')) throw new Error('not an SBV2 graph');
  console.log(JSON.stringify({ seconds: dt }));
}
main().catch((e) => { console.error(e.message); process.exit(1); });
