// Browser tests of the web app: headless Chromium against the real binary serving a demo company.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, signIn, apiGet, apiCall } from './harness.mjs';

let server, chrome;
before(async () => { server = await startServer(); chrome = await launch(); });
after(async () => { await chrome?.close(); await server?.stop(); });

/* A customer of li's own for a test: an account with a two-level org chart and an opportunity
 * in compare, made through the API so the tests do not depend on the demo's data. */
async function fixture(page) {
  const tag = Date.now() + '-' + Math.floor(Math.random() * 1e6);
  const acc = (await apiCall(page, 'POST', '/accounts', { name: '浏览器测试客户' + tag, industry: '印刷包装' })).body;
  const boss = (await apiCall(page, 'POST', '/contacts', { account_id: acc.id, name: '陈建国', title: '总经理' })).body;
  await apiCall(page, 'POST', '/contacts', { account_id: acc.id, name: '周涛', title: '生产总监', reports_to_id: boss.id });
  const opp = (await apiCall(page, 'POST', '/opportunities', { account_id: acc.id, name: '二期印后生产线' + tag, stage: 'compare', amount: 3800000000 })).body;
  assert.ok(acc.id && boss.id && opp.id, 'fixture created');
  return { account: acc.id, opp: opp.id };
}

async function newPage(opts = {}) {
  const ctx = await chrome.browser.newContext({ locale: 'zh-CN', viewport: { width: 1366, height: 900 }, ...opts });
  const page = await ctx.newPage();
  page.setDefaultTimeout(10000);
  page.on('pageerror', (e) => { throw e; });
  return { ctx, page };
}

test('sign in: a wrong password is refused in words, the right one opens My day', async () => {
  const { ctx, page } = await newPage();
  await page.goto(server.base + '/accounts');
  await page.waitForURL(/\/login/);
  await page.fill('[data-test=username]', 'li');
  await page.fill('[data-test=password]', 'wrong-password');
  await page.click('[data-test=signin]');
  await page.waitForSelector('[data-test=signin-error]');
  assert.match(await page.textContent('[data-test=signin-error]'), /用户名或密码错误/);
  assert.equal(await page.inputValue('[data-test=username]'), 'li', 'what was typed stays');
  await page.fill('[data-test=password]', 'Dealmap-Demo-2026');
  await page.click('[data-test=signin]');
  await page.waitForURL((u) => u.pathname === '/accounts');
  await page.click('[data-test=nav] >> text=我的一天');
  await page.waitForSelector('text=李娜，您好');
  const me = await apiGet(page, '/me');
  assert.equal(me.username, 'li');
  await ctx.close();
});

test('create an account; a duplicate name is shown next to the name field and kept', async () => {
  const { ctx, page } = await newPage();
  await signIn(page, server.base, 'li');
  await page.goto(server.base + '/accounts');
  const name = '苏州精工包装测试公司' + Date.now();
  await page.click('[data-test=new-account]');
  await page.fill('[data-test=account-name]', name);
  await page.fill('[data-test=account-industry]', '印刷包装');
  await page.click('[data-test=account-save]');
  await page.waitForSelector(`[data-test=account-title]:has-text("${name}")`);
  const found = await apiGet(page, '/accounts?name=' + encodeURIComponent(name));
  assert.equal(found.items.length, 1);
  assert.equal(found.items[0].industry, '印刷包装');

  await page.goto(server.base + '/accounts');
  await page.click('[data-test=new-account]');
  await page.fill('[data-test=account-name]', name);
  await page.click('[data-test=account-save]');
  const err = page.locator('[data-test=account-form] .el-form-item:has([data-test=account-name]) .el-form-item__error');
  await err.waitFor();
  assert.match(await err.textContent(), /已被使用/);
  assert.equal(await page.inputValue('[data-test=account-name]'), name);
  await ctx.close();
});

test('log a follow-up and see it on the timeline', async () => {
  const { ctx, page } = await newPage();
  await signIn(page, server.base, 'li');
  const { account } = await fixture(page);
  await page.goto(server.base + '/accounts/' + account);
  const before = (await apiGet(page, '/accounts/' + account)).touches;
  await page.click('[data-test=log-followup]');
  await page.click('[data-test=channel] >> text=微信');
  const summary = '微信确认下周三到厂演示方案 ' + Date.now();
  await page.fill('[data-test=summary]', summary);
  await page.click('[data-test=followup-save]');
  await page.waitForSelector(`[data-test=timeline-item]:has-text("${summary}")`);
  const acts = await apiGet(page, '/activities?account_id=' + account + '&sort=-id&limit=1');
  assert.equal(acts.items[0].summary, summary);
  assert.equal(acts.items[0].channel, 'wechat');
  assert.equal((await apiGet(page, '/accounts/' + account)).touches, before + 1);
  assert.equal(await page.textContent('[data-test=touches]'), String(before + 1));
  await ctx.close();
});

test('add stakeholders and see the buyer map coverage change', async () => {
  const { ctx, page } = await newPage();
  await signIn(page, server.base, 'li');
  const { opp } = await fixture(page);
  await page.goto(server.base + '/opportunities/' + opp);
  const count = page.locator('[data-test=coverage-count]');
  await count.waitFor();
  assert.equal(await count.textContent(), '0/4');
  assert.equal(await page.getAttribute('[data-test=cov-decision_maker]', 'data-filled'), 'no');

  await page.click('[data-test=org-node]:has-text("陈建国")');
  await page.click('[data-test=sh-role] >> text=决策者');
  await page.click('[data-test=stakeholder-save]');
  await page.locator('[data-test=coverage-count]:text-is("1/4")').waitFor();
  assert.equal(await page.getAttribute('[data-test=cov-decision_maker]', 'data-filled'), 'yes');

  await page.click('[data-test=org-node]:has-text("周涛")');
  await page.click('[data-test=sh-role] >> text=教练');
  await page.click('[data-test=stakeholder-form] >> text=指导者');
  await page.click('[data-test=stakeholder-save]');
  await page.locator('[data-test=coverage-count]:text-is("2/4")').waitFor();
  const map = await apiGet(page, '/opportunities/' + opp + '/map');
  assert.equal(map.coverage.decision_maker, true);
  assert.equal(map.coverage.coach, true);
  assert.equal(map.coverage.user, false);
  await ctx.close();
});

test('drag a card on the pipeline board and see the stage change through the API', async () => {
  const { ctx, page } = await newPage();
  await signIn(page, server.base, 'li');
  const { opp: id } = await fixture(page);
  await page.goto(server.base + '/pipeline');
  const card = page.locator(`[data-stage=compare] [data-opp="${id}"]`);
  await card.waitFor();
  assert.equal((await apiGet(page, '/opportunities/' + id)).stage, 'compare');
  await card.dragTo(page.locator('[data-stage=commit] .cards'));
  await page.locator(`[data-stage=commit] [data-opp="${id}"]`).waitFor();
  const opp = await apiGet(page, '/opportunities/' + id);
  assert.equal(opp.stage, 'commit');
  const hist = await apiGet(page, '/opportunities/' + id + '/history');
  assert.deepEqual(hist.items.map((h) => h.to).slice(-1), ['commit']);
  await ctx.close();
});

test('the dashboard shows a rendered funnel', async (t) => {
  const { ctx, page } = await newPage();
  await signIn(page, server.base, 'wang');
  const probe = await apiCall(page, 'GET', '/analytics/funnel?scope=me');
  if (probe.status === 404 && /no such endpoint/.test(probe.body?.error?.message || '')) {
    await ctx.close();
    t.skip('GET /api/v1/analytics/funnel is not on this branch yet (issue 5)');
    return;
  }
  await page.goto(server.base + '/dashboard');
  const canvas = page.locator('[data-test=funnel] canvas');
  await canvas.waitFor();
  const box = await canvas.boundingBox();
  assert.ok(box.width > 100 && box.height > 100, 'the funnel canvas has a size');
  await ctx.close();
});

test('switch language: the interface changes and the choice is remembered', async () => {
  const { ctx, page } = await newPage();
  await signIn(page, server.base, 'li');
  await page.goto(server.base + '/accounts');
  await page.waitForSelector('[data-test=nav] >> text=客户');
  await page.click('[data-test=lang-switch]');
  await page.click('[data-test=lang-en]');
  await page.waitForSelector('[data-test=nav] >> text=Accounts');
  assert.match(await page.textContent('.page-head h1'), /Accounts/);
  assert.equal(await page.evaluate(() => document.documentElement.lang), 'en');
  await page.reload();
  await page.waitForSelector('[data-test=nav] >> text=Pipeline');
  assert.equal(await page.evaluate(() => localStorage.getItem('dealmap.locale')), 'en');
  await ctx.close();
});

test('phone width (390 px): My day, logging a follow-up and the account page fit the screen', async () => {
  const { ctx, page } = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await signIn(page, server.base, 'li');
  await page.waitForSelector('[data-test=log-row]');
  const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(await overflow() <= 0, 'My day has no sideways scroll');
  assert.ok(await page.isVisible('.burger'), 'the menu collapses to a button');
  assert.ok(!(await page.isVisible('[data-test=nav]')), 'the wide navigation is hidden');

  await page.locator('[data-test=log-row]').first().click();
  const dialog = page.locator('.el-dialog.is-fullscreen');
  await dialog.waitFor();
  const summary = '手机上记录的跟进 ' + Date.now();
  await page.fill('[data-test=summary]', summary);
  await page.click('[data-test=followup-save]');
  await dialog.waitFor({ state: 'hidden' });
  const acts = await apiGet(page, '/activities?sort=-id&limit=1');
  assert.equal(acts.items[0].summary, summary);

  await page.goto(server.base + '/accounts/' + acts.items[0].account_id);
  await page.waitForSelector(`[data-test=timeline-item]:has-text("${summary}")`);
  assert.ok(await overflow() <= 0, 'the account page has no sideways scroll');
  const btn = await page.locator('[data-test=log-followup]').boundingBox();
  assert.ok(btn.x >= 0 && btn.x + btn.width <= 390, 'the follow-up button is on screen');
  await ctx.close();
});

test('My day: the first 20 follow-ups of many, then more on request', async () => {
  const { ctx, page } = await newPage();
  await signIn(page, server.base, 'li');
  const tag = Date.now();
  const past = new Date(Date.now() - 30 * 86400e3).toISOString();
  for (let i = 0; i < 25; i++) {
    const acc = (await apiCall(page, 'POST', '/accounts', { name: '逾期测试客户' + tag + '-' + i, industry: '印刷包装' })).body;
    const act = await apiCall(page, 'POST', '/activities', { account_id: acc.id, channel: 'visit', occurred_at: past,
      summary: '上门拜访', next_touch_on: '2026-01-01' });
    assert.equal(act.status, 201, JSON.stringify(act.body));
  }
  const agenda = await apiGet(page, '/me/agenda');
  assert.ok(agenda.follow_ups_total >= 25, 'li has the 25 overdue accounts and more');
  assert.equal(agenda.follow_ups.length, 20, 'the default page is 20');

  await page.goto(server.base + '/');
  await page.waitForSelector('[data-test=more-follow-ups]');
  const count = () => page.evaluate(() => document.querySelectorAll('[data-test=overdue] .list-row, [data-test=due] .list-row').length);
  assert.equal(await count(), 20);
  assert.match(await page.textContent('[data-test=more-follow-ups]'), new RegExp('共 ' + agenda.follow_ups_total + ' 条待跟进'));
  await page.click('[data-test=show-more-follow-ups]');
  const want = Math.min(100, agenda.follow_ups_total);
  // a locator's wait, not waitForFunction: its polls after the first evaluate a string in the
  // page, which the app's CSP (no 'unsafe-eval') refuses, so it failed whenever the rows came
  // after the first check (a loaded machine)
  await page.locator('[data-test=overdue] .list-row, [data-test=due] .list-row').nth(want - 1).waitFor();
  assert.equal(await count(), want);
  if (agenda.follow_ups_total <= 100) assert.equal(await page.locator('[data-test=more-follow-ups]').count(), 0, 'all shown: no more to ask for');
  await ctx.close();
});
