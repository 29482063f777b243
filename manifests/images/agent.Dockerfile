# syntax=docker/dockerfile:1
# The drainwatch agent (native sidecar). Build from the repository root:
#   docker build -f manifests/images/agent.Dockerfile -t ghcr.io/drainwatch/agent:$VERSION .
# ($VERSION is package.json's version: the tag `drainwatch inject` puts in pods by default.)
# test/integration/images.test.ts replays this build and starts the result; docs/kubernetes.md
# holds the size budget it checks.
FROM --platform=$BUILDPLATFORM node:20-alpine AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.agent.json ./
COPY contract ./contract
COPY lib ./lib
COPY agent ./agent
COPY cluster ./cluster
COPY cli ./cli
COPY scripts/image-dependencies.mjs ./scripts/
# tsconfig.agent.json compiles what cli/agent-main.ts reaches, nothing else. image-dependencies
# narrows package.json's dependencies to the packages that code imports (lazy imports included)
# and prune removes the rest, at the lockfile's versions; the test loads every import from the
# final tree. TypeScript declarations and source maps go too: node never reads them (no
# --enable-source-maps), and they are half of the packages' bytes (docs/kubernetes.md).
RUN npx tsc -p tsconfig.agent.json \
 && node scripts/image-dependencies.mjs dist/cli/agent-main.js \
 && npm prune --omit=dev --ignore-scripts \
 && find node_modules -type f \( -name '*.d.ts' -o -name '*.d.mts' -o -name '*.d.cts' -o -name '*.map' \) -delete

# distroless: no shell, no package manager, runs as uid 65532.
FROM gcr.io/distroless/nodejs20-debian12:nonroot
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
USER nonroot
EXPOSE 15080 15021
ENTRYPOINT ["/nodejs/bin/node", "/app/dist/cli/agent-main.js"]
CMD ["agent"]
