// ONNX Runtime side of `sbv2 bench-bert`: a convert-bert export with full
// graph optimisation and N intra-op threads, IDS.npy (int64 [T]) REPS times
// after two warm-up runs; prints one JSON line with the times in ms.
// usage: node bench_bert.js MODEL.onnx IDS.npy THREADS REPS
'use strict';
const ort = require('onnxruntime-node');
const { readNpy } = require('./npy');

async function main() {
  const [model, idsPath, threads, reps] = process.argv.slice(2);
  const session = await ort.InferenceSession.create(model, {
    graphOptimizationLevel: 'all', executionMode: 'sequential',
    intraOpNumThreads: parseInt(threads, 10), interOpNumThreads: 1, logSeverityLevel: 3,
  });
  const ids = readNpy(idsPath);
  const T = ids.shape[0];
  const feeds = {
    input_ids: new ort.Tensor('int64', ids.data, [1, T]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(T).fill(1n), [1, T]),
  };
  const times = [];
  for (let i = 0; i < parseInt(reps, 10) + 2; i++) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (i >= 2) times.push(ms);
  }
  console.log(JSON.stringify({ tokens: T, times }));
}

main().catch((e) => { console.error(e.message || e); process.exit(1); });
