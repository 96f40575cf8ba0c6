# jabmon component and agent image (node 20). Used by docker-compose.yml.
# Build stage: the TypeScript compiler and type packages are dev dependencies.
FROM node:20-bookworm-slim AS build
WORKDIR /opt/jabmon
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/copy-lua.mjs ./scripts/
COPY src ./src
RUN npm run build

# Runtime stage: production dependencies, the compiled code, and the files it
# reads at run time (status page assets, the default badness rules).
FROM node:20-bookworm-slim
WORKDIR /opt/jabmon
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund
COPY --from=build /opt/jabmon/dist ./dist
COPY public ./public
COPY rules ./rules
COPY docs ./docs
# The agent runs as `node`: its spool (JABMON_AGENT_SPOOL_DIR defaults to
# /var/lib/jabmon/spool/<jid>) and its socket directory must exist and be its
# own before it drops root, or it cannot start. docker-compose.yml mounts a
# named volume on /var/lib/jabmon; Docker fills a new named volume from this
# directory, ownership included, so the spool survives container rebuilds.
RUN mkdir -p /var/lib/jabmon/spool /run/jabmon \
  && chown -R node:node /var/lib/jabmon /run/jabmon \
  && chmod 0700 /var/lib/jabmon/spool
USER node
ENTRYPOINT ["node", "dist/cli/main.js"]
