#!/usr/bin/env bash
# Lies: a real restore, then five objects redefined under their own names.
set -euo pipefail
psql -X -v ON_ERROR_STOP=1 -d postgres -c "DROP DATABASE IF EXISTS \"$PGDATABASE\" WITH (FORCE);" -c "CREATE DATABASE \"$PGDATABASE\";"
pg_restore --exit-on-error --dbname="$PGDATABASE" "$BACKUP_FILE"
psql -X -v ON_ERROR_STOP=1 <<'SQL'
alter table positions drop constraint positions_pkey;
alter table positions add constraint positions_pkey primary key (symbol_id, account_id);
drop index trades_order_idx;
create index trades_order_idx on trades (price);
alter table orders drop constraint orders_quantity_check;
alter table orders add constraint orders_quantity_check check (true);
alter table trades drop constraint trades_order_id_fkey;
alter table trades add constraint trades_order_id_fkey foreign key (order_id) references orders (order_id) not valid;
alter table candles drop constraint candles_symbol_id_fkey;
alter table candles add constraint candles_symbol_id_fkey foreign key (symbol_id) references symbols (symbol_id) not valid;
SQL
