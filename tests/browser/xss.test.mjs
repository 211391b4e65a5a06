// Every text a user types is shown as text (issue 10): markup stored in every text field the API
// takes — account, contact and its portrait, opportunity, stakeholder needs, follow-up, lead, order,
// a user's display name, a team's name, a stage label — is shown on every page as the characters
// typed, never parsed: no element of it appears in the page, its handlers never run, and the
// browser reports no Content-Security-Policy violation (which would mean it reached the DOM as HTML).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, launch, signIn, apiCall, ADMIN_PASSWORD } from './harness.mjs';

let server, chrome;
before(async () => { server = await startServer(); chrome = await launch(); });
after(async () => { await chrome?.close(); await server?.stop(); });

const PAYLOADS = [
  '<img src=x onerror="window.__xss=(window.__xss||0)+1">',
  '"><svg onload="window.__xss=(window.__xss||0)+1"></svg>',
  '<script>window.__xss=(window.__xss||0)+1</script>',
];

// POST (or PATCH) a body; a field the server refuses for its format (a website, a phone) is
// dropped and the rest sent again, so every field that takes free text gets the payload.
async function send(page, method, path, body) {
  const b = { ...body };
  for (let i = 0; i < 20; i++) {
    const r = await apiCall(page, method, path, b);
    if (r.status < 300) return r.body;
    const f = r.body?.error?.field;
    assert.ok(r.status === 400 && f && f in b && !['name', 'company', 'product', 'account_id', 'contact_id'].includes(f),
      `${method} ${path}: ${JSON.stringify(r.body)}`);
    delete b[f];
  }
  throw new Error('too many refused fields');
}

test('markup typed into every text field is shown as text on every page', async () => {
  const ctx = await chrome.browser.newContext({ locale: 'zh-CN', viewport: { width: 1366, height: 900 } });
  const page = await ctx.newPage();
  page.setDefaultTimeout(15000);
  const errors = [];
  page.on('pageerror', (e) => errors.push(String(e)));
  await page.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.sample));
  });
  await signIn(page, server.base, 'admin', ADMIN_PASSWORD);
  const tag = String(Date.now() % 1e8);
  const P = (i) => PAYLOADS[i % PAYLOADS.length] + ' ' + tag + '-' + i;
  let n = 0;
  const text = () => P(n++);

  const team = await send(page, 'POST', '/teams', { name: text() });
  const user = await send(page, 'POST', '/users', { username: 'xss' + tag, role: 'rep', team_id: team.id, display_name: text(), password: 'Xs5!kQ8#wN2$mVr' });
  const acc = await send(page, 'POST', '/accounts', { name: text(), industry: text(), scale: text(), nature: text(), address: text(),
    website: text(), phone: text(), source: text(), notes: text(), owner_id: user.id, installed_base: [{ brand: text(), quantity: 1, years: 2 }] });
  const portrait = Object.fromEntries(['basic', 'background', 'needs', 'relations', 'deep', 'extended'].map((b) => [b, { note: text() }]));
  const boss = await send(page, 'POST', '/contacts', { account_id: acc.id, name: text(), title: text(), department: text(), faction: text(),
    phone: text(), email: text(), wechat: text(), portrait });
  await send(page, 'POST', '/contacts', { account_id: acc.id, name: text(), title: text(), reports_to_id: boss.id });
  const opp = await send(page, 'POST', '/opportunities', { account_id: acc.id, name: text(), stage: 'compare', amount: 5000000,
    expected_close_on: '2027-01-15', competitors: [text()], owner_id: user.id,
    purchase_criteria: [{ criterion: text(), weight: 3, ours: 4, theirs: 2 }] });
  await send(page, 'POST', `/opportunities/${opp.id}/stakeholders`, { contact_id: boss.id, role: 'decision_maker', attitude: 'opponent',
    company_needs: { text: text(), tags: [text()] }, personal_needs: { text: text(), tags: [] } });
  await send(page, 'POST', '/activities', { account_id: acc.id, opportunity_id: opp.id, contact_ids: [boss.id], channel: 'visit',
    occurred_at: new Date().toISOString(), summary: text(), next_touch_on: '2026-01-01' });
  await send(page, 'POST', '/orders', { account_id: acc.id, product: text(), quantity: 1, amount: 1000, ordered_on: '2025-06-01' });
  await send(page, 'POST', '/leads', { company: text(), contact_name: text(), phone: text(), email: text(), source: text(), assignee_id: user.id });
  await send(page, 'POST', '/accounts', { name: text(), industry: text(), owner_id: null });   // in the pool
  const stage = (await apiCall(page, 'GET', '/settings/stages')).body.items.find((s) => s.key === 'compare');
  await send(page, 'PATCH', '/settings/stages/compare', { label: { 'zh-CN': text(), en: text() } });

  const pages = ['/', '/accounts?name=' + tag, `/accounts/${acc.id}`, `/opportunities/${opp.id}`, '/pipeline', '/pool', '/leads',
    '/dashboard', '/settings'];
  try {
    for (const p of pages) {
      await page.goto(server.base + p);
      await page.waitForLoadState('networkidle');
      if (p === '/dashboard') {
        // the funnel's tooltip is HTML built from the stage labels: hover over every stage
        const canvas = page.locator('[data-test=funnel] canvas');
        await canvas.waitFor();
        const box = await canvas.boundingBox();
        for (let y = box.y + 10; y < box.y + box.height; y += 12) await page.mouse.move(box.x + box.width / 2, y);
      }
      const mustShow = ['/accounts?name=' + tag, `/accounts/${acc.id}`, `/opportunities/${opp.id}`].includes(p);
      if (mustShow) {
        // networkidle can come before a page's second request on a loaded machine (seen once in
        // make test at load 9): give the text time to arrive; the assertion below still fails
        // when it never does
        await page.waitForFunction(() => document.body.innerText.includes('onerror="window.__xss'),
          null, { timeout: 10000 }).catch(() => {});
      }
      const found = await page.evaluate(() => ({
        ran: window.__xss || 0,
        csp: window.__csp,
        elements: document.querySelectorAll('img[src="x"], svg[onload], [onerror], [onload]').length,
        scripts: [...document.scripts].filter((s) => !s.src).map((s) => s.textContent.slice(0, 80)),
        shown: document.body.innerText.includes('onerror="window.__xss'),
      }));
      assert.equal(found.ran, 0, `${p}: a payload ran`);
      assert.deepEqual(found.csp, [], `${p}: markup reached the page (CSP violations)`);
      assert.equal(found.elements, 0, `${p}: a payload became an element`);
      assert.deepEqual(found.scripts, [], `${p}: an inline script is in the page`);
      if (mustShow) {
        assert.ok(found.shown, `${p}: the typed text is not shown as text`);
      }
    }
    assert.deepEqual(errors, []);
  } finally {
    await apiCall(page, 'PATCH', '/settings/stages/compare', { label: stage.label });
    await ctx.close();
  }
});
