#!/bin/sh
# Registers and approves the three compose members through the hub's admin API (compose "enrol").
set -eu
S=/state
ADMIN="--hub hub:7443 --ca $S/certs/ca.pem --cert $S/certs/client-admin_ops.pem --key $S/certs/client-admin_ops-key.pem"
ADMIN="$ADMIN --admin-key $S/keys/admin.pem --admin-name ops"
until lianfang admin members $ADMIN list >/dev/null 2>&1; do echo "waiting for the hub"; sleep 2; done
for m in lender-a lender-b lender-c; do
  lianfang admin members $ADMIN register "$m" --name "$m" --public-key "$S/keys/$m.pub" || true  # already registered
  lianfang admin members $ADMIN approve "$m" || true  # already active
done
