// `make screenshots`: docs/screenshots/*.png of the main pages, from a fresh demo server.
import { mkdirSync } from 'node:fs';
import { startServer, launch, signIn, apiCall, apiGet } from './harness.mjs';

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
  // li's biggest open deal in the demo, with the account's people on its buyer map (as a rep would).
  const opps = await apiGet(page, '/opportunities?owner_id=' + (await apiGet(page, '/me')).id + '&sort=-amount&limit=20');
  const deal = opps.items.find((o) => !['won', 'lost'].includes(o.stage)) || opps.items[0];
  const oppPath = '/opportunities/' + deal.id, accPath = '/accounts/' + deal.account_id;
  const people = (await apiGet(page, '/contacts?account_id=' + deal.account_id + '&limit=10')).items;
  const parts = [['decision_maker', 'neutral', 5], ['user', 'supporter', 4], ['technical_gatekeeper', 'non_supporter', 3]];
  for (let i = 0; i < parts.length && i < people.length; i++)
    await apiCall(page, 'POST', oppPath + '/stakeholders', { contact_id: people[i].id, role: parts[i][0], attitude: parts[i][1], influence: parts[i][2] });
  await apiCall(page, 'PATCH', oppPath, { assessment: { deal_size: 5, regional_influence: 4, cost_to_win: 2, opportunity_cost: 2, competitive_strength: 3, unique_value: 4, relationship: 3 } });
  await shot('myday', '/', '[data-test=log-row]');
  await shot('accounts', '/accounts', '[data-test=accounts-table] .el-table__row');
  await shot('account', accPath, '[data-test=timeline-item]');
  await shot('opportunity', oppPath, '[data-test=coverage]', true);
  await shot('pipeline', '/pipeline', '[data-opp]');
  await apiCall(page, 'POST', '/auth/logout');
  await signIn(page, server.base, 'wang');
  await shot('dashboard', '/dashboard', '[data-test=funnel]');
  await page.evaluate(() => localStorage.setItem('dealmap.locale', 'en'));
  await shot('opportunity-en', oppPath, '[data-test=coverage]');
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
  await p.goto(server.base + accPath); await p.waitForSelector('[data-test=timeline-item]'); await p.waitForTimeout(500);
  await p.screenshot({ path: out + 'phone-account.png' });
  await phone.close();
  console.log('screenshots written to docs/screenshots/');
} finally {
  await chrome.close();
  await server.stop();
}
