// Minimal .npy reader/writer for the ORT test runner (float32, int64, v1-3).
'use strict';
const fs = require('fs');

function readNpy(path) {
  const buf = fs.readFileSync(path);
  if (buf.toString('latin1', 0, 6) !== '\x93NUMPY') throw new Error(`${path}: not an npy file`);
  const major = buf[6];
  const hl = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const off = major === 1 ? 10 : 12;
  const header = buf.toString('latin1', off, off + hl);
  const descr = /'descr':\s*'([^']+)'/.exec(header)[1];
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header)[1].split(',').map((s) => s.trim()).filter((s) => s.length).map(Number);
  const data = buf.subarray(off + hl);
  const copy = Buffer.from(data); // aligned copy
  let arr, type;
  if (descr === '<f4') { arr = new Float32Array(copy.buffer, copy.byteOffset, copy.length / 4); type = 'float32'; }
  else if (descr === '<i8') { arr = new BigInt64Array(copy.buffer, copy.byteOffset, copy.length / 8); type = 'int64'; }
  else throw new Error(`${path}: unsupported dtype ${descr}`);
  return { type, shape, data: arr };
}

function writeNpy(path, data, shape) {
  const descr = data instanceof Float32Array ? '<f4' : '<i8';
  let dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const total = 10 + dict.length + 1;
  dict += ' '.repeat((64 - (total % 64)) % 64) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1; head[7] = 0;
  head.writeUInt16LE(dict.length, 8);
  fs.writeFileSync(path, Buffer.concat([head, Buffer.from(dict, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

module.exports = { readNpy, writeNpy };
