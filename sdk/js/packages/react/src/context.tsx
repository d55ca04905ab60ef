import { createContext, useContext, type ReactNode } from 'react';
import { KassaError, type Kassa } from '@kassa/js';

const KassaContext = createContext<Kassa | null>(null);

/** Makes one storefront client (publishable key) available to the hooks below it. */
export function KassaProvider({ kassa, children }: { kassa: Kassa; children?: ReactNode }) {
  return <KassaContext.Provider value={kassa}>{children}</KassaContext.Provider>;
}

export function useKassa(given?: Kassa): Kassa {
  const fromContext = useContext(KassaContext);
  const kassa = given ?? fromContext;
  if (!kassa) throw new KassaError('No Kassa client: wrap the tree in <KassaProvider kassa={…}> or pass { kassa }');
  return kassa;
}
