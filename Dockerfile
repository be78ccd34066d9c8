# eos-rollup: the stage and its operator commands in one image.
#   docker build -t eos-rollup .
#   docker run --rm -e KAFKA_BROKERS=... -e SCHEMA_REGISTRY_URL=... eos-rollup            # the stage (run)
#   docker run --rm -e ... eos-rollup topics create --partitions 6                          # any other command
#
# Three stages: `build` compiles TypeScript with the dev dependencies, `prod-deps` installs the production
# dependencies alone, and the runtime stage takes the compiled code from the first and node_modules from the
# second, so neither the compiler nor npm's cache reaches the image.

ARG NODE_IMAGE=node:24-bookworm-slim

# ---- build: compile TypeScript with the dev dependencies --------------------------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# npm ci's postinstall applies patches/ (patch-package) to kafkajs: the image runs the patched client too.
COPY patches ./patches
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY schemas ./schemas
COPY src ./src
# tsconfig also includes test/, integration/, scripts/ and bench/; they are not copied, so only src/ is built
# (rootDir is ".", so the entry point stays dist/src/cli/main.js).
RUN npm run build

# ---- prod-deps: production dependencies only ---------------------------------------------------------------
FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY patches ./patches
RUN npm ci --omit=dev --no-audit --no-fund

# ---- runtime ------------------------------------------------------------------------------------------------
FROM ${NODE_IMAGE}
# tini as PID 1: it forwards SIGTERM to node (the stage stops cleanly on it, within SHUTDOWN_TIMEOUT_MS) and
# reaps zombies. Debian's package installs it as /usr/bin/tini.
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
COPY --from=prod-deps /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
# Read at start (schema-files.ts looks for schemas/ beside package.json).
COPY schemas ./schemas
# The image's `node` user, by number so that Kubernetes' runAsNonRoot can verify it. Files stay root-owned and
# read-only to the process: it writes nothing to disk (a read-only root filesystem works).
USER 1000:1000
# Prometheus /metrics, /healthz and /readyz: METRICS_PORT's default (0 turns the endpoint off).
EXPOSE 9464
# No HEALTHCHECK: the same image runs one-shot commands (topics, produce, audit) that serve no endpoint;
# docker-compose.yml and the Kubernetes probes check the stage's /healthz and /readyz instead.
ENTRYPOINT ["/usr/bin/tini", "--", "node", "dist/src/cli/main.js"]
CMD ["run"]
