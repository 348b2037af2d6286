#!/bin/sh
# Makes the consortium's development CA, certificates and keys in /state (or $STATE_DIR), once
# (compose "init"). Production consortia use their own CA and keep private keys in a secret store.
set -eu
S=${STATE_DIR:-/state}
mkdir -p "$S/certs" "$S/keys"
cd "$S"
[ -f certs/ca.pem ] || lianfang certs init --dir certs
[ -f certs/hub.pem ] || lianfang certs issue hub --dir certs --host hub --host localhost
[ -f certs/client-admin_ops.pem ] || lianfang certs issue admin/ops --client --dir certs
[ -f keys/admin.pem ] || lianfang keys new signing keys/admin.pem > keys/admin.pub
[ -f keys/hub-audit.pem ] || lianfang keys new signing keys/hub-audit.pem > keys/hub-audit.pub
[ -f keys/consortium-epoch-1.hex ] || lianfang keys new consortium keys/consortium-epoch-1.hex
for m in lender-a lender-b lender-c; do
  [ -f "certs/node-$m.pem" ] || lianfang certs issue "node-$m" --dir certs --host "$m" --host localhost
  [ -f "certs/client-$m.pem" ] || lianfang certs issue "$m" --client --dir certs
  [ -f "keys/$m.pem" ] || lianfang keys new signing "keys/$m.pem" > "keys/$m.pub"
  [ -f "keys/$m-identity.pem" ] || lianfang keys new signing "keys/$m-identity.pem" > "keys/$m-identity.pub"
done
echo "state ready in $S"
