// The page sbv2 serve gives at /, in Debian's Chromium (headless, through
// playwright-core): pickers filled from the server, a style chosen, Japanese
// typed, Synthesize: the audio element's duration equals the WAV the same
// request returns, the highlighting advanced, no console error, a screenshot;
// then an over-limit text must show the server's error. With --api-key.
// usage: node page_test.mjs SBV2 GOLDEN_DIR SCREENSHOT.png
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const [, , SBV2, GOLDEN, SHOT] = process.argv;
const deadline = setTimeout(() => { console.log('FAIL the test ran out of time'); process.exit(1); }, 300e3);
let pass = 0, failed = 0;
const ok = (c, name, extra = '') => { if (c) { pass++; console.log('ok   ' + name); } else { failed++; console.log('FAIL ' + name + (extra ? ': ' + extra : '')); } };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'sbv2-page-'));
const MODELS = path.join(TMP, 'models');
fs.mkdirSync(path.join(MODELS, 'tiny-jp-extra'), { recursive: true });
for (const f of ['config.json', 'style_vectors.npy', 'model.safetensors'])
  fs.symlinkSync(path.join(GOLDEN, 'netg', 'tiny-jp-extra', f), path.join(MODELS, 'tiny-jp-extra', f));
const KEY = 'page-test-key';
const srv = spawn(SBV2, ['serve', '--models', MODELS, '--bert', path.join(GOLDEN, 'tts', 'bert'), '--port', '0', '--api-key', KEY, '--quiet'],
  { stdio: ['ignore', 'ignore', 'pipe'] });
let log = '';
srv.stderr.on('data', (d) => { log += d; });
let browser;
try {
  for (let i = 0; i < 600 && !/ready/.test(log); i++) await sleep(50);
  const url = `http://127.0.0.1:${/listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(log)[1]}`;
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'] });
  const page = await browser.newPage({ viewport: { width: 900, height: 1100 } });
  const problems = [];
  page.on('console', (m) => { if (m.type() === 'error' && !/status of 4\d\d/.test(m.text())) problems.push(m.text()); });
  page.on('pageerror', (e) => problems.push(String(e)));
  await page.goto(url + '/');
  ok(await page.title() === 'sbv2c', 'the page loads from /');
  // every control has a label
  const unlabelled = await page.$$eval('input, select, textarea', (els) => els.filter((e) => !document.querySelector(`label[for="${e.id}"]`) && !e.getAttribute('aria-label')).map((e) => e.id));
  ok(unlabelled.length === 0, 'every control has a label', unlabelled.join());
  await page.fill('#apikey', KEY);
  await page.dispatchEvent('#apikey', 'change');
  await page.waitForFunction(() => document.querySelectorAll('#style option').length >= 3, null, { timeout: 10000 });
  await page.selectOption('#style', 'Happy');
  const text = 'ヒューズが飛んだ。これは何ですか？';
  await page.fill('#text', text);
  await page.keyboard.press('Tab');
  ok(await page.$eval('#style', (e) => e.value) === 'Happy', 'the chosen style stays chosen');
  await page.click('#go');
  await page.waitForFunction(() => document.body.dataset.state === 'done' || document.body.dataset.state === 'error', null, { timeout: 60000 });
  ok(await page.$eval('#error', (e) => e.textContent) === '', 'the synthesis ran without an error shown', await page.$eval('#error', (e) => e.textContent));
  const duration = await page.$eval('#audio', (a) => new Promise((r) => (a.readyState >= 1 ? r(a.duration) : a.addEventListener('loadedmetadata', () => r(a.duration)))));
  // the WAV the same request returns, not streamed
  const params = await page.evaluate(() => {
    const q = new URLSearchParams({ text: document.getElementById('text').value, model_id: document.getElementById('model').value,
      speaker_name: document.getElementById('speaker').value, style: document.getElementById('style').value });
    for (const id of ['sdp_ratio', 'noise', 'noisew', 'length', 'style_weight', 'split_interval', 'assist_text_weight']) q.set(id, document.getElementById(id).value);
    return q.toString();
  });
  const wav = Buffer.from(await (await fetch(`${url}/voice?${params}`, { method: 'POST', headers: { Authorization: 'Bearer ' + KEY } })).arrayBuffer());
  const wavSecs = (wav.length - 44) / 2 / wav.readUInt32LE(24);
  ok(Math.abs(duration - wavSecs) < 1e-3, 'the audio element lasts as long as the WAV of the same request', `${duration} vs ${wavSecs}`);
  await page.waitForFunction(() => Number(document.body.dataset.highlighted || 0) >= 3, null, { timeout: 15000 }).catch(() => {});
  const lit = await page.evaluate(() => Number(document.body.dataset.highlighted || 0));
  ok(lit >= 3, 'the highlighting advanced over the characters', `${lit} characters`);
  ok(/first audio after [\d.]+ s .* real-time factor/.test(await page.$eval('#stats', (e) => e.textContent)), 'the timing is shown');
  ok(await page.$eval('#spoken', (e) => e.textContent) === 'ヒューズが飛んだ.これは何ですか?', 'the spoken text is the server\'s bert_text');
  fs.mkdirSync(path.dirname(SHOT), { recursive: true });
  await page.screenshot({ path: SHOT, fullPage: true });
  ok(fs.statSync(SHOT).size > 1000, `screenshot saved to ${SHOT}`);
  // an over-limit text: the server's message in the page
  await page.fill('#text', 'あ'.repeat(101));
  await page.click('#go');
  await page.waitForFunction(() => document.body.dataset.state === 'error', null, { timeout: 20000 }).catch(() => {});
  const err = await page.$eval('#error', (e) => e.textContent);
  ok(/at most 100 characters/.test(err), 'an over-limit text shows the server\'s error', err);
  ok(problems.length === 0, 'no console errors', problems.join(' | '));
} catch (e) {
  ok(false, 'the test ran to its end', e.stack);
}
if (browser) await browser.close();
srv.kill('SIGTERM');
clearTimeout(deadline);
fs.rmSync(TMP, { recursive: true, force: true });
console.log(`${pass} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
