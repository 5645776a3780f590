# The one image every Kosmos component runs from: `kosmos <component> [flags]` is the
# container's args (extender, webhooks, clustertree, network-manager, agent, elector,
# mcs-controller, mcs-dns). deploy/ and config/ ship inside so `kosmosctl install` run from
# the image renders the same manifests.
FROM node:24-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY deploy ./deploy
COPY config ./config
# The ClusterLink agent needs iptables-restore and ip; `kosmosctl check` runs its probes from
# this image too, and they ping. The other components use none of them.
RUN apt-get update && apt-get install -y --no-install-recommends iptables iproute2 iputils-ping \
  && rm -rf /var/lib/apt/lists/*
# uid 1000 is the image's `node` user; manifests set runAsUser to match (the agent runs as 0).
USER 1000
ENTRYPOINT ["node", "/app/dist/cli/main.js"]
