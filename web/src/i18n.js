import { createI18n } from 'vue-i18n';
import zhCN from './locales/zh-CN.js';
import en from './locales/en.js';

const KEY = 'dealmap.locale';
export const LOCALES = ['zh-CN', 'en'];

// The saved choice, else the browser's first language we have (any zh → zh-CN), else zh-CN.
export function initialLocale() {
  const saved = localStorage.getItem(KEY);
  if (LOCALES.includes(saved)) return saved;
  for (const l of navigator.languages || [navigator.language || '']) {
    if (/^zh/i.test(l)) return 'zh-CN';
    if (/^en/i.test(l)) return 'en';
  }
  return 'zh-CN';
}

export const i18n = createI18n({
  legacy: false,
  locale: initialLocale(),
  fallbackLocale: 'en',
  messages: { 'zh-CN': zhCN, en },
  missingWarn: false,
  fallbackWarn: false,
});

export function setLocale(l) {
  i18n.global.locale.value = l;
  localStorage.setItem(KEY, l);
  document.documentElement.lang = l;
}
document.documentElement.lang = i18n.global.locale.value;
