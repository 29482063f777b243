# syntax=docker/dockerfile:1
# The drainwatch collector. Build from the repository root:
#   docker build -f manifests/images/collector.Dockerfile -t ghcr.io/drainwatch/collector:0.1.0 .
FROM node:20-alpine AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json ./
COPY contract ./contract
COPY lib ./lib
COPY agent ./agent
COPY collector ./collector
COPY probe ./probe
COPY cluster ./cluster
COPY kube ./kube
COPY witness ./witness
COPY cli ./cli
RUN npm run build && npm prune --omit=dev

# distroless: no shell, no package manager, runs as uid 65532.
FROM gcr.io/distroless/nodejs20-debian12:nonroot
WORKDIR /app
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
USER nonroot
EXPOSE 15090
ENTRYPOINT ["/nodejs/bin/node", "/app/dist/cli/main.js"]
CMD ["collector"]
