// Entry point: the page passes its settings in <script type="application/json" id="shop-config">.
import { createRoot } from 'react-dom/client';
import { KassaError, KassaApiError } from '@kassa/js';
import { KassaProvider } from '@kassa/react';
import { App, type ShopConfig } from './App.js';
import { createClient, currentCart } from './cart.js';

interface PageConfig extends ShopConfig {
  publishableKey: string;
}

const config = JSON.parse(document.getElementById('shop-config')!.textContent!) as PageConfig;
const root = createRoot(document.getElementById('root')!);
const kassa = createClient(config.kassaUrl, config.publishableKey);

currentCart(kassa, 'EUR').then(
  (cart) => root.render(<KassaProvider kassa={kassa}><App cart={cart} config={config} /></KassaProvider>),
  (error: unknown) => {
    // e.g. OriginNotAllowedError: this page's origin is not in the application's allowedOrigins.
    const code = error instanceof KassaApiError ? error.code : error instanceof KassaError ? error.name : String(error);
    root.render(<p role="alert" id="error">{code}</p>);
  },
);
