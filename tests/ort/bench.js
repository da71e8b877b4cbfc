// ONNX Runtime side of `sbv2 bench`: loads MODEL.onnx with full graph
// optimisation and N intra-op threads, runs the inputs in DIR REPS times
// (after two warm-up runs) and prints one JSON line with the times in ms.
// usage: node bench.js MODEL.onnx DIR THREADS REPS
'use strict';
const path = require('path');
const ort = require('onnxruntime-node');
const { readNpy } = require('./npy');

async function main() {
  const [model, dir, threads, reps] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model, {
    graphOptimizationLevel: 'all', executionMode: 'sequential',
    intraOpNumThreads: parseInt(threads, 10), interOpNumThreads: 1, logSeverityLevel: 3,
  });
  const feeds = {};
  for (const name of session.inputNames) {
    const a = readNpy(path.join(dir, `in_${name}.npy`));
    feeds[name] = new ort.Tensor(a.type, a.data, a.shape);
  }
  let samples = 0;
  const times = [];
  const warm = 2; // as many as the sbv2c side
  for (let i = 0; i < parseInt(reps, 10) + warm; i++) {
    const t0 = process.hrtime.bigint();
    const out = await session.run(feeds);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    samples = out.output.dims[2];
    if (i >= warm) times.push(ms);
  }
  console.log(JSON.stringify({ samples, times }));
}

main().catch((e) => { console.error(e.message || e); process.exit(1); });
