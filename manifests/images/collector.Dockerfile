# syntax=docker/dockerfile:1
# The drainwatch collector. Build from the repository root:
#   docker build -f manifests/images/collector.Dockerfile -t ghcr.io/drainwatch/collector:$VERSION .
# ($VERSION is package.json's version, as in manifests/collector/deployment.yaml.)
# test/integration/images.test.ts replays this build and starts the result; docs/kubernetes.md
# holds the size budget it checks.
FROM --platform=$BUILDPLATFORM node:20-alpine AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.collector.json ./
COPY contract ./contract
COPY lib ./lib
COPY collector ./collector
COPY timeline ./timeline
COPY witness ./witness
COPY cli ./cli
COPY scripts/image-dependencies.mjs ./scripts/
# tsconfig.collector.json compiles what cli/collector-main.ts reaches, nothing else; the Lua scripts
# the collector loads at start go beside its compiled code. image-dependencies narrows
# package.json's dependencies to the packages that code imports and prune removes the rest, at the
# lockfile's versions; declarations and source maps go too (as in agent.Dockerfile).
RUN npx tsc -p tsconfig.collector.json \
 && node -e "require('node:fs').cpSync('collector/lua', 'dist/collector/lua', { recursive: true })" \
 && node scripts/image-dependencies.mjs dist/cli/collector-main.js \
 && npm prune --omit=dev --ignore-scripts \
 && find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -delete

# distroless: no shell, no package manager, runs as uid 65532.
FROM gcr.io/distroless/nodejs20-debian12:nonroot
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
USER nonroot
EXPOSE 15090
# A 32 MiB young-generation semi-space (Node's default is at most 16): the collector allocates per
# event and keeps two batches alive, and scavenges of the default size cost about a sixth of its CPU
# (bench/scale.mjs --prefill --semi-space 0 vs 32: about 25,900 vs 30,800 events per CPU-second,
# no higher RSS; docs/scaling.md).
ENTRYPOINT ["/nodejs/bin/node", "--max-semi-space-size=32", "/app/dist/cli/collector-main.js"]
CMD ["collector"]
