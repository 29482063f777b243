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
# tsconfig.agent.json compiles what cli/agent-main.ts reaches, nothing else. The uninstall drops
# the dev dependencies and the runtime ones only the other commands load (the test imports every
# module the entrypoint reaches from the final tree, so a needed one cannot go missing unseen).
RUN npx tsc -p tsconfig.agent.json \
 && npm uninstall --no-save --omit=dev --ignore-scripts @grafana/grafana-foundation-sdk kubernetes-models @kubernetes-models/validate @opentelemetry/sdk-node echarts express ioredis undici ws yaml

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
