#!/bin/sh
# Render the gateway's template with the environment (only its own variables: nginx's `$names`
# stay), check the result, then run nginx in the foreground.
set -eu
: "${KASSA_CART_SERVERS:?} ${KASSA_CHECKOUT_SERVERS:?} ${KASSA_WEBHOOKS_SERVERS:?} ${KASSA_TEAM_SERVERS:?}"
export KASSA_GATEWAY_LISTEN="${KASSA_GATEWAY_LISTEN:-8000}"
envsubst '${KASSA_CART_SERVERS} ${KASSA_CHECKOUT_SERVERS} ${KASSA_WEBHOOKS_SERVERS} ${KASSA_TEAM_SERVERS} ${KASSA_GATEWAY_LISTEN}' \
  < /etc/nginx/templates/kassa.conf.template > /etc/nginx/conf.d/kassa.conf
nginx -t -q
exec nginx -g 'daemon off;'
