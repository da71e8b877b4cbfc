// ONNX Runtime side of `sbv2 bench-bert`: a convert-bert export (settings in
// timing.js) on IDS.npy (int64 [T]) REPS times after two warm-up runs; prints
// one JSON line with the times in ms.
// usage: node bench_bert.js MODEL.onnx IDS.npy THREADS REPS
'use strict';
const ort = require('onnxruntime-node');
const { readNpy } = require('./npy');
const { openBenchSession, timeRuns } = require('./timing');

async function main() {
  const [model, idsPath, threads, reps] = process.argv.slice(2);
  const session = await openBenchSession(model, threads);
  const ids = readNpy(idsPath);
  const T = ids.shape[0];
  const feeds = {
    input_ids: new ort.Tensor('int64', ids.data, [1, T]),
    attention_mask: new ort.Tensor('int64', new BigInt64Array(T).fill(1n), [1, T]),
  };
  const { times } = await timeRuns(session, feeds, reps);
  console.log(JSON.stringify({ tokens: T, times }));
}

main().catch((e) => { console.error(e.message || e); process.exit(1); });
