#!/bin/sh
# Registers and approves the three compose members through the hub's admin API (compose "enrol";
# $STATE_DIR, $HUB_ADDRESS and $CATEGORY default to /state, hub:7443 and microloan). Running it again is harmless: a
# member registered or approved before is left as it is. Any other failure (a missing key, the
# hub refusing) stops it with exit 1, so compose does not start nodes the hub would refuse.
set -eu
S=${STATE_DIR:-/state}
ADMIN="--hub ${HUB_ADDRESS:-hub:7443} --ca $S/certs/ca.pem --cert $S/certs/client-admin_ops.pem"
ADMIN="$ADMIN --key $S/certs/client-admin_ops-key.pem --admin-key $S/keys/admin.pem --admin-name ops"
tries=0
until lianfang admin members $ADMIN list >/dev/null 2>&1; do
  tries=$((tries + 1))
  if [ "$tries" -gt 60 ]; then echo "enrol: the hub did not answer for 2 minutes" >&2; exit 1; fi
  echo "waiting for the hub"
  sleep 2
done
for m in lender-a lender-b lender-c; do
  if ! out=$(lianfang admin members $ADMIN register "$m" --name "$m" --category "${CATEGORY:-microloan}" --public-key "$S/keys/$m.pub" 2>&1); then
    case "$out" in
      *ALREADY_EXISTS*) ;;  # registered before
      *) echo "enrol: $m: $out" >&2; exit 1 ;;
    esac
  fi
  if ! out=$(lianfang admin members $ADMIN approve "$m" 2>&1); then
    if ! lianfang admin members $ADMIN list | grep "\"$m\"" | grep -q MEMBER_STATUS_ACTIVE; then
      echo "enrol: $m: $out" >&2; exit 1  # not just "approved before"
    fi
  fi
done
echo "enrol: lender-a, lender-b and lender-c are active"
