// The ONNX Runtime side of both benchmarks (bench.js, bench_bert.js) uses the
// same session settings and timing loop: full graph optimisation, N intra-op
// threads, sequential execution; REPS timed runs after two warm-ups (as many
// as the sbv2c side).
'use strict';
const ort = require('onnxruntime-node');

function openBenchSession(model, threads) {
  return ort.InferenceSession.create(model, {
    graphOptimizationLevel: 'all', executionMode: 'sequential',
    intraOpNumThreads: parseInt(threads, 10), interOpNumThreads: 1, logSeverityLevel: 3,
  });
}

// Times in ms of each timed run, and the last run's outputs.
async function timeRuns(session, feeds, reps) {
  const warm = 2;
  const times = [];
  let out = null;
  for (let i = 0; i < parseInt(reps, 10) + warm; i++) {
    const t0 = process.hrtime.bigint();
    out = await session.run(feeds);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (i >= warm) times.push(ms);
  }
  return { times, out };
}

module.exports = { openBenchSession, timeRuns };
