-- A lease on shipment jobs so a worker killed mid-call leaves the job to be picked up again.
ALTER TABLE shipments ADD COLUMN IF NOT EXISTS locked_until timestamptz;

-- The catalog the load generator orders from: plenty of stock, and a few SKUs that are out of stock.
INSERT INTO stock (sku, available)
SELECT 'SKU-' || lpad(n::text, 4, '0'), 1000000000 FROM generate_series(1, 100) AS n
ON CONFLICT (sku) DO NOTHING;
INSERT INTO stock (sku, available) VALUES ('SKU-OOS-1', 0), ('SKU-OOS-2', 0) ON CONFLICT (sku) DO NOTHING;
