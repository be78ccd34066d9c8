# eos-rollup: the stage and its operator commands in one image.
#   docker build -t eos-rollup .
#   docker run --rm -e KAFKA_BROKERS=... -e SCHEMA_REGISTRY_URL=... eos-rollup            # the stage (run)
#   docker run --rm -e ... eos-rollup topics create --partitions 6                          # any other command

# ---- build: compile TypeScript with the dev dependencies --------------------------------------------------
FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY schemas ./schemas
COPY src ./src
# tsconfig also includes test/, integration/, scripts/ and bench/; they are not copied, so only src/ is built.
RUN npm run build

# ---- runtime: production dependencies, compiled code and the Avro schemas ---------------------------------
FROM node:20-slim
RUN apt-get update \
  && apt-get install -y --no-install-recommends tini \
  && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# Read at start (schema-files.ts looks for schemas/ beside package.json).
COPY schemas ./schemas
# Files stay root-owned and read-only to the process; it writes nothing to disk.
USER node
# Prometheus /metrics and health endpoints (METRICS_PORT).
EXPOSE 9464
# tini forwards SIGTERM to node (the stage stops cleanly on it) and reaps zombies.
ENTRYPOINT ["tini", "--", "node", "dist/src/cli/main.js"]
CMD ["run"]
