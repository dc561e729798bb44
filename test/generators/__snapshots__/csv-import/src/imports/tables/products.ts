import type { ImportTable } from '../types.js';

/** app.products from CSV (written by `xms add csv-import products`); de-duplicated by natural key (sku). */
export const products: ImportTable = {
  table: 'products',
  columns: [
    { name: 'sku', type: 'text', required: true, nullable: false },
    { name: 'qty', type: 'int', required: true, nullable: false },
    { name: 'notes', type: 'text', required: false, nullable: true },
  ],
  key: ['sku'],
  owner: 'owner_id',
};
