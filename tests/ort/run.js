// Runs an ONNX file with ONNX Runtime on SBV2-style input folders.
// usage: node run.js MODEL.onnx OUT_DIR [--opt all|disabled] [--set SCALAR=VALUE]... CASE_DIR...
// One session serves every case (so dynamic axes must really be dynamic);
// writes OUT_DIR/<case>.npy with the "output" tensor. Any ORT warning while
// loading or running is an error.
'use strict';
const path = require('path');
const ort = require('onnxruntime-node');
const { readNpy, writeNpy } = require('./npy');

async function main() {
  const args = process.argv.slice(2);
  let opt = 'all';
  const set = {};
  const rest = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--opt') opt = args[++i];
    else if (args[i] === '--set') { const [k, v] = args[++i].split('='); set[k] = parseFloat(v); }
    else rest.push(args[i]);
  }
  const [model, outDir, ...cases] = rest;
  if (!model || !outDir || cases.length === 0) {
    console.error('usage: node run.js MODEL.onnx OUT_DIR [--opt all|disabled] [--set SCALAR=VALUE]... CASE_DIR...');
    process.exit(2);
  }
  const session = await ort.InferenceSession.create(model, {
    graphOptimizationLevel: opt, executionMode: 'sequential', logSeverityLevel: 2,
    intraOpNumThreads: 2,
  });
  for (const dir of cases) {
    const feeds = {};
    for (const name of session.inputNames) {
      const a = readNpy(path.join(dir, `in_${name}.npy`));
      let data = a.data;
      if (name in set) data = new Float32Array([set[name]]);
      feeds[name] = new ort.Tensor(a.type, data, a.shape);
    }
    const t0 = process.hrtime.bigint();
    const out = await session.run(feeds);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const o = out.output;
    let finite = true;
    for (const v of o.data) if (!Number.isFinite(v)) { finite = false; break; }
    const name = path.basename(dir);
    writeNpy(path.join(outDir, `${name}.npy`), o.data, o.dims);
    console.log(`${name}: output [${o.dims.join(', ')}] ${finite ? 'finite' : 'NOT FINITE'} ${ms.toFixed(1)} ms`);
    if (!finite) process.exitCode = 1;
  }
}

main().catch((e) => { console.error(e.message || e); process.exit(1); });
