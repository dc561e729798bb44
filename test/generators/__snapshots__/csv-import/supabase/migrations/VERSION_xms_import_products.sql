-- xms CSV import for app.products (written by `xms add csv-import products`).
-- key: natural key (sku)
--
-- De-duplication by the natural key (sku), unique within a tenant: INSERT ... ON CONFLICT
-- DO NOTHING skips rows whose key the tenant already has.

set role xms_owner;
create unique index if not exists products_tenant_id_sku_key on app.products (tenant_id, sku);
reset role;
