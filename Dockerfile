# An ingest node image: `docker build -t telemetry-ingest .`
# The same image runs every `telemetry` command: `serve` (the default), `simulate`, `keys`, `query`.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
# tsconfig.build.json compiles every layer: the CLI imports ingest/ (serve), simulator/ (simulate) and bridge/.
COPY src src
COPY ingest ingest
COPY simulator simulator
COPY bridge bridge
COPY cli cli
# npm ci runs `prepare`, which compiles TypeScript into dist/ and copies the dashboard's static files.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    TELEMETRY_DATA_DIR=/data \
    TELEMETRY_KEY_REGISTRY=/data/registry.jwks.json
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
# `telemetry` on PATH, for `docker compose exec <node> telemetry keys ...`.
RUN chmod 755 dist/cli/bin.js && ln -s /app/dist/cli/bin.js /usr/local/bin/telemetry
# /fleet (a simulated fleet: private keys) and /public-keys (the JWKS files nodes trust) are where
# docker-compose.yml mounts named volumes; created here, owned by the node user, so those volumes are too.
RUN mkdir -p /data /fleet /public-keys && chown node:node /data /fleet /public-keys
USER node
VOLUME /data
EXPOSE 8080 1883
# Exec form, no shell and no npm in between: node is PID 1 and gets `docker stop`'s SIGTERM itself, which drains
# the node (it handles SIGTERM and SIGINT, so PID 1's default of ignoring them does not matter). `docker run --init`
# (compose: `init: true`) puts tini in front to also reap orphaned processes; the node leaves none.
ENTRYPOINT ["node", "dist/cli/bin.js"]
CMD ["serve"]
