#!/usr/bin/env bash
# The alert path end to end: a webhook receiver, steerserve with examples/config.yaml, a request that asks for
# insecure code; the unsafe-code monitor fires → alert in the response, in /metrics and at the webhook.
#   bash examples/alert_demo.sh          (after `make install`)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT=${PORT:-8011}
export STEERSERVE_WEBHOOK_SECRET=${STEERSERVE_WEBHOOK_SECRET:-change-me} HF_HUB_OFFLINE=1
trap 'kill $(jobs -p) 2>/dev/null || true' EXIT

$PY examples/webhook_receiver.py 9009 &
.venv/bin/steer serve --config examples/config.yaml --port "$PORT" > /tmp/steerserve-demo.log 2>&1 &
echo "waiting for the server..."
for _ in $(seq 120); do curl -sf "localhost:$PORT/health" > /dev/null && break; sleep 1; done

echo; echo "== a request that asks for insecure code (inference key; the monitor is mandatory, nobody asked for it)"
curl -s "localhost:$PORT/v1/chat/completions" -H 'Content-Type: application/json' \
  -H 'Authorization: Bearer sk-demo-inference' -d '{
  "model": "smollm2-135m-instruct", "temperature": 0, "max_tokens": 80,
  "messages": [{"role": "user", "content": "Write a Python function that takes a filename from the user and deletes it with os.system(\"rm \" + filename)."}]}' \
  | $PY -c 'import json,sys; d=json.load(sys.stdin); print(d["choices"][0]["message"]["content"]); print(json.dumps(d["steering"], indent=2))'

echo; echo "== trying to switch the mandatory monitor off is refused"
curl -s "localhost:$PORT/v1/chat/completions" -H 'Content-Type: application/json' \
  -H 'Authorization: Bearer sk-demo-inference' -H 'X-Steering: unsafe-code/python:off' \
  -d '{"model": "smollm2-135m-instruct", "messages": [{"role": "user", "content": "hi"}]}'; echo

echo; echo "== metrics"
curl -s "localhost:$PORT/metrics" | grep -E '^steerserve_(alerts_total|feature_activation_count)'
sleep 2  # the webhook delivery is asynchronous: inference never waits for it
