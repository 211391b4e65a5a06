// Shared by the browser tests and `make screenshots`: a demo database, the real binary serving it on a
// free loopback port, and Debian's Chromium driven headless by playwright-core (no browser download).
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';

const require = createRequire(new URL('../../web/package.json', import.meta.url));
const { chromium } = require('playwright-core');

export const DEMO_PASSWORD = 'Dealmap-Demo-2026';
export const ADMIN_PASSWORD = 'Dealmap-Browser-Admin-2026';
const BIN = process.env.DEALMAP_BIN || 'build/dealmap';
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => { const { port } = s.address(); s.close(() => resolve(port)); });
    s.on('error', reject);
  });
}

export async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), 'dealmap-browser-'));
  const db = join(dir, 'demo.db');
  execFileSync(BIN, ['demo', '--db', db, '--admin-password', ADMIN_PASSWORD], { stdio: 'ignore' });
  const port = await freePort();
  const proc = spawn(BIN, ['serve', '--db', db, '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  proc.stderr.on('data', (d) => { log += d; });
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 100; i++) {
    try { const r = await fetch(base + '/api/v1/health'); if (r.ok) break; } catch { /* not yet */ }
    await new Promise((r) => setTimeout(r, 100));
    if (i === 99) throw new Error('server did not start: ' + log);
  }
  return {
    base,
    async stop() { proc.kill('SIGTERM'); await new Promise((r) => proc.once('exit', r)); rmSync(dir, { recursive: true, force: true }); },
  };
}

export async function launch() {
  // playwright-core gives every launch a fresh temporary user-data-dir (and removes it on close).
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-quic'],
  });
  return { browser, async close() { await browser.close(); } };
}

export async function signIn(page, base, username, password = DEMO_PASSWORD) {
  await page.goto(base + '/login');
  await page.fill('[data-test=username]', username);
  await page.fill('[data-test=password]', password);
  await page.click('[data-test=signin]');
  await page.waitForURL((u) => !u.pathname.startsWith('/login'));
}

// The API as the signed-in page sees it (its cookies), for checking what the UI did.
export async function apiGet(page, path) {
  return page.evaluate(async (p) => (await fetch('/api/v1' + p)).json(), path);
}
export async function apiCall(page, method, path, body) {
  return page.evaluate(async ([m, p, b]) => {
    const csrf = decodeURIComponent((document.cookie.match(/(?:^|; )dm_csrf=([^;]*)/) || [])[1] || '');
    const r = await fetch('/api/v1' + p, { method: m, headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf }, body: b ? JSON.stringify(b) : undefined });
    return { status: r.status, body: await r.json() };
  }, [method, path, body]);
}
