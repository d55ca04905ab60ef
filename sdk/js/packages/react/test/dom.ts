// A DOM for React in Node (jsdom), installed before react-dom is imported (import this module first).
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body><div id="root"></div></body></html>', { url: 'http://shop.test/' });
for (const name of ['window', 'document', 'navigator', 'HTMLElement', 'HTMLIFrameElement', 'Node', 'MutationObserver']) {
  Object.defineProperty(globalThis, name, { value: (dom.window as unknown as Record<string, unknown>)[name],
                                            configurable: true, writable: true });
}
// Not an act() environment: React commits as a browser would, so a test sees every state the page shows.
(globalThis as { IS_REACT_ACT_ENVIRONMENT?: boolean }).IS_REACT_ACT_ENVIRONMENT = false;
export const root = dom.window.document.getElementById('root')!;
