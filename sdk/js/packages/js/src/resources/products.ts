import type { HttpClient, RequestOptions } from '../core/http.js';
import { PagePromise, type Page } from '../core/pagination.js';
import type { CartOperations as Op, Product, QueryOf } from '../types.js';

/** Catalog reads (a publishable key may make them). */
export class Products {
  constructor(protected readonly http: HttpClient) {}

  /** `await` it for one page, or `for await` over every product. */
  list(query?: QueryOf<Op['listProducts']>, options?: RequestOptions): PagePromise<Product> {
    return new PagePromise((cursor) => this.http.request<Page<Product>>(
      { ...options, method: 'GET', path: '/api/v1/products', query: { ...query, cursor: cursor ?? query?.cursor } }));
  }

  retrieve(productId: string, options?: RequestOptions): Promise<Product> {
    return this.http.request({ ...options, method: 'GET', path: `/api/v1/products/${encodeURIComponent(productId)}` });
  }
}
