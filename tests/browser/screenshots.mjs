// `make screenshots`: docs/screenshots/*.png of the main pages, from a fresh demo server.
import { mkdirSync } from 'node:fs';
import { startServer, launch, signIn, apiCall } from './harness.mjs';

const out = new URL('../../docs/screenshots/', import.meta.url).pathname;
mkdirSync(out, { recursive: true });
const server = await startServer();
const chrome = await launch();
try {
  const ctx = await chrome.browser.newContext({ locale: 'zh-CN', viewport: { width: 1440, height: 900 } });
  const page = await ctx.newPage();
  const shot = async (name, path, wait, full = false) => {
    if (path) await page.goto(server.base + path);
    if (wait) await page.waitForSelector(wait);
    await page.waitForTimeout(700);
    await page.screenshot({ path: out + name + '.png', fullPage: full });
  };
  await shot('signin', '/login', '[data-test=signin]');
  await signIn(page, server.base, 'li');
  // A realistic buyer map: three stakeholders on the first deal (through the API, as a rep would).
  await apiCall(page, 'POST', '/opportunities/1/stakeholders', { contact_id: 1, role: 'decision_maker', attitude: 'neutral', influence: 5 });
  await apiCall(page, 'POST', '/opportunities/1/stakeholders', { contact_id: 3, role: 'user', attitude: 'supporter', influence: 4 });
  await apiCall(page, 'POST', '/opportunities/1/stakeholders', { contact_id: 2, role: 'technical_gatekeeper', attitude: 'non_supporter', influence: 3 });
  await apiCall(page, 'PATCH', '/opportunities/1', { assessment: { deal_size: 5, regional_influence: 4, cost_to_win: 2, opportunity_cost: 2, competitive_strength: 3, unique_value: 4, relationship: 3 } });
  await shot('myday', '/', '[data-test=log-row]');
  await shot('accounts', '/accounts', '[data-test=accounts-table] .el-table__row');
  await shot('account', '/accounts/1', '[data-test=timeline-item]');
  await shot('opportunity', '/opportunities/1', '[data-test=coverage]', true);
  await shot('pipeline', '/pipeline', '[data-opp]');
  await apiCall(page, 'POST', '/auth/logout');
  await signIn(page, server.base, 'wang');
  await shot('dashboard', '/dashboard', '[data-test=funnel]');
  await page.evaluate(() => localStorage.setItem('dealmap.locale', 'en'));
  await shot('opportunity-en', '/opportunities/1', '[data-test=coverage]');
  await page.evaluate(() => localStorage.setItem('dealmap.locale', 'zh-CN'));
  await ctx.close();

  const phone = await chrome.browser.newContext({ locale: 'zh-CN', viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  const p = await phone.newPage();
  await signIn(p, server.base, 'li');
  await p.waitForSelector('[data-test=log-row]'); await p.waitForTimeout(500);
  await p.screenshot({ path: out + 'phone-myday.png' });
  await p.locator('[data-test=log-row]').first().click();
  await p.waitForSelector('.el-dialog.is-fullscreen'); await p.waitForTimeout(500);
  await p.screenshot({ path: out + 'phone-followup.png' });
  await p.goto(server.base + '/accounts/1'); await p.waitForSelector('[data-test=timeline-item]'); await p.waitForTimeout(500);
  await p.screenshot({ path: out + 'phone-account.png' });
  await phone.close();
  console.log('screenshots written to docs/screenshots/');
} finally {
  await chrome.close();
  await server.stop();
}
