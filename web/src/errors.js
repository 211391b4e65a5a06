// Turning API errors into words next to the field they name.
import { reactive } from 'vue';
import { ElMessage } from 'element-plus';
import { i18n } from './i18n.js';

export function errorText(e) {
  const { t, te, locale } = i18n.global;
  if (!e) return '';
  const key = 'err.' + (e.code || 'generic');
  const head = te(key) ? t(key) : t('err.generic');
  // The server's message carries the specifics (which rule, what count, which format).
  if (e.message && e.message !== e.code && (locale.value === 'en' || !te(key) || ['invalid_field', 'conflict', 'twelve_touch_rule', 'holding_limit', 'never_park', 'invalid_param'].includes(e.code)))
    return `${head}: ${e.message}`;
  return head;
}

// Per-form errors: errors[field] = text; errors._ = a message not tied to a field.
export function useFormErrors() {
  const errors = reactive({});
  return {
    errors,
    clear() { for (const k of Object.keys(errors)) delete errors[k]; },
    // fields: the form's field names; an error naming "assessment.deal_size" lands on "assessment".
    apply(e, fields = []) {
      const text = errorText(e);
      let f = e && e.field;
      if (f && !fields.includes(f)) {
        const head = f.split(/[.[]/)[0];
        f = fields.includes(head) ? head : null;
      }
      if (f) errors[f] = text; else errors._ = text;
      return text;
    },
  };
}

export function toastError(e) {
  ElMessage({ type: 'error', message: errorText(e), grouping: true, showClose: true });
}
export function toastOk(msg) { ElMessage({ type: 'success', message: msg, grouping: true }); }
