// Message catalogs, one JSON file per language in locales/ (as the hosted page keeps them); a key
// missing from a catalog falls back to English. The language is the viewer's choice when made (kept
// in this browser), else the first of the browser's languages that has a catalog, else English.
import de from './locales/de.json';
import en from './locales/en.json';
import { useLocale } from './format';

type Catalog = Record<string, string>;
export const CATALOGS: Record<string, Catalog> = { en, de };
export const LANGUAGES: Array<[string, string]> = [['en', 'English'], ['de', 'Deutsch']];
const STORE = 'kassa.dashboard.language';

let language = 'en';
let catalog: Catalog = en;

export function negotiate(): string {
  const chosen = localStorage.getItem(STORE);
  if (chosen && chosen in CATALOGS) return chosen;
  for (const tag of navigator.languages ?? [navigator.language]) {
    const base = tag.toLowerCase().split('-')[0] ?? '';
    if (base in CATALOGS) return base;
  }
  return 'en';
}

/** Sets the language of messages. Numbers, money and dates always follow the browser's own locale
 * (the viewer's region: a German browser shows 64,14 € whichever language the words are in). */
export function setLanguage(tag: string, remember = false): void {
  language = tag in CATALOGS ? tag : 'en';
  catalog = { ...en, ...CATALOGS[language] };
  if (remember) localStorage.setItem(STORE, language);
  useLocale(navigator.languages?.[0] ?? navigator.language ?? language);
  document.documentElement.lang = language;
}

export function currentLanguage(): string { return language; }

export function t(key: string, values?: Record<string, string | number>): string {
  const text = catalog[key] ?? en[key as keyof typeof en] ?? key;
  return values ? text.replace(/\{(\w+)\}/g, (_, name: string) => String(values[name] ?? `{${name}}`)) : text;
}
