// Two `sbv2 serve` instances behind Debian's nginx with deploy/nginx.conf, on
// loopback: 400 requests (SBV2_SCALEOUT_REQUESTS) from 4 clients, one instance killed half-way, no
// client request may fail; both instances served some; a streamed answer's
// first bytes come through nginx before its synthesis ends.
// usage: node scaleout_test.mjs SBV2 GOLDEN_DIR NGINX_CONF
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

const [, , SBV2, GOLDEN, CONF] = process.argv;
const NGINX = process.env.NGINX || '/usr/sbin/nginx';
const N = Number(process.env.SBV2_SCALEOUT_REQUESTS || 400); // fewer under the sanitizers
const deadline = setTimeout(() => { console.log('FAIL the test ran out of time'); process.exit(1); }, 900e3);
let pass = 0, failed = 0;
const ok = (c, name, extra = '') => { if (c) { pass++; console.log('ok   ' + name); } else { failed++; console.log('FAIL ' + name + (extra ? ': ' + extra : '')); } };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'sbv2-scale-'));
const MODELS = path.join(TMP, 'models');
fs.mkdirSync(path.join(MODELS, 'tiny-jp-extra'), { recursive: true });
for (const f of ['config.json', 'style_vectors.npy', 'model.safetensors'])
  fs.symlinkSync(path.join(GOLDEN, 'netg', 'tiny-jp-extra', f), path.join(MODELS, 'tiny-jp-extra', f));
const procs = [];
// --timeout 600: a request's deadline covers its whole stream, and the 240-character
// stream below outran the default 120 s under the sanitizers on a slow CI machine.

async function instance() {
  const p = spawn(SBV2, ['serve', '--models', MODELS, '--bert', path.join(GOLDEN, 'tts', 'bert'), '--port', '0', '--threads', '1',
    '--limit', '0', '--timeout', '600', '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] });
  procs.push(p);
  let log = '';
  p.stderr.on('data', (d) => { log += d; });
  for (let i = 0; i < 600 && !/ready/.test(log); i++) await sleep(50);
  const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
  if (!m) throw new Error('instance did not start: ' + log);
  return { p, port: Number(m[1]), url: `http://127.0.0.1:${m[1]}` };
}
const freePort = () => new Promise((r) => { const s = net.createServer(); s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => r(p)); }); });
const served = async (url) => [...(await (await fetch(`${url}/metrics`)).text()).matchAll(/sbv2_requests_total\{route="\/voice",status="200"\} (\d+)/g)]
  .reduce((n, m) => n + Number(m[1]), 0);

try {
  const A = await instance(), B = await instance();
  const port = await freePort();
  // the shipped configuration, with this run's ports and a private prefix
  let conf = fs.readFileSync(CONF, 'utf8')
    .replace(/server 127\.0\.0\.1:5001 /, `server 127.0.0.1:${A.port} `)
    .replace(/server 127\.0\.0\.1:5002 /, `server 127.0.0.1:${B.port} `)
    .replace(/listen 8080;/, `listen 127.0.0.1:${port};`)
    .replace(/worker_processes auto;/, `worker_processes 1;\npid ${TMP}/nginx.pid;\nerror_log ${TMP}/error.log;`)
    .replace(/http \{/, `http {\n    access_log off;\n    client_body_temp_path ${TMP}/body;\n    proxy_temp_path ${TMP}/proxy;\n` +
      `    fastcgi_temp_path ${TMP}/fcgi;\n    uwsgi_temp_path ${TMP}/uwsgi;\n    scgi_temp_path ${TMP}/scgi;`);
  fs.writeFileSync(path.join(TMP, 'nginx.conf'), conf);
  const ng = spawn(NGINX, ['-p', TMP, '-c', path.join(TMP, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  procs.push(ng);
  let nglog = '';
  ng.stderr.on('data', (d) => { nglog += d; });
  const front = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) { try { if ((await fetch(`${front}/health`)).ok) break; } catch { /* not yet */ } await sleep(50); }
  ok((await fetch(`${front}/health`).catch(() => ({ ok: false }))).ok, 'nginx is up in front of two instances', nglog);

  // N requests from 4 clients; instance A is killed at 3/8 of them
  const texts = ['こんにちは。', 'ヒューズが飛んだ。', 'これは何ですか？', 'ありがとう。'];
  let next = 0, fails = 0, servedA = -1, killedAt = -1;
  const bad = [];
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 4 }, async () => {
    for (let i; (i = next++) < N;) {
      if (i === Math.floor(N * 3 / 8) && servedA < 0) { servedA = await served(A.url); A.p.kill('SIGKILL'); killedAt = i; }
      try {
        const r = await fetch(`${front}/voice?text=${encodeURIComponent(texts[i % 4])}&noise=0&noisew=0`, { method: i % 2 ? 'POST' : 'GET' });
        const b = Buffer.from(await r.arrayBuffer());
        if (r.status !== 200 || b.length < 1000) fails++, bad.push(`${i}: ${r.status}`);
      } catch (e) { fails++; bad.push(`${i}: ${e.message}`); }
    }
  }));
  const secs = (performance.now() - t0) / 1000;
  const servedB = await served(B.url);
  console.log(`${N} requests through nginx in ${secs.toFixed(1)} s: instance A served ${servedA} before it was killed (at request ${killedAt}), B served ${servedB}, ${fails} failed`);
  ok(fails === 0, 'no client request failed, one instance killed half-way', bad.slice(0, 5).join(', '));
  ok(servedA > 0 && servedB > 0, 'both instances served requests (their /metrics)', `${servedA} / ${servedB}`);

  // a streamed answer through nginx: first bytes long before the end
  const long = 'ヒューズが飛んだ。魔境に足を踏み入れる。ローカル路線にはファンも多い。'.repeat(8); // 240 characters in sentences
  async function ttfb(url) {
    const s = performance.now();
    const r = await fetch(`${url}/voice?${new URLSearchParams({ text: long, stream: 'true' })}`);
    const rd = r.body.getReader();
    let first = 0, n = 0;
    for (;;) {
      const { value, done } = await rd.read();
      if (done) break;
      if (!first) first = performance.now() - s;
      n += value.length;
    }
    return { first, total: performance.now() - s, n };
  }
  const viaNginx = await ttfb(front), direct = await ttfb(B.url);
  console.log(`streamed ${viaNginx.n} bytes: first byte after ${viaNginx.first.toFixed(0)} ms of ${viaNginx.total.toFixed(0)} ms through nginx; ` +
    `${direct.first.toFixed(0)} of ${direct.total.toFixed(0)} ms direct`);
  ok(viaNginx.n === direct.n && viaNginx.first < viaNginx.total / 2, 'a streamed answer reaches the client through nginx before its synthesis ends');
} catch (e) {
  ok(false, 'the test ran to its end', e.stack);
}
for (const p of procs) if (p.exitCode === null) p.kill('SIGTERM');
await sleep(300);
for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
clearTimeout(deadline);
fs.rmSync(TMP, { recursive: true, force: true });
console.log(`${pass} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
