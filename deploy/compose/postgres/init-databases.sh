#!/bin/sh
# First start of the compose PostgreSQL: one login role and one database per service (as on Kubernetes,
# where CloudNativePG does this), and the FACTELEC demo source database read by factelec-sync.
set -eu
password="${CRM_DB_PASSWORD:?CRM_DB_PASSWORD is required}"
for role in attentions tickets notifications reports factelec_sync; do
  psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres \
    -v role="$role" -v password="$password" -v database="crm_$role" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"database" OWNER :"role";
SQL
done
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres <<'SQL'
CREATE DATABASE factelec_demo OWNER factelec_sync;
SQL
