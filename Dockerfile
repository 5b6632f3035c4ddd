# An ingest node image: `docker build -t telemetry-ingest .`
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src src
COPY ingest ingest
# npm ci runs `prepare`, which compiles TypeScript into dist/.
RUN npm ci --no-audit --no-fund && npm prune --omit=dev

FROM node:20-bookworm-slim
ENV NODE_ENV=production \
    TELEMETRY_DATA_DIR=/data \
    TELEMETRY_KEY_REGISTRY=/data/registry.jwks.json
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME /data
EXPOSE 8080 1883
ENTRYPOINT ["node", "dist/src/cli/bin.js"]
CMD ["serve"]
