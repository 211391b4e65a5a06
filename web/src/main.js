import { createApp } from 'vue';
import 'element-plus/dist/index.css';
import './style.css';
import App from './App.vue';
import { router } from './router.js';
import { i18n } from './i18n.js';
import { setUnauthorizedHandler } from './api.js';
import { session } from './session.js';

setUnauthorizedHandler(() => {
  if (session.me) {
    session.me = null;
    router.push({ name: 'login', query: { next: router.currentRoute.value.fullPath } });
  }
});

createApp(App).use(i18n).use(router).mount('#app');
