// ONNX Runtime side of `sbv2 bench`: loads MODEL.onnx (settings in timing.js),
// runs the inputs in DIR REPS times (after two warm-up runs) and prints one
// JSON line with the times in ms.
// usage: node bench.js MODEL.onnx DIR THREADS REPS
'use strict';
const path = require('path');
const ort = require('onnxruntime-node');
const { readNpy } = require('./npy');
const { openBenchSession, timeRuns } = require('./timing');

async function main() {
  const [model, dir, threads, reps] = process.argv.slice(2);
  const session = await openBenchSession(model, threads);
  const feeds = {};
  for (const name of session.inputNames) {
    const a = readNpy(path.join(dir, `in_${name}.npy`));
    feeds[name] = new ort.Tensor(a.type, a.data, a.shape);
  }
  const { times, out } = await timeRuns(session, feeds, reps);
  console.log(JSON.stringify({ samples: out.output.dims[2], times }));
}

main().catch((e) => { console.error(e.message || e); process.exit(1); });
