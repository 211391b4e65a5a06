import { createRouter, createWebHistory } from 'vue-router';
import { session, loadMe } from './session.js';
import MyDay from './pages/MyDay.vue';

// My day is the first page after sign-in and ships in the main bundle; every other page is its own chunk.
const routes = [
  { path: '/login', name: 'login', component: () => import('./pages/SignIn.vue'), meta: { public: true } },
  { path: '/', name: 'myday', component: MyDay },
  { path: '/accounts', name: 'accounts', component: () => import('./pages/Accounts.vue') },
  { path: '/accounts/:id(\\d+)', name: 'account', component: () => import('./pages/AccountPage.vue'), props: (r) => ({ id: Number(r.params.id) }) },
  { path: '/opportunities/:id(\\d+)', name: 'opportunity', component: () => import('./pages/OpportunityPage.vue'), props: (r) => ({ id: Number(r.params.id) }) },
  { path: '/pipeline', name: 'pipeline', component: () => import('./pages/PipelineBoard.vue') },
  { path: '/pool', name: 'pool', component: () => import('./pages/PoolPage.vue') },
  { path: '/leads', name: 'leads', component: () => import('./pages/LeadsPage.vue') },
  { path: '/dashboard', name: 'dashboard', component: () => import('./pages/DashboardPage.vue') },
  { path: '/settings', name: 'settings', component: () => import('./pages/SettingsPage.vue') },
  { path: '/:rest(.*)*', name: 'notfound', component: () => import('./pages/NotFound.vue') },
];

export const router = createRouter({ history: createWebHistory(), routes, scrollBehavior: () => ({ top: 0 }) });

router.beforeEach(async (to) => {
  if (!session.checked) await loadMe();
  if (!to.meta.public && !session.me) return { name: 'login', query: to.fullPath !== '/' ? { next: to.fullPath } : {} };
  if (to.name === 'login' && session.me) return { name: 'myday' };
});
