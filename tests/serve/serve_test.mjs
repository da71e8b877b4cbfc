// End-to-end tests of `sbv2 serve` on loopback: SBV2's /voice against the
// golden TTSModel.infer audio and `sbv2 say`, OpenAI's own client, curl,
// streaming and cancellation, every bad request, a bounded load test, a full
// queue, API key and CORS, SIGTERM. Every loop is bounded; the whole run has
// a deadline.
// usage: node serve_test.mjs SBV2 GOLDEN_DIR
//   env SBV2_LOAD_REQUESTS (default 2000), SBV2_LOAD_ONE_WORKER=0 skips the one-worker comparison
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import OpenAI from 'openai';

const [, , SBV2, GOLDEN] = process.argv;
const LOAD = Number(process.env.SBV2_LOAD_REQUESTS || 2000);
const deadline = setTimeout(() => { console.log('FAIL the test ran out of time'); process.exit(1); }, 1500e3);
let pass = 0, failed = 0;
const ok = (c, name, extra = '') => { if (c) { pass++; console.log('ok   ' + name); } else { failed++; console.log('FAIL ' + name + (extra ? ': ' + extra : '')); } };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'sbv2-serve-'));
const MODELS = path.join(TMP, 'models');
for (const m of ['tiny-jp-extra', 'tiny-v2']) {
  fs.mkdirSync(path.join(MODELS, m), { recursive: true });
  for (const f of ['config.json', 'style_vectors.npy', 'model.safetensors'])
    fs.symlinkSync(path.join(GOLDEN, 'netg', m, f), path.join(MODELS, m, f));
}
const BERT = path.join(GOLDEN, 'tts', 'bert');
const servers = [];

async function start(args = []) {
  const proc = spawn(SBV2, ['serve', '--models', MODELS, '--bert', BERT, '--port', '0', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  servers.push(proc);
  let log = '';
  proc.stderr.on('data', (d) => { log += d; if (log.length > 1e6) log = log.slice(-5e5); });
  for (let i = 0; i < 600 && !/ready/.test(log); i++) await sleep(50);
  const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
  if (!m || !/ready/.test(log)) throw new Error('server did not start: ' + log);
  return { proc, url: `http://127.0.0.1:${m[1]}`, port: Number(m[1]), log: () => log };
}

function pcmOfWav(buf) { return buf.subarray(44); }
function maxLsb(a, b) {
  if (a.length !== b.length) return Infinity;
  let m = 0;
  for (let i = 0; i + 1 < a.length; i += 2) m = Math.max(m, Math.abs(a.readInt16LE(i) - b.readInt16LE(i)));
  return m;
}
const rss = (pid) => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;

const cases = JSON.parse(fs.readFileSync(path.join(GOLDEN, 'tts', 'cases.json'), 'utf8')).cases;

async function main() {
  const S = await start(['--threads', '2', '--workers', '2', '--limit', '400', '--quiet']); // v04 has 360 characters

  // --- SBV2's /voice: the golden audio, and the bytes of `sbv2 say`
  for (const c of cases) {
    const p = c.params;
    if (p.given_phone || p.given_tone) continue; // /voice has no given_phone (SBV2's neither)
    const q = new URLSearchParams({
      text: p.text, model_name: path.basename(c.model), speaker_id: String(p.speaker_id), style: p.style,
      style_weight: String(p.style_weight), sdp_ratio: String(p.sdp_ratio), noise: String(p.noise), noisew: String(p.noise_w),
      length: String(p.length), auto_split: String(p.line_split), split_interval: String(p.split_interval),
      assist_text_weight: String(p.assist_text_weight),
    });
    if (p.use_assist_text && p.assist_text) q.set('assist_text', p.assist_text);
    const r = await fetch(`${S.url}/voice?${q}`, { method: 'POST' });
    const wav = Buffer.from(await r.arrayBuffer());
    const gold = fs.readFileSync(path.join(GOLDEN, 'tts', 'cases', c.id, 'audio.wav'));
    const d = maxLsb(pcmOfWav(wav), pcmOfWav(gold));
    ok(r.status === 200 && r.headers.get('content-type') === 'audio/wav' && d <= 1, `/voice ${c.id} = TTSModel.infer (±1 LSB)`, `status ${r.status}, ${d} LSB`);
    const args = ['say', path.join(MODELS, path.basename(c.model)), p.text, '--bert', BERT, '-o', path.join(TMP, 'say.wav'), '-q',
      '--speaker', String(p.speaker_id), '--style', p.style, '--style-weight', String(p.style_weight), '--sdp-ratio', String(p.sdp_ratio),
      '--noise', String(p.noise), '--noise-w', String(p.noise_w), '--length', String(p.length), '--split-interval', String(p.split_interval),
      '--assist-text-weight', String(p.assist_text_weight), ...(p.line_split ? [] : ['--no-line-split']),
      ...(p.use_assist_text && p.assist_text ? ['--assist-text', p.assist_text] : [])];
    const say = spawnSync(SBV2, args);
    ok(say.status === 0 && Buffer.compare(fs.readFileSync(path.join(TMP, 'say.wav')), wav) === 0, `/voice ${c.id} is byte-identical to sbv2 say`);
  }
  // GET works too, with model_id and speaker_name
  {
    const r = await fetch(`${S.url}/voice?text=${encodeURIComponent('ヒューズが飛んだ。')}&model_id=0&speaker_name=spk_a&noise=0&noisew=0`);
    const d = maxLsb(pcmOfWav(Buffer.from(await r.arrayBuffer())), pcmOfWav(fs.readFileSync(path.join(GOLDEN, 'tts/cases/v01_short/audio.wav'))));
    ok(r.status === 200 && d <= 1, 'GET /voice with model_id and speaker_name');
  }
  // curl, as the README shows it
  {
    const out = path.join(TMP, 'curl.wav');
    const r = spawnSync('curl', ['-s', '-o', out, '-w', '%{http_code}', '-X', 'POST', '-G', `${S.url}/voice`, '--data-urlencode', 'text=ヒューズが飛んだ。',
      '--data-urlencode', 'noise=0', '--data-urlencode', 'noisew=0']);
    const d = r.status === 0 ? maxLsb(pcmOfWav(fs.readFileSync(out)), pcmOfWav(fs.readFileSync(path.join(GOLDEN, 'tts/cases/v01_short/audio.wav')))) : -1;
    ok(String(r.stdout) === '200' && d >= 0 && d <= 1, 'curl POST /voice');
  }
  // /voice?stream=true: a WAV with an open length, the clip rule, the same length
  {
    const r = await fetch(`${S.url}/voice?${new URLSearchParams({ text: 'ヒューズが飛んだ。', noise: '0', noisew: '0', stream: 'true' })}`);
    const b = Buffer.from(await r.arrayBuffer());
    ok(r.status === 200 && b.readUInt32LE(40) === 0xffffffff && b.length === 44 + 2 * 52224, '/voice?stream=true: WAV header with an open length', `${b.length}`);
  }

  // --- OpenAI's client
  const client = new OpenAI({ baseURL: `${S.url}/v1`, apiKey: 'unused' });
  const text = 'ご清聴ありがとうございました。';
  const wav = Buffer.from(await (await client.audio.speech.create({ model: 'tiny-jp-extra', voice: 'Happy', input: text, response_format: 'wav' })).arrayBuffer());
  const pcm = Buffer.from(await (await client.audio.speech.create({ model: 'tiny-jp-extra', voice: 'Happy', input: text, response_format: 'pcm' })).arrayBuffer());
  ok(wav.subarray(0, 4).toString() === 'RIFF' && wav.length > 1000, 'openai: audio.speech.create wav');
  ok(Buffer.compare(pcm, pcmOfWav(wav)) === 0, 'openai: pcm is the WAV\'s s16le samples');
  const sres = await client.audio.speech.create({ model: 'tiny-jp-extra', voice: 'Happy', input: text, response_format: 'pcm', stream_format: 'audio' });
  let got = 0, pieces = 0;
  for await (const part of sres.body) got += part.length, pieces++;
  ok(got === pcm.length, 'openai: streamed pcm (stream_format audio) has every sample', `${got} vs ${pcm.length} in ${pieces} pieces`);
  const sse = await (await fetch(`${S.url}/v1/audio/speech`, { method: 'POST', body: JSON.stringify({ model: 'tiny-jp-extra', voice: 'Happy', input: text, response_format: 'pcm', stream_format: 'sse' }) })).text();
  const events = sse.split('\n\n').filter((e) => e.startsWith('data: ')).map((e) => JSON.parse(e.slice(6)));
  const sseBytes = events.filter((e) => e.type === 'speech.audio.delta').reduce((n, e) => n + Buffer.from(e.audio, 'base64').length, 0);
  ok(events.at(-1)?.type === 'speech.audio.done' && sseBytes === pcm.length, 'stream_format sse: speech.audio.delta events, then speech.audio.done');
  for (const f of ['mp3', 'opus']) {
    const r = await fetch(`${S.url}/v1/audio/speech`, { method: 'POST', body: JSON.stringify({ model: 'tiny-jp-extra', input: text, response_format: f }) });
    const b = Buffer.from(await r.arrayBuffer());
    ok(r.status === 200 && (f === 'mp3' ? b[0] === 0xff || b.subarray(0, 3).toString() === 'ID3' : b.subarray(0, 4).toString() === 'OggS'), `response_format ${f}`);
  }
  const models = await (await fetch(`${S.url}/v1/models`)).json();
  ok(models.object === 'list' && models.data.map((m) => m.id).join() === 'tiny-jp-extra,tiny-v2', 'GET /v1/models');

  // --- SBV2's other routes
  const info = await (await fetch(`${S.url}/models/info`)).json();
  ok(info['0'] && info['0'].style2id.Happy === 1 && info['0'].id2spk['1'] === 'spk_b' && info['1'], 'GET /models/info: SBV2\'s shape');
  const ref = await fetch(`${S.url}/models/refresh`, { method: 'POST' });
  ok(ref.status === 200 && Object.keys(await ref.json()).length === 2, 'POST /models/refresh');
  const st = await (await fetch(`${S.url}/status`)).json();
  ok(st.devices[0] === 'cpu' && st.memory_total > 0 && st.memory_percent >= 0 && 'cpu_percent' in st, 'GET /status');
  const health = await (await fetch(`${S.url}/health`)).json();
  ok(health.status === 'ok' && health.ready === true, 'GET /health');

  // --- bad requests: a 4xx each, and the server stays up
  const bad = [
    ['/voice?text=a&model_name=../../etc/passwd', 422, 'path traversal in model_name'],
    ['/voice?text=a&model_name=tiny-jp-extra/../tiny-v2', 422, 'a path as model_name'],
    ['/voice?text=%FF%FE', 422, 'invalid UTF-8'],
    ['/voice?text=' + encodeURIComponent('あ'.repeat(401)), 422, 'a text over --limit'],
    ['/voice?text=a&noise=nan', 422, 'NaN'],
    ['/voice?text=a&length=-1', 422, 'a negative length'],
    ['/voice?text=a&sdp_ratio=abc', 422, 'not a number'],
    ['/voice?text=a&model_id=9', 422, 'unknown model_id'],
    ['/voice?text=a&speaker_name=nobody', 422, 'unknown speaker'],
    ['/voice?text=a&style=Furious', 422, 'unknown style'],
    ['/voice?text=a&reference_audio_path=/etc/passwd', 422, 'reference_audio_path'],
    ['/voice?text=', 422, 'an empty text'],
    ['/voice', 422, 'no text'],
    ['/tools/get_audio?path=/etc/passwd', 404, 'no /tools/get_audio'],
  ];
  for (const [u, want, name] of bad) {
    const r = await fetch(S.url + u);
    const body = await r.text();
    ok(r.status === want && (want !== 422 || JSON.parse(body).detail[0].loc[0] === 'query'), `${name} -> ${want}`, `${r.status} ${body.slice(0, 200)}`);
  }
  const post = (body, h = {}) => fetch(`${S.url}/v1/audio/speech`, { method: 'POST', body, headers: h });
  for (const [body, want, name] of [
    ['{"input": "あ", ', 400, 'malformed JSON'],
    ['{"model": "../tiny-v2", "input": "あ"}', 404, 'a path as model'],
    ['{"input": "あ", "response_format": "flac"}', 400, 'response_format flac'],
    ['{"input": "あ", "speed": 10}', 400, 'speed 10'],
    ['{"input": "あ", "voice": "alloy"}', 400, 'an unknown voice'],
    ['{"input": ""}', 400, 'an empty input'],
  ]) {
    const r = await post(body);
    const j = await r.json().catch(() => ({}));
    ok(r.status === want && j.error && j.error.message, `openai: ${name} -> ${want}`, `${r.status}`);
  }
  {
    const r = await post(JSON.stringify({ input: 'a'.repeat(2 << 20) }));
    ok(r.status === 413, 'an oversized body -> 413', `${r.status}`);
  }
  // a client that sends its headers one byte a second: others are served meanwhile
  {
    const sock = net.connect(S.port, '127.0.0.1');
    const req = 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n';
    let resp = '';
    sock.on('data', (d) => { resp += d; });
    sock.on('error', () => {});
    let i = 0;
    const t = setInterval(() => { if (i < 6) sock.write(req[i++]); }, 1000);
    const others = [];
    for (let k = 0; k < 5; k++) others.push((await fetch(`${S.url}/health`)).status), await sleep(700);
    clearInterval(t);
    sock.write(req.slice(i));
    for (let k = 0; k < 50 && !resp; k++) await sleep(100);
    sock.destroy();
    ok(others.every((s) => s === 200) && /^HTTP\/1\.1 200/.test(resp), 'a slow client (one header byte a second) does not stall the others');
  }
  // a client that leaves mid-stream cancels its synthesis
  {
    const ac = new AbortController();
    const long = cases.find((c) => c.id === 'v04_long').params.text;
    const r = await fetch(`${S.url}/voice?${new URLSearchParams({ text: long.slice(0, 100), stream: 'true', auto_split: 'false' })}`, { signal: ac.signal });
    const rd = r.body.getReader();
    await rd.read();
    ac.abort();
    let busy = -1;
    for (let k = 0; k < 100 && busy !== 0; k++) {
      await sleep(100);
      busy = Number(/sbv2_workers_busy (\d+)/.exec(await (await fetch(`${S.url}/metrics`)).text())[1]);
    }
    ok(busy === 0, 'a client that disconnects frees its worker');
  }
  const metrics = await (await fetch(`${S.url}/metrics`)).text();
  ok(/sbv2_requests_total\{route="\/voice",status="200"\} \d+/.test(metrics) && /sbv2_request_seconds_bucket\{le="\+Inf"\}/.test(metrics) &&
     /sbv2_audio_seconds_total [1-9]/.test(metrics) && /sbv2_resident_bytes \d+/.test(metrics) && /sbv2_models_loaded 2/.test(metrics),
     'GET /metrics: Prometheus text');

  // --- load: 8 clients, LOAD requests, zero errors, RSS steady
  async function load(url, n, clients) {
    const texts = ['こんにちは。', 'ヒューズが飛んだ。', 'これは何ですか？', 'ありがとう。'];
    let next = 0, errors = 0, answered = 0, rejected = 0, retryAfter = true, rssWarm = 0;
    const lat = [];
    const t0 = performance.now();
    const pid = servers.at(-1).pid;
    await Promise.all(Array.from({ length: clients }, async () => {
      for (let i; (i = next++) < n;) {
        const s = performance.now();
        try {
          const r = await fetch(`${url}/voice?text=${encodeURIComponent(texts[i % 4])}&noise=0&noisew=0`);
          await r.arrayBuffer();
          answered++;
          if (r.status === 503) rejected++, retryAfter &&= r.headers.get('retry-after') === '1';
          else if (r.status !== 200) errors++;
          else lat.push(performance.now() - s);
        } catch { errors++; }
        if (i === Math.floor(n / 10)) rssWarm = rss(pid);
      }
    }));
    const secs = (performance.now() - t0) / 1000;
    lat.sort((a, b) => a - b);
    return { secs, errors, answered, rejected, retryAfter, p50: lat[Math.floor(lat.length * 0.5)], p99: lat[Math.floor(lat.length * 0.99)], rssWarm, rssEnd: rss(pid), ok: lat.length };
  }
  const L = await load(S.url, LOAD, 8);
  console.log(`load (2 workers): ${LOAD} requests from 8 clients in ${L.secs.toFixed(1)} s = ${(LOAD / L.secs).toFixed(1)} req/s, p50 ${L.p50.toFixed(1)} ms, p99 ${L.p99.toFixed(1)} ms, RSS ${(L.rssWarm / 2 ** 20).toFixed(0)} -> ${(L.rssEnd / 2 ** 20).toFixed(0)} MB`);
  ok(L.errors === 0 && L.answered === LOAD, `load: ${LOAD} requests, zero errors`, `${L.errors} errors`);
  ok(Math.abs(L.rssEnd / L.rssWarm - 1) <= 0.1, 'load: RSS after warm-up stays within ±10 %', `${L.rssWarm} -> ${L.rssEnd}`);
  servers.at(-1).kill('SIGTERM');

  if (process.env.SBV2_LOAD_ONE_WORKER !== '0') { // the same load on one worker, for comparison
    const one = await start(['--threads', '1', '--workers', '1', '--quiet']);
    const L1 = await load(one.url, LOAD, 8);
    console.log(`load (1 worker):  ${LOAD} requests from 8 clients in ${L1.secs.toFixed(1)} s = ${(LOAD / L1.secs).toFixed(1)} req/s, p50 ${L1.p50.toFixed(1)} ms, p99 ${L1.p99.toFixed(1)} ms, RSS ${(L1.rssWarm / 2 ** 20).toFixed(0)} -> ${(L1.rssEnd / 2 ** 20).toFixed(0)} MB`);
    ok(L1.errors === 0, 'load on one worker: zero errors');
    ok(Math.abs(L1.rssEnd / L1.rssWarm - 1) <= 0.1, 'load on one worker: RSS after warm-up stays within ±10 %', `${L1.rssWarm} -> ${L1.rssEnd}`);
    one.proc.kill('SIGTERM');
  }

  // --- a full queue: 503 with Retry-After, and no request without an answer
  const small = await start(['--threads', '1', '--workers', '1', '--queue', '1', '--quiet']);
  const NQ = Math.min(200, LOAD);
  const Q = await load(small.url, NQ, 8);
  console.log(`queue of 1: ${NQ} requests from 8 clients: ${Q.ok} answered 200, ${Q.rejected} answered 503, ${Q.errors} errors`);
  ok(Q.rejected > 0 && Q.retryAfter && Q.errors === 0 && Q.answered === NQ, 'a full queue answers 503 with Retry-After, every request answered');
  small.proc.kill('SIGTERM');

  // --- API key and CORS
  const K = await start(['--api-key', 'sekrit', '--cors-origin', 'https://example.org', '--quiet']);
  const h = await fetch(`${K.url}/health`);
  const noKey = await fetch(`${K.url}/voice?text=a`);
  const withKey = await fetch(`${K.url}/voice?text=${encodeURIComponent('あ')}`, { headers: { Authorization: 'Bearer sekrit' } });
  const oai401 = await fetch(`${K.url}/v1/audio/speech`, { method: 'POST', body: '{"input":"あ"}' });
  ok(h.status === 200 && noKey.status === 401 && withKey.status === 200 && oai401.status === 401, '--api-key: 401 without, 200 with, /health open');
  ok(withKey.headers.get('access-control-allow-origin') === 'https://example.org', '--cors-origin');
  const pre = await fetch(`${K.url}/voice`, { method: 'OPTIONS' });
  ok(pre.status === 204 && /POST/.test(pre.headers.get('access-control-allow-methods') || ''), 'CORS preflight');

  // --- AivisSpeech's files and SBV2's ONNX exports as models: an .aivm and an .aivmx
  // right in the models folder, a folder with SBV2's model.onnx; each gives v01's golden audio
  {
    const AM = path.join(TMP, 'aivm-models');
    fs.mkdirSync(path.join(AM, 'sbv2-onnx'), { recursive: true });
    for (const f of ['config.json', 'style_vectors.npy', 'model.onnx'])
      fs.symlinkSync(path.join(GOLDEN, 'netg', 'tiny-jp-extra', f), path.join(AM, 'sbv2-onnx', f));
    const jpx = path.join(GOLDEN, 'netg', 'tiny-jp-extra', 'model.safetensors');
    const c1 = spawnSync(SBV2, ['convert', jpx, '--aivm', '-o', path.join(AM, 'voice.aivm')]);
    const c2 = spawnSync(SBV2, ['convert', jpx, '--aivmx', '-o', path.join(AM, 'voicex.aivmx')]);
    ok(c1.status === 0 && c2.status === 0, 'sbv2 convert --aivm / --aivmx');
    const A = await start(['--models', AM, '--threads', '2', '--quiet']);
    const info = await (await fetch(`${A.url}/models/info`)).json();
    const names = Object.values(info).map((m) => path.basename(m.model_path)).join(',');
    ok(names === 'model.onnx,voice.aivm,voicex.aivmx', '/models/info lists the ONNX folder, the .aivm and the .aivmx', names);
    const gold = fs.readFileSync(path.join(GOLDEN, 'tts', 'cases', 'v01_short', 'audio.wav'));
    const v01 = cases.find((c) => c.id === 'v01_short').params;
    for (const name of ['sbv2-onnx', 'voice', 'voicex']) {
      const q = new URLSearchParams({ text: v01.text, model_name: name, noise: '0', noisew: '0' }); // default style: ノーマル in AIVM files
      const r = await fetch(`${A.url}/voice?${q}`);
      const wav = Buffer.from(await r.arrayBuffer());
      const d = r.status === 200 ? maxLsb(pcmOfWav(wav), pcmOfWav(gold)) : -1;
      ok(r.status === 200 && d >= 0 && d <= 1, `/voice on ${name} = TTSModel.infer (±1 LSB)`, `status ${r.status} ${r.status !== 200 ? wav.toString() : ''}, ${d} LSB`);
    }
    const sp = await fetch(`${A.url}/v1/audio/speech`, { method: 'POST', headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ model: 'voice', input: v01.text, voice: 'ノーマル', response_format: 'wav' }) });
    ok(sp.status === 200, '/v1/audio/speech with an AIVM style name as the voice', `status ${sp.status}`);
    A.proc.kill('SIGTERM');
  }

  // --- SIGTERM: the request in flight finishes, then exit 0
  {
    const r = fetch(`${K.url}/voice?${new URLSearchParams({ text: cases.find((c) => c.id === 'v04_long').params.text.slice(0, 90), stream: 'true' })}`,
      { headers: { Authorization: 'Bearer sekrit' } });
    await sleep(150);
    K.proc.kill('SIGTERM');
    const resp = await r;
    const b = Buffer.from(await resp.arrayBuffer());
    const code = await new Promise((res) => { if (K.proc.exitCode !== null) res(K.proc.exitCode); else K.proc.on('exit', (c) => res(c)); setTimeout(() => res('timeout'), 30000); });
    ok(resp.status === 200 && b.length > 44 + 10000 && code === 0, 'SIGTERM finishes the request in flight and exits 0', `status ${resp.status}, ${b.length} bytes, exit ${code}`);
  }
}

try {
  await main();
} catch (e) {
  ok(false, 'the test ran to its end', e.stack);
}
for (const s of servers) if (s.exitCode === null) s.kill('SIGKILL');
clearTimeout(deadline);
fs.rmSync(TMP, { recursive: true, force: true });
console.log(`${pass} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
