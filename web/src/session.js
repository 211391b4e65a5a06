// Who is signed in, and the directory (users, teams, stages) the pages name things with.
import { reactive } from 'vue';
import { api } from './api.js';

export const session = reactive({ me: null, checked: false, users: [], teams: [], stages: [] });

export async function loadMe() {
  try { session.me = await api.get('/me'); } catch { session.me = null; }
  session.checked = true;
  return session.me;
}
let dirPromise = null;
export function loadDirectory(force = false) {
  if (!dirPromise || force) {
    dirPromise = Promise.all([
      api.all('/users').catch(() => []),
      api.all('/teams').catch(() => []),
      api.get('/settings/stages').then((r) => r.items || []).catch(() => []),
    ]).then(([u, t, s]) => { session.users = u; session.teams = t; session.stages = s; });
  }
  return dirPromise;
}
export function userName(id) {
  if (id === null || id === undefined) return '';
  const u = session.users.find((x) => x.id === id);
  return u ? u.display_name || u.username : '#' + id;
}
export function teamName(id) {
  const t = session.teams.find((x) => x.id === id);
  return t ? t.name : '';
}
export function isManager() { return session.me && (session.me.role === 'manager' || session.me.role === 'admin'); }
export function isAdmin() { return session.me && session.me.role === 'admin'; }
// A team and its sub-teams (the territory tree), for filters.
export function teamTree(id) {
  const out = new Set([id]);
  let grew = true;
  while (grew) {
    grew = false;
    for (const t of session.teams) if (t.parent_id && out.has(t.parent_id) && !out.has(t.id)) { out.add(t.id); grew = true; }
  }
  return out;
}
