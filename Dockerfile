# syntax=docker/dockerfile:1
# trailwatch against a ClickHouse server: production dependencies only, no embedded engine, not root.

FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json cli.ts ./
COPY src src
COPY ingest ingest
COPY detectors detectors
COPY run run
RUN npx tsc -p tsconfig.build.json

FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=optional leaves out chdb, the embedded engine: this image always talks to CLICKHOUSE_URL.
RUN npm ci --omit=dev --omit=optional --ignore-scripts && npm cache clean --force
COPY bin bin
COPY --from=build /app/dist dist
COPY rules rules
COPY catalogue catalogue
USER node
EXPOSE 9464
HEALTHCHECK --interval=10s --timeout=3s --retries=6 \
  CMD node -e "fetch('http://127.0.0.1:9464/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"
ENTRYPOINT ["node", "bin/trailwatch.js"]
CMD ["run"]
